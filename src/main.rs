//! The `carrier` command line. Exit codes follow pppd(8) where pppd has
//! one (see README.md, "Exit codes").

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use carrier::events::Format;
use carrier::inbound::AuthKind;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

mod cmd;

/// The TUN interface's name unless the profile or --ifname says otherwise.
pub const DEFAULT_IFNAME: &str = carrier::profile::DEFAULT_IFNAME;

/// The longest time any option takes, in seconds (about 31 years; the
/// same bound as a profile's). Beyond it a deadline would overflow the
/// clock: such a value is refused as a usage error instead.
pub use carrier::profile::MAX_SECONDS;

/// A secret given on the command line: its `Debug` never shows it.
#[derive(Clone)]
pub struct CliSecret(String);

impl CliSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for CliSecret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(CliSecret(s.to_string()))
    }
}

impl std::fmt::Debug for CliSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

use cmd::common::EXIT_FATAL;

#[derive(Parser, Debug)]
#[command(name = "carrier", version, about = "Modem dialer and PPP stack")]
pub struct Cli {
    /// -v logs every frame in and out, decoded; -vv the state machines too.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// `human` lines, or one JSON object per line for programs.
    #[arg(long, value_enum, default_value_t = EventsArg::Human, global = true)]
    pub events: EventsArg,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Call out: bring up PPP as the client (PAP/CHAP peer, address by IPCP).
    /// With no --device, dials the built-in simulator.
    Dial(Box<DialArgs>),
    /// Take a call: PPP as the authenticator, giving the caller its address.
    Answer(Box<AnswerArgs>),
    /// The built-in simulator's call: dial a number list (first busy) to
    /// an access server, PAP, IPCP, and the fenced service address.
    Demo(DemoArgs),
    /// Find modems on serial ports (all of them, or those given) and
    /// identify them, without going off-hook.
    Detect(DetectArgs),
    /// The one-time enablement of an inbound service call.
    #[command(subcommand)]
    Inbound(InboundCommand),
}

#[derive(Subcommand, Debug)]
pub enum InboundCommand {
    /// Allow one service call: records what the caller may reach and
    /// prints the caller's credentials, once.
    Enable(EnableArgs),
    /// Revoke the enablement now; hangs up a call in progress.
    Disable(StateDirArg),
    /// Show whether inbound service is enabled, consumed or disabled.
    Status(StateDirArg),
}

#[derive(Args, Debug, Clone)]
pub struct StateDirArg {
    /// Where the enablement is kept.
    #[arg(long, env = "CARRIER_STATE_DIR", default_value = "/var/lib/carrier")]
    pub state_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct EnableArgs {
    #[command(flatten)]
    pub dir: StateDirArg,
    /// The console's address on the link.
    #[arg(long)]
    pub ppp_local: Ipv4Addr,
    /// The address given to the caller.
    #[arg(long)]
    pub ppp_remote: Ipv4Addr,
    /// A partition the caller may reach: NAME=ADDRESS[@ALIAS]. The alias
    /// defaults to host .11, .12, ... of the --ppp-local /24, in order.
    #[arg(long, value_name = "NAME=ADDR[@ALIAS]")]
    pub partition: Vec<String>,
    /// Let the caller reach the console itself, on the service ports only.
    #[arg(long)]
    pub console_access: bool,
    /// How the caller authenticates.
    #[arg(long, value_enum, default_value_t = AuthArg::Chap)]
    pub auth: AuthArg,
    /// Take the call only from this number, by caller ID (a trailing *
    /// matches a prefix); repeatable. `answer --inbound` then needs a
    /// modem that delivers caller ID. [default: any caller]
    #[arg(long, value_name = "NUMBER")]
    pub allow_caller: Vec<String>,
    /// Let the call carry IPv6 too (IPv6CP, link-local addresses): the
    /// console's firewall then holds for IPv6 as for IPv4. [default: IPv4
    /// only; all IPv6 from the link is dropped]
    #[arg(long)]
    pub ipv6: bool,
}

/// `--events`: the library's [`Format`], named for the command line.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum EventsArg {
    Human,
    Json,
}

impl From<EventsArg> for Format {
    fn from(e: EventsArg) -> Self {
        match e {
            EventsArg::Human => Format::Human,
            EventsArg::Json => Format::Json,
        }
    }
}

/// `inbound enable --auth`: the library's [`AuthKind`].
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum AuthArg {
    Chap,
    Pap,
}

impl From<AuthArg> for AuthKind {
    fn from(a: AuthArg) -> Self {
        match a {
            AuthArg::Chap => AuthKind::Chap,
            AuthArg::Pap => AuthKind::Pap,
        }
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FlowArg {
    Rtscts,
    Xonxoff,
    None,
}

impl From<FlowArg> for carrier_hw::Flow {
    fn from(f: FlowArg) -> Self {
        match f {
            FlowArg::Rtscts => carrier_hw::Flow::RtsCts,
            FlowArg::Xonxoff => carrier_hw::Flow::XonXoff,
            FlowArg::None => carrier_hw::Flow::None,
        }
    }
}

#[derive(Args, Debug)]
pub struct LineArgs {
    /// The serial device (or PTY) of the line.
    #[arg(long)]
    pub device: Option<PathBuf>,
    /// A null-modem line: no AT commands, PPP at once (pppd's `local`).
    #[arg(long)]
    pub direct: bool,
    /// Line speed in bit/s (a PTY ignores it).
    #[arg(long)]
    pub speed: Option<u32>,
    /// Flow control: rtscts (pppd's crtscts), xonxoff, or none. [default: none]
    #[arg(long, value_enum)]
    pub flow: Option<FlowArg>,
    /// Write every PPP frame to this pcap file (link type 204).
    #[arg(long)]
    pub pcap: Option<PathBuf>,
    /// Name of the TUN interface created when IP comes up (pppd's `ifname`).
    /// [default: carrier0]
    #[arg(long, value_parser = parse_ifname)]
    pub ifname: Option<String>,
    /// Create no IP interface: bring the link up only.
    #[arg(long)]
    pub no_tun: bool,
}

impl LineArgs {
    /// `--ifname`, else [`DEFAULT_IFNAME`], for commands that read no
    /// profile.
    pub fn ifname(&self) -> &str {
        self.ifname.as_deref().unwrap_or(DEFAULT_IFNAME)
    }
}

/// Options in pppd's spirit, with pppd's names.
#[derive(Args, Debug, Clone)]
pub struct PppArgs {
    /// Maximum receive unit to ask for.
    /// [default: 1500]
    #[arg(long, value_parser = clap::value_parser!(u16).range(128..=16384))]
    pub mru: Option<u16>,
    /// Receive async control character map to ask for (hex). [default: 0]
    #[arg(long, value_parser = parse_hex_u32)]
    pub asyncmap: Option<u32>,
    /// Send an LCP Echo-Request every N seconds (0: never).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub lcp_echo_interval: Option<u64>,
    /// Declare the peer dead after N unanswered Echo-Requests.
    /// [default: 4]
    #[arg(long, value_name = "N")]
    pub lcp_echo_failure: Option<u32>,
    /// Echo only when the peer has sent nothing since the last echo.
    #[arg(long)]
    pub lcp_echo_adaptive: bool,
    /// LCP/IPCP restart timer, seconds.
    #[arg(long, value_name = "S", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub lcp_restart: u64,
    /// Configure-Requests before giving up.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub lcp_max_configure: u32,
    /// Terminate-Requests before giving up.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub lcp_max_terminate: u32,
    /// Naks before rejecting instead.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub lcp_max_failure: u32,
    /// Keep waiting for the peer after Max-Configure requests.
    #[arg(long)]
    pub passive: bool,
    /// Do not negotiate a magic number.
    #[arg(long)]
    pub nomagic: bool,
    /// Do not ask for address/control field compression.
    #[arg(long)]
    pub noaccomp: bool,
    /// Do not ask for protocol field compression.
    #[arg(long)]
    pub nopcomp: bool,
    /// Negotiate IPv6CP (pppd's `+ipv6`): link-local IPv6 over the link.
    /// With LOCAL,REMOTE (pppd's `ipv6 ::1,::2`) fix either identifier;
    /// otherwise ours is random.
    #[arg(long, value_name = "LOCAL,REMOTE", num_args = 0..=1, default_missing_value = "")]
    pub ipv6: Option<String>,
    /// No IPv6CP, whatever the profile says (pppd's `noipv6`, the default).
    #[arg(long, conflicts_with = "ipv6")]
    pub noipv6: bool,
    /// Take the identifier the peer suggests even if LOCAL was given.
    #[arg(long)]
    pub ipv6cp_accept_local: bool,
    /// Let the peer keep its identifier even if REMOTE was given.
    #[arg(long)]
    pub ipv6cp_accept_remote: bool,
    /// No IPCP: IPv6 alone (pppd's `noip`; needs --ipv6).
    #[arg(long)]
    pub noip: bool,
    /// No Van Jacobson TCP/IP header compression (RFC 1144), either way.
    #[arg(long)]
    pub novj: bool,
    /// VJ connection slots to offer the peer, 2-16 (pppd's `vj-max-slots`).
    /// [default: 16]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=16))]
    pub vj_max_slots: Option<u8>,
    /// Never leave the connection number out of VJ headers, and do not
    /// ask the peer to (pppd's `novjccomp`).
    #[arg(long)]
    pub novjccomp: bool,
    /// No CCP at all (pppd's `noccp`): no Deflate, no BSD-Compress, and the
    /// peer's CCP is Protocol-Rejected.
    #[arg(long)]
    pub noccp: bool,
    /// Deflate window sizes (RFC 1979), as pppd's `deflate R,A`: ask the
    /// peer to compress towards us with 2^R, compress towards it with at
    /// most 2^A; 9-15, 0 for not that way. [default: 15,15]
    #[arg(long, value_name = "R[,A]", value_parser = carrier::ppp::ccp::Sizes::parse)]
    pub deflate: Option<carrier::ppp::ccp::Sizes>,
    /// No Deflate either way (pppd's `nodeflate`).
    #[arg(long, conflicts_with = "deflate")]
    pub nodeflate: bool,
    /// Neither offer nor accept Deflate under the draft's option number
    /// 24, only RFC 1979's 26 (pppd's `nodeflatedraft`).
    #[arg(long)]
    pub nodeflatedraft: bool,
    /// BSD-Compress code sizes (RFC 1977), as pppd's `bsdcomp R,A`; 9-15,
    /// 0 for not that way. [default: 15,15]
    #[arg(long, value_name = "R[,A]", value_parser = carrier::ppp::ccp::Sizes::parse)]
    pub bsdcomp: Option<carrier::ppp::ccp::Sizes>,
    /// No BSD-Compress either way (pppd's `nobsdcomp`).
    #[arg(long, conflicts_with = "bsdcomp")]
    pub nobsdcomp: bool,
}

/// pppd's /etc/ppp scripts (ip-up and friends), with pppd's names.
#[derive(Args, Debug, Clone)]
pub struct HookArgs {
    /// Where auth-up, ip-pre-up, ip-up, ip-down, ipv6-up, ipv6-down and
    /// auth-down are looked for; missing ones are skipped, as pppd does.
    #[arg(long, value_name = "DIR", env = "CARRIER_HOOKS_DIR", default_value = carrier::hooks::DEFAULT_DIR)]
    pub hooks_dir: PathBuf,
    /// The last argument of ip-up/ip-down/ipv6-up/ipv6-down (pppd's
    /// `ipparam`).
    #[arg(long, value_name = "STRING")]
    pub ipparam: Option<String>,
    /// LINKNAME in the scripts' environment (pppd's `linkname`).
    #[arg(long, value_name = "NAME")]
    pub linkname: Option<String>,
    /// Kill a script still running after S seconds; the link carries on.
    #[arg(long, value_name = "S", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=MAX_SECONDS))]
    pub hook_timeout: u64,
}

impl HookArgs {
    pub fn config(&self, call_file: Option<&str>) -> carrier::hooks::HookConfig {
        carrier::hooks::HookConfig {
            dir: self.hooks_dir.clone(),
            ipparam: self.ipparam.clone(),
            linkname: self.linkname.clone(),
            call_file: call_file.map(str::to_string),
            timeout: std::time::Duration::from_secs(self.hook_timeout),
        }
    }
}

#[derive(Args, Debug)]
pub struct DialArgs {
    #[command(flatten)]
    pub line: LineArgs,
    #[command(flatten)]
    pub ppp: PppArgs,
    #[command(flatten)]
    pub hooks: HookArgs,
    /// Our name for PAP/CHAP.
    #[arg(long)]
    pub user: Option<String>,
    /// Our password. Visible to other users in `ps`: prefer --password-file.
    #[arg(long, conflicts_with = "password_file")]
    pub password: Option<CliSecret>,
    /// A file holding our password (mode 600), first line.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// A pppd-format secrets file to find our secret in.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// The authenticator's name for secrets lookups (pppd's `remotename`).
    #[arg(long)]
    pub remotename: Option<String>,
    /// Ask the peer for DNS servers and report them.
    #[arg(long)]
    pub usepeerdns: bool,
    /// Require the peer to authenticate itself with PAP.
    #[arg(long)]
    pub require_pap: bool,
    /// Require the peer to authenticate itself with CHAP-MD5.
    #[arg(long)]
    pub require_chap: bool,
    /// Do not require the peer to authenticate (the default for dialing).
    #[arg(long, conflicts_with_all = ["require_pap", "require_chap"])]
    pub noauth: bool,
    #[command(flatten)]
    pub modem: ModemArgs,
}

/// Dialing through a modem; each overrides the profile's field.
#[derive(Args, Debug, Default)]
pub struct ModemArgs {
    /// A profile from the config directory (`NAME.toml`; see README).
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub profile: Option<String>,
    /// A profile file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An access number, tried in the order given: NUMBER or NUMBER=LABEL.
    #[arg(long, value_name = "NUMBER[=LABEL]")]
    pub number: Vec<String>,
    /// A modem init command (each must answer OK); replaces the profile's.
    #[arg(long, value_name = "AT...")]
    pub init: Vec<String>,
    /// Dialed before every number, e.g. `9,` for an outside line.
    #[arg(long, value_name = "PREFIX")]
    pub dial_prefix: Option<String>,
    /// Pulse dialing (ATDP) instead of tone.
    #[arg(long)]
    pub pulse: bool,
    /// Further passes over the number list after the first.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Seconds between passes over the list.
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub backoff: Option<u64>,
    /// Seconds the whole dialing attempt may take.
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub deadline: Option<u64>,
    /// Seconds to wait for CONNECT after dialing a number.
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub connect_timeout: Option<u64>,
    /// A chat(8) script to run instead of the built-in dialer (\T is the
    /// first number).
    #[arg(long, value_name = "FILE")]
    pub connect_script: Option<PathBuf>,
    /// Redial after the link drops (pppd's `persist`).
    #[arg(long)]
    pub persist: bool,
    /// Seconds to wait before redialing. [default: 30]
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub holdoff: Option<u64>,
    /// Give up after N consecutive failed calls; 0 never. [default: 10]
    #[arg(long, value_name = "N")]
    pub maxfail: Option<u32>,
    /// Hang up after S seconds without IP traffic.
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub idle: Option<u64>,
    /// Add a default route through the link when IP comes up.
    #[arg(long)]
    pub defaultroute: bool,
    /// A default IPv6 route through the link when IPv6CP opens, unless
    /// one exists (pppd's `defaultroute6`).
    #[arg(long)]
    pub defaultroute6: bool,
    /// pppd's `demand`: create the interface now (addresses
    /// 10.64.64.64/10.112.112.112 until IPCP gives the real ones) and dial
    /// when the host sends traffic through it; hang up on --idle and wait
    /// again. Implies --persist.
    #[arg(long)]
    pub demand: bool,
    /// What counts as activity for --demand and --idle, in a subset of
    /// tcpdump's language (pppd's `active-filter`), e.g. `tcp port 443 or
    /// icmp`; `outbound` counts only what the host sends, `inbound` only
    /// what the peer does. [default: everything but the host's own
    /// chatter: multicast, broadcast, IGMP, IPv6 neighbour discovery and
    /// MLD]
    #[arg(long, value_name = "EXPR")]
    pub active_filter: Option<String>,
    /// Datagrams held while a demand call comes up; beyond that the kernel
    /// drops them. [default: 32]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub demand_queue: Option<u32>,
    /// With --usepeerdns: write the peer's DNS servers to FILE as a
    /// resolv.conf while IP is up (pppd: /etc/ppp/resolv.conf); removed
    /// when IP goes down.
    #[arg(long, value_name = "FILE")]
    pub resolv_conf: Option<PathBuf>,
    /// Where UUCP lock files go. [default: /var/lock]
    #[arg(long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AnswerArgs {
    #[command(flatten)]
    pub line: LineArgs,
    #[command(flatten)]
    pub ppp: PppArgs,
    #[command(flatten)]
    pub hooks: HookArgs,
    /// Our name as authenticator (CHAP Name, secrets lookups).
    #[arg(long, default_value = "carrier")]
    pub name: String,
    /// pppd-format secrets file of the callers we accept (mode 600).
    #[arg(long, value_name = "FILE", required_unless_present = "inbound")]
    pub secrets: Option<PathBuf>,
    /// Serve the one inbound service call that `carrier inbound enable`
    /// allowed: its credentials, addresses, partitions and firewall.
    #[arg(long, conflicts_with_all = ["secrets", "local", "remote"])]
    pub inbound: bool,
    #[command(flatten)]
    pub state: StateDirArg,
    /// Authenticate the caller with PAP (default: CHAP-MD5).
    #[arg(long)]
    pub require_pap: bool,
    /// Authenticate the caller with CHAP-MD5.
    #[arg(long)]
    pub require_chap: bool,
    /// Our address on the link.
    #[arg(long, required_unless_present = "inbound")]
    pub local: Option<Ipv4Addr>,
    /// The address given to the caller; without it, the one address the
    /// caller's secrets line names, else the caller's own choice (one its
    /// line allows).
    #[arg(long)]
    pub remote: Option<Ipv4Addr>,
    /// DNS server offered to the caller (up to two).
    #[arg(long, value_name = "IP")]
    pub ms_dns: Vec<Ipv4Addr>,
    #[command(flatten)]
    pub modem: AnswerModemArgs,
}

/// Answering through a modem (without --direct).
#[derive(Args, Debug)]
pub struct AnswerModemArgs {
    /// After a call, wait for the next one (as mgetty does); SIGTERM or
    /// Ctrl-C stops. Not with --inbound, which is one call by design.
    #[arg(long, conflicts_with = "inbound")]
    pub persist: bool,
    /// Answer (ATA) after this many RINGs, counted by carrier (S0=0).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub rings: u8,
    /// Let the modem answer by itself after N rings (ATS0=N) instead.
    #[arg(long, value_name = "N", conflicts_with = "rings")]
    pub modem_answers: Option<u8>,
    /// Answer only calls from this number, by caller ID (a trailing *
    /// matches a prefix); repeatable. Turns on caller ID (AT+VCID=1, else
    /// AT#CID=1); not with --modem-answers. [default: any caller]
    #[arg(long, value_name = "NUMBER")]
    pub allow_caller: Vec<String>,
    /// Modem init commands (each must answer OK). [default: ATZ, ATQ0 V1 E1]
    #[arg(long, value_name = "AT...")]
    pub init: Vec<String>,
    /// Give up waiting for a call after S seconds. [default: wait for ever]
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub wait: Option<u64>,
    /// Where UUCP lock files go. [default: /var/lock]
    #[arg(long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Ports to probe. [default: every serial port found]
    pub ports: Vec<PathBuf>,
    /// Seconds for the whole detection.
    #[arg(long, value_name = "S", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub timeout: u64,
    /// Speeds to try, in order. [default: 115200 57600 38400 19200 9600]
    #[arg(long, value_name = "BPS")]
    pub speed: Vec<u32>,
    /// Where UUCP lock files go. [default: /var/lock]
    #[arg(long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Simulated line rate, bit/s.
    #[arg(long, default_value_t = 33600)]
    pub bitrate: u32,
    /// One-way latency of the simulated line, milliseconds.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub latency_ms: u64,
    /// Hang up after this many seconds at the latest, seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(..=MAX_SECONDS))]
    pub hold: u64,
    /// Capture the dialing side's frames to this pcap file.
    #[arg(long)]
    pub pcap: Option<PathBuf>,
}

impl DemoArgs {
    fn default_for(dial: &DialArgs) -> DemoArgs {
        DemoArgs {
            bitrate: 33600,
            latency_ms: 50,
            hold: 30,
            pcap: dial.line.pcap.clone(),
        }
    }
}

fn parse_ifname(s: &str) -> Result<String, String> {
    carrier::profile::check_ifname(s).map(|()| s.to_string())
}

fn parse_hex_u32(s: &str) -> Result<u32, String> {
    let t = s.trim_start_matches("0x").trim_start_matches("0X");
    u32::from_str_radix(t, 16).map_err(|e| format!("{s:?} is not a hex number: {e}"))
}

fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => "warn",
        1 => "info,carrier::frame=debug",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CARRIER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// The `dial` flags the built-in demo honours: `--no-tun` because it
/// makes no interface anyway.
const DEMO_TAKES: [&str; 2] = ["pcap", "no_tun"];

/// The `dial` flags given on the command line that the built-in demo
/// would ignore, as the user spells them.
fn ignored_by_demo(dial: &ArgMatches) -> Vec<String> {
    let cli = Cli::command();
    let Some(sub) = cli.find_subcommand("dial") else {
        return Vec::new();
    };
    sub.get_arguments()
        .filter(|arg| !DEMO_TAKES.contains(&arg.get_id().as_str()))
        .filter(|arg| dial.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
        .map(|arg| match arg.get_long() {
            Some(long) => format!("--{long}"),
            None => arg.get_id().to_string(),
        })
        .collect()
}

/// `carrier dial` with no line runs the demo, which honours only
/// [`DEMO_TAKES`]: anything else is refused, not silently dropped.
fn check_demo_flags(matches: &ArgMatches) -> Result<(), cmd::common::Fatal> {
    let ignored = matches
        .subcommand_matches("dial")
        .map(ignored_by_demo)
        .unwrap_or_default();
    if ignored.is_empty() {
        return Ok(());
    }
    Err(cmd::common::fatal(
        cmd::common::EXIT_CONFIG,
        format!(
            "{}: not for the built-in demo (dial without --device, --direct, --profile or \
             --config), which takes only --pcap and --no-tun",
            ignored.join(", ")
        ),
    ))
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    init_logging(cli.verbose);
    let format: Format = cli.events.into();
    // Two workers: the control-line calls block (a real port's ioctls, the
    // simulator's socket) and the built-in simulator shares the runtime.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("carrier: cannot start: {e}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            // No line given: the built-in simulator stands in for the modem
            // and the network.
            Command::Dial(a)
                if a.line.device.is_none()
                    && !a.line.direct
                    && a.modem.profile.is_none()
                    && a.modem.config.is_none() =>
            {
                check_demo_flags(&matches)?;
                cmd::demo::demo(DemoArgs::default_for(&a), format).await
            }
            Command::Dial(a) => cmd::dial::dial(*a, format).await,
            Command::Answer(a) => cmd::answer::answer(*a, format).await,
            Command::Demo(a) => cmd::demo::demo(a, format).await,
            Command::Detect(a) => cmd::detect::detect(a, format).await,
            Command::Inbound(c) => cmd::inbound::inbound(c, format).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("carrier: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_the_command_line_hides_the_password() {
        let cli = Cli::try_parse_from([
            "carrier",
            "dial",
            "--direct",
            "--device",
            "/dev/null",
            "--user",
            "alice",
            "--password",
            "s3cret",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<hidden>"), "{shown}");
    }

    #[test]
    fn absurd_durations_are_usage_errors_not_panics() {
        for args in [
            ["carrier", "dial", "--deadline", "18446744073709551615"],
            ["carrier", "dial", "--idle", "18446744073709551615"],
            [
                "carrier",
                "dial",
                "--lcp-echo-interval",
                "18446744073709551615",
            ],
            ["carrier", "dial", "--lcp-restart", "18446744073709551615"],
            ["carrier", "answer", "--wait", "18446744073709551615"],
            ["carrier", "detect", "--timeout", "18446744073709551615"],
        ] {
            let e = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{args:?}"
            );
        }
        assert!(Cli::try_parse_from(["carrier", "dial", "--deadline", "1000000000"]).is_ok());
    }

    #[test]
    fn the_demo_refuses_exactly_the_dial_flags_given_that_it_ignores() {
        let ignored = |args: &[&str]| {
            let m = Cli::command().try_get_matches_from(args).unwrap();
            ignored_by_demo(m.subcommand_matches("dial").unwrap())
        };
        // Globals, the flags it takes, and defaults are not refused.
        let taken = ["carrier", "-v", "--events", "json", "dial", "--pcap", "x"];
        assert!(ignored(&taken).is_empty());
        assert!(ignored(&["carrier", "dial", "--no-tun"]).is_empty());
        // A value equal to the default was still given.
        assert_eq!(
            ignored(&[
                "carrier",
                "dial",
                "--lcp-restart",
                "3",
                "--persist",
                "--pcap",
                "x"
            ]),
            ["--lcp-restart", "--persist"]
        );
    }

    #[test]
    fn interface_names_are_checked_as_in_a_profile() {
        assert!(Cli::try_parse_from(["carrier", "dial", "--ifname", "ppp0"]).is_ok());
        for bad in ["a-very-long-interface", "a/b", "", "x y"] {
            let e = Cli::try_parse_from(["carrier", "dial", "--ifname", bad]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad:?}");
        }
    }
}
