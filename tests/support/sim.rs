//! The modem simulator in the test process: two modems, `modem0` for the
//! caller and `modem1` for the answerer, joined by the exchange through
//! [`NUMBER`]. Time runs five times fast. The links (`DIR/modemN`) are
//! symlinks to PTYs and the control sockets are Unix sockets in the file
//! system, so processes in other network namespaces reach them too.
//!
//! Every modem but modem1 can be given a number of its own, which the
//! called modem's caller ID shows ([`Switch::start_callers`]).

use std::path::PathBuf;

use carrier_sim::{Destination, ModemSpec, Sim, SimConfig, TimeScale};

/// The number that rings modem1.
pub const NUMBER: &str = "555-0142";

/// How a calling modem shows in the called one's caller ID.
#[derive(Clone, Copy, Debug)]
pub enum Caller {
    From(&'static str),
    Withheld,
}

pub struct Switch {
    rt: tokio::runtime::Runtime,
    sim: Option<Sim>,
    dir: tempfile::TempDir,
}

impl Switch {
    pub fn start() -> Switch {
        Switch::start_with(2, |cfg| cfg.route(NUMBER, Destination::Modem(1)))
    }

    /// Like [`Switch::start`], with callers: modem `i` calls from
    /// `number` (`Caller::Withheld`: it has one but withholds it, so caller
    /// ID shows `NMBR = P`). As many modems as the highest index needs,
    /// at least two.
    pub fn start_callers(callers: &[(usize, Caller)]) -> Switch {
        let modems = callers.iter().map(|(i, _)| i + 1).max().unwrap_or(0).max(2);
        Switch::start_with(modems, |mut cfg| {
            for (i, caller) in callers {
                let m = &mut cfg.modems[*i];
                match caller {
                    Caller::From(number) => m.number = Some(number.to_string()),
                    Caller::Withheld => {
                        m.number = Some("555-0666".into());
                        m.withhold = true;
                    }
                }
            }
            cfg.route(NUMBER, Destination::Modem(1))
        })
    }

    /// `modems` modems of the default model, the configuration finished
    /// by `build` (routes, services, faults).
    pub fn start_with(modems: usize, build: impl FnOnce(SimConfig) -> SimConfig) -> Switch {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = SimConfig::new(dir.path(), modems);
        cfg.modems = vec![ModemSpec::default(); modems];
        cfg.time_scale = TimeScale::new(0.2).unwrap();
        let cfg = build(cfg);
        let sim = {
            let _g = rt.enter();
            Sim::start(cfg).expect("simulator")
        };
        std::fs::create_dir_all(dir.path().join("locks")).unwrap();
        Switch {
            rt,
            sim: Some(sim),
            dir,
        }
    }

    /// `DIR/modemN`.
    pub fn modem(&self, i: usize) -> PathBuf {
        self.sim.as_ref().unwrap().link(i).unwrap().to_path_buf()
    }

    pub fn modem_str(&self, i: usize) -> String {
        self.modem(i).to_str().unwrap().to_string()
    }

    /// The UUCP lock directory both sides use.
    pub fn locks(&self) -> PathBuf {
        self.dir.path().join("locks")
    }

    pub fn locks_str(&self) -> String {
        self.locks().to_str().unwrap().to_string()
    }

    /// The lock files present now, with their contents.
    pub fn lock_files(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = std::fs::read_dir(self.locks())
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// The lock file name of modem `i` (`LCK..` and its PTY's name).
    pub fn lock_name(&self, i: usize) -> String {
        let real = std::fs::canonicalize(self.modem(i)).unwrap();
        format!("LCK..{}", real.file_name().unwrap().to_string_lossy())
    }

    /// A scratch directory that lives as long as the switch.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        let _g = self.rt.enter();
        self.sim.take();
    }
}
