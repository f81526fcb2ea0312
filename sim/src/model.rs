//! Identity profiles of well-known modems, so that detection code (ATI,
//! +GMM and friends) is tested against more than one answer.
//!
//! The texts follow the shape of what these modems print; they are not
//! dumps of real firmware.

/// What a modem says about itself, and what it defaults to.
#[derive(Debug, PartialEq, Eq)]
pub struct Model {
    /// The name used in configuration files (`model = "usr-courier"`).
    pub id: &'static str,
    pub description: &'static str,
    /// ATI0 to ATI9; lines separated by `\n`; an empty string means the
    /// command answers only with its result code.
    pub info: [&'static str; 10],
    pub gmi: &'static str,
    pub gmm: &'static str,
    pub gmr: &'static str,
    pub gcap: &'static str,
    /// The speed reported in CONNECT and carried on the line unless the
    /// configuration says otherwise.
    pub speed: u32,
    /// Longest command line after `AT`, not counting spaces; longer
    /// lines are refused with ERROR, like the modem's buffer would.
    pub max_line: usize,
    /// Factory settings that differ from the Hayes defaults, as a command
    /// line run at power-on and by AT&F.
    pub factory: &'static str,
    /// Which commands turn caller ID delivery on, if any.
    pub caller_id: CallerIdCommands,
}

/// The commands a modem takes for caller ID delivery: `+VCID` of IS-101
/// (later V.253), `#CID` of the Rockwell command set, or none (a data
/// modem without the CID decoder answers ERROR to both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallerIdCommands {
    pub vcid: bool,
    pub hash_cid: bool,
}

impl CallerIdCommands {
    pub const NONE: CallerIdCommands = CallerIdCommands {
        vcid: false,
        hash_cid: false,
    };
    pub const BOTH: CallerIdCommands = CallerIdCommands {
        vcid: true,
        hash_cid: true,
    };
    pub const VCID: CallerIdCommands = CallerIdCommands {
        vcid: true,
        hash_cid: false,
    };
}

pub const USR_COURIER: Model = Model {
    id: "usr-courier",
    description: "USRobotics Courier V.Everything (V.34+, 33600 bit/s)",
    info: [
        "3361",
        "F7A2",
        "",
        "USRobotics Courier V.Everything",
        "USRobotics Courier V.Everything Settings...",
        "USRobotics Courier V.Everything NVRAM Settings...",
        "USRobotics Courier V.Everything Link Diagnostics...",
        "USRobotics Courier V.Everything Configuration Profile...\n\
         Product type           US/Canada External\n\
         Options                HST,V32bis,Terbo,VFC,V34+,V.FC\n\
         Fax Options            Class 1/Class 2.0\n\
         Clock Freq             25.0Mhz\n\
         EPROM                  256k\n\
         RAM                    64k\n\
         Supervisor date        10/04/96\n\
         DSP date               10/04/96\n\
         Supervisor rev         7.1.8\n\
         DSP rev                1.5.4",
        "",
        "",
    ],
    gmi: "U.S. Robotics",
    gmm: "Courier V.Everything",
    gmr: "Supervisor rev 7.1.8",
    gcap: "+GCAP: +FCLASS",
    speed: 33600,
    max_line: 58,
    factory: "S7=60",
    // A data/fax modem: no caller ID decoder.
    caller_id: CallerIdCommands::NONE,
};

pub const HAYES_ACCURA: Model = Model {
    id: "hayes-accura",
    description: "Hayes Accura 56K + FAX (V.90, 56000 bit/s)",
    info: [
        "56000",
        "255",
        "",
        "Hayes Accura 56K + FAX V.90",
        "a00784C4",
        "",
        "Hayes Microcomputer Products, Inc.",
        "",
        "",
        "",
    ],
    gmi: "Hayes Microcomputer Products, Inc.",
    gmm: "Accura 56K + FAX V.90",
    gmr: "R1.08",
    gcap: "+GCAP: +FCLASS,+MS,+ES,+DS",
    speed: 56000,
    max_line: 60,
    factory: "",
    caller_id: CallerIdCommands::BOTH,
};

pub const CONEXANT_HSF: Model = Model {
    id: "conexant-hsf",
    description: "Conexant HSF softmodem (CX11252, V.92, 56000 bit/s)",
    info: [
        "56000",
        "",
        "",
        "CX11252-11 HSF V.92 Data/Fax Modem Version 7.80.4.0",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    gmi: "CONEXANT",
    gmm: "V92",
    gmr: "7.80.4.0",
    gcap: "+GCAP: +FCLASS,+MS,+ES,+DS",
    speed: 56000,
    max_line: 60,
    factory: "",
    caller_id: CallerIdCommands::BOTH,
};

pub const USR_5637: Model = Model {
    id: "usr-5637",
    description: "U.S. Robotics 56K USB Modem USR5637 (reports the DTE rate, 115200)",
    info: [
        "5601",
        "0F3D",
        "",
        "U.S. Robotics 56K FAX USB V1.2.23",
        "",
        "",
        "",
        "Product type           USB\n\
         Options                V.92,V.90,V.34,V.32bis\n\
         Firmware               V1.2.23",
        "",
        "",
    ],
    gmi: "U.S. Robotics",
    gmm: "USR5637",
    gmr: "1.2.23",
    gcap: "+GCAP: +FCLASS,+MS,+ES,+DS,+MV",
    speed: 115200,
    max_line: 58,
    factory: "",
    caller_id: CallerIdCommands::VCID,
};

/// Every model the simulator knows, the default first.
pub const MODELS: [&Model; 4] = [&HAYES_ACCURA, &USR_COURIER, &CONEXANT_HSF, &USR_5637];

pub fn by_id(id: &str) -> Option<&'static Model> {
    MODELS
        .iter()
        .copied()
        .find(|m| m.id.eq_ignore_ascii_case(id))
}

pub fn default_model() -> &'static Model {
    MODELS[0]
}

/// The known ids, for error messages.
pub fn ids() -> String {
    MODELS.iter().map(|m| m.id).collect::<Vec<_>>().join(", ")
}
