//! carrier-sim: the modem simulator (see sim/README.md). It lives in the
//! carrier package so that services from the carrier library (the access
//! server) can be registered with it.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use carrier::access::{self, AccessServer};
use carrier::secrets::SecretsTable;
use carrier_sim::cli::{self, Args};
use carrier_sim::{CallInfo, Service};
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Environment variable naming a pppd-style secrets file (mode 0600) for
/// the access server's PAP accounts; without it the demo account
/// (`demo` / `demo-password`) is the only one.
const SECRETS_ENV: &str = "CARRIER_SIM_ACCESS_SECRETS";

/// carrier's access server, reachable as the destination `access-server`.
fn access_server() -> Result<HashMap<String, Arc<dyn Service>>, String> {
    let secrets = match std::env::var_os(SECRETS_ENV) {
        Some(path) => {
            let t = SecretsTable::load(std::path::Path::new(&path)).map_err(|e| e.to_string())?;
            if t.is_empty() {
                return Err(format!("{}: no accounts", path.to_string_lossy()));
            }
            Some(t)
        }
        None => None,
    };
    let server = Arc::new(AccessServer::new(access::demo::config(secrets)));
    let mut services: HashMap<String, Arc<dyn Service>> = HashMap::new();
    services.insert(
        "access-server".into(),
        Arc::new(move |line, call: CallInfo| server.serve_call(line, call.call, &call.caller)),
    );
    Ok(services)
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Logs go to stderr: stdout carries READY for whoever started us.
    let filter = EnvFilter::try_from_env("CARRIER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("carrier-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let services = match access_server() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("carrier-sim: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cli::run(args, services)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carrier-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
