//! The simulator in-process: modems on PTYs with their links and control
//! sockets, and the exchange between them. Dropping it shuts it down.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::at::Interpreter;
use crate::ctl::{self, CircuitState};
use crate::error::SimError;
use crate::exchange::{builtin_services, Destination, Exchange, Route, Service, Timing};
use crate::fault::FaultSpec;
use crate::modem::{Io, Modem, ModemSpec};
use crate::port::SimPty;
use crate::scale::TimeScale;

/// Everything the simulator is started with.
#[derive(Clone)]
pub struct SimConfig {
    /// Where `modemN` links and `modemN.ctl` sockets go; created if
    /// missing.
    pub link_dir: PathBuf,
    pub modems: Vec<ModemSpec>,
    /// Numbers (any punctuation; see [`crate::exchange::normalize`]) and
    /// their routes.
    pub routes: Vec<(String, Route)>,
    pub time_scale: TimeScale,
    /// Seeds every fault; the same seed and the same calls give the same
    /// faults.
    pub seed: u64,
    pub timing: Timing,
    /// Services by name, besides the built-in `silent` and `echo`.
    pub services: HashMap<String, Arc<dyn Service>>,
}

impl SimConfig {
    /// `modems` modems of the default model, no routes, real time.
    pub fn new(link_dir: impl Into<PathBuf>, modems: usize) -> SimConfig {
        SimConfig {
            link_dir: link_dir.into(),
            modems: vec![ModemSpec::default(); modems],
            routes: Vec::new(),
            time_scale: TimeScale::REAL,
            seed: 0,
            timing: Timing::default(),
            services: HashMap::new(),
        }
    }

    pub fn route(mut self, number: &str, dest: Destination) -> SimConfig {
        self.routes.push((
            number.to_string(),
            Route {
                dest,
                faults: FaultSpec::default(),
            },
        ));
        self
    }

    pub fn route_with_faults(
        mut self,
        number: &str,
        dest: Destination,
        faults: FaultSpec,
    ) -> SimConfig {
        self.routes
            .push((number.to_string(), Route { dest, faults }));
        self
    }

    pub fn service(mut self, name: &str, service: Arc<dyn Service>) -> SimConfig {
        self.services.insert(name.to_string(), service);
        self
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct Sim {
    links: Vec<PathBuf>,
    ctls: Vec<PathBuf>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sim {
    /// Creates the modems and their links; call within a tokio runtime.
    /// Every link exists when this returns.
    pub fn start(config: SimConfig) -> Result<Sim, SimError> {
        let mut sim = Sim {
            links: Vec::new(),
            ctls: Vec::new(),
            tasks: Vec::new(),
        };
        if config.modems.is_empty() {
            return Err(SimError::Invalid("no modems to simulate".into()));
        }
        for spec in &config.modems {
            spec.faults
                .validate()
                .map_err(|e| SimError::Invalid(format!("modem faults: {e}")))?;
        }
        let mut services = config.services;
        for (name, service) in builtin_services() {
            services.entry(name.to_string()).or_insert(service);
        }
        let (mailboxes, offers): (Vec<_>, Vec<_>) =
            config.modems.iter().map(|_| mpsc::channel(8)).unzip();
        let exchange = Arc::new(Exchange::new(
            config.routes,
            services,
            mailboxes,
            config.time_scale,
            config.seed,
            config.timing,
        )?);
        let mut interpreters = Vec::new();
        for (i, spec) in config.modems.iter().enumerate() {
            let at = Interpreter::new(spec.model, spec.profile.as_deref()).map_err(|source| {
                SimError::Profile {
                    name: format!("modem{i}"),
                    source,
                }
            })?;
            interpreters.push(at);
        }
        let dir = &config.link_dir;
        std::fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
        for (i, ((spec, at), offers)) in config
            .modems
            .into_iter()
            .zip(interpreters)
            .zip(offers)
            .enumerate()
        {
            let name = format!("modem{i}");
            let port = SimPty::open()?;
            let link = dir.join(&name);
            replace_symlink(port.slave_path(), &link)?;
            sim.links.push(link);
            tracing::info!(modem = %name, model = spec.model.id, speed = spec.speed(), pty = %port.slave_path().display(), "modem ready");
            let modem = Modem::new(i, spec, at, exchange.clone());
            let (lines_tx, lines_rx) = watch::channel::<CircuitState>(modem.lines());
            let (ctl_tx, ctl_rx) = mpsc::channel(16);
            let ctl_path = dir.join(format!("{name}.ctl"));
            sim.tasks.push(ctl::serve(&ctl_path, lines_rx, ctl_tx)?);
            sim.ctls.push(ctl_path);
            let (port_in, port_out, port_task) = port.spawn();
            sim.tasks.push(port_task);
            let io = Io {
                port_in,
                port_out,
                offers,
                ctl: ctl_rx,
                lines: lines_tx,
            };
            sim.tasks.push(tokio::spawn(modem.run(io)));
        }
        Ok(sim)
    }

    /// The links to the modems' PTYs, `DIR/modem0` first.
    pub fn links(&self) -> &[PathBuf] {
        &self.links
    }

    pub fn link(&self, modem: usize) -> Option<&Path> {
        self.links.get(modem).map(PathBuf::as_path)
    }

    /// The control sockets, `DIR/modem0.ctl` first.
    pub fn ctls(&self) -> &[PathBuf] {
        &self.ctls
    }

    pub fn ctl(&self, modem: usize) -> Option<&Path> {
        self.ctls.get(modem).map(PathBuf::as_path)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for path in self.links.iter().chain(&self.ctls) {
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove");
                }
            }
        }
    }
}

/// Points `link` at `target`, replacing an old symlink but nothing else.
fn replace_symlink(target: &Path, link: &Path) -> Result<(), SimError> {
    match std::fs::symlink_metadata(link) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::remove_file(link).map_err(|e| SimError::io(link, e))?
        }
        Ok(_) => {
            return Err(SimError::io(
                link,
                io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a symlink"),
            ))
        }
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link).map_err(|e| SimError::io(link, e))
}
