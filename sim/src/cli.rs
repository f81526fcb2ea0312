//! The `carrier-sim` command line. The binary lives in the carrier
//! package (so that it can register carrier's access server); this is
//! everything but `main`.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::config::FileConfig;
use crate::error::SimError;
use crate::exchange::{Destination, Route, Service};
use crate::fault::FaultSpec;
use crate::scale::TimeScale;
use crate::sim::{Sim, SimConfig};

/// A Hayes/V.250 modem simulator on PTYs, with a phone exchange.
#[derive(Clone, Debug, Parser)]
#[command(name = "carrier-sim", version)]
pub struct Args {
    /// Directory for the links to the modems (DIR/modem0, DIR/modem1, ...)
    /// and their control sockets (DIR/modem0.ctl, ...).
    #[arg(long, value_name = "DIR")]
    pub link: PathBuf,
    /// How many modems [default: the config file's, else 1].
    #[arg(long, value_name = "N")]
    pub modems: Option<usize>,
    /// A route: NUMBER=DEST, where DEST is modemK, busy, no-answer,
    /// no-dialtone, silent, echo or a registered service (access-server).
    /// Repeatable; wins over the config file's route for the same number.
    #[arg(long = "route", value_name = "NUMBER=DEST", value_parser = parse_route)]
    pub routes: Vec<(String, Destination)>,
    /// TOML configuration: models, speeds, latencies, faults, routes.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Multiplies every simulated time (rings, timers, line pacing):
    /// 0.1 runs ten times faster [default: 1].
    #[arg(long, value_name = "F")]
    pub time_scale: Option<f64>,
    /// Seed for the faults [default: 0].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Model of the modems the config file does not set (usr-courier,
    /// hayes-accura, conexant-hsf, usr-5637) [default: hayes-accura].
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
}

fn parse_route(s: &str) -> Result<(String, Destination), String> {
    let (number, dest) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NUMBER=DEST"))?;
    Ok((number.trim().to_string(), dest.parse()?))
}

/// The simulator's configuration from the arguments and the config file.
pub fn sim_config(
    args: &Args,
    services: HashMap<String, Arc<dyn Service>>,
) -> Result<SimConfig, SimError> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let invalid = SimError::Invalid;
    let count = match args.modems {
        Some(n) => n,
        None => file.modem_count().map_err(invalid)?,
    };
    if !(1..=256).contains(&count) {
        return Err(invalid(format!("{count} modems: choose 1 to 256")));
    }
    let modems = file.modem_specs(count, args.model.as_deref())?;
    let mut routes = file.routes()?;
    for (number, dest) in &args.routes {
        let key = crate::exchange::normalize(number);
        routes.retain(|(n, _)| crate::exchange::normalize(n) != key);
        routes.push((
            number.clone(),
            Route {
                dest: dest.clone(),
                faults: FaultSpec::default(),
            },
        ));
    }
    let time_scale = TimeScale::new(args.time_scale.or(file.time_scale).unwrap_or(1.0))?;
    let mut config = SimConfig::new(&args.link, count);
    config.modems = modems;
    config.routes = routes;
    config.time_scale = time_scale;
    config.seed = args.seed.or(file.seed).unwrap_or(0);
    if let Some(ms) = file.ring_cadence_ms {
        if ms == 0 {
            return Err(invalid("ring_cadence_ms must be above 0".into()));
        }
        config.timing.ring_cadence = Duration::from_millis(ms);
    }
    config.services = services;
    Ok(config)
}

/// Runs the simulator until SIGTERM or SIGINT: prints `READY` on stdout
/// once every link exists, and removes the links and control sockets on
/// the way out.
pub async fn run(args: Args, services: HashMap<String, Arc<dyn Service>>) -> Result<(), SimError> {
    use tokio::signal::unix::{signal, SignalKind};
    let config = sim_config(&args, services)?;
    let mut term = signal(SignalKind::terminate()).map_err(SimError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(SimError::Signal)?;
    let seed = config.seed;
    let scale = config.time_scale.factor();
    let sim = Sim::start(config)?;
    for (link, ctl) in sim.links().iter().zip(sim.ctls()) {
        tracing::info!(link = %link.display(), ctl = %ctl.display(), "link");
    }
    tracing::info!(seed, time_scale = scale, "simulator running");
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY")
        .and_then(|()| out.flush())
        .map_err(|e| SimError::io("<stdout>", e))?;
    drop(out);
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    drop(sim);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<Args, clap::Error> {
        let mut v = vec!["carrier-sim", "--link", "/tmp/x"];
        v.extend(extra);
        Args::try_parse_from(v)
    }

    #[test]
    fn the_documented_command_line_parses() {
        let a = args(&[
            "--modems",
            "2",
            "--route",
            "555-0100=modem1",
            "--route",
            "5550199=busy",
            "--route",
            "1800=access-server",
            "--time-scale",
            "0.1",
            "--seed",
            "7",
        ])
        .unwrap();
        assert_eq!(a.modems, Some(2));
        assert_eq!(a.routes.len(), 3);
        assert_eq!(a.routes[0], ("555-0100".to_string(), Destination::Modem(1)));
        assert_eq!(a.routes[2].1, Destination::Service("access-server".into()));
        assert!(args(&["--route", "nonsense"]).is_err());
        assert!(args(&["--route", "1=a b"]).is_err());
        assert!(
            Args::try_parse_from(["carrier-sim"]).is_err(),
            "--link is required"
        );
    }

    #[test]
    fn a_missing_service_is_a_clear_error() {
        let a = args(&["--route", "1800=access-server"]).unwrap();
        let config = sim_config(&a, HashMap::new()).unwrap();
        let e = Sim::start(config).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no service named access-server in this build"
        );
    }

    #[test]
    fn command_line_routes_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[[route]]\nnumber = \"555-0100\"\ndest = \"busy\"\n").unwrap();
        let a = args(&[
            "--config",
            file.to_str().unwrap(),
            "--route",
            "5550100=no-answer",
            "--modems",
            "1",
        ])
        .unwrap();
        let c = sim_config(&a, HashMap::new()).unwrap();
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.routes[0].1.dest, Destination::NoAnswer);
    }

    #[test]
    fn bad_numbers_are_refused() {
        assert!(sim_config(&args(&["--modems", "0"]).unwrap(), HashMap::new()).is_err());
        assert!(sim_config(&args(&["--time-scale", "0"]).unwrap(), HashMap::new()).is_err());
        assert!(sim_config(&args(&["--time-scale=-1"]).unwrap(), HashMap::new()).is_err());
        assert!(sim_config(&args(&["--model", "nope"]).unwrap(), HashMap::new()).is_err());
    }
}
