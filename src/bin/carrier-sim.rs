//! carrier-sim: the modem simulator (see sim/README.md). It lives in the
//! carrier package so that services from the carrier library (the access
//! server) can be registered with it.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use carrier_sim::cli::{self, Args};
use carrier_sim::Service;
use clap::Parser;
use tracing_subscriber::EnvFilter;

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
    // No services yet: the access server registers here as "access-server".
    let services: HashMap<String, Arc<dyn Service>> = HashMap::new();
    match runtime.block_on(cli::run(args, services)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carrier-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
