//! What every command shares: exit statuses, errors, PPP options from
//! flags, and signals.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use carrier::answerer::AnswerSetup;
use carrier::call::CallError;
use carrier::inbound::InboundError;
use carrier::modem::answer::AnswerMode;
use carrier::port::{PortError, PortSpec};
use carrier::ppp::link::LinkConfig;
use carrier::profile::{MergeError, PppOptions};
use carrier::secrets::SecretsTable;
use carrier::session;
use tokio::sync::watch;

use crate::PppArgs;

pub use carrier::exit::{CONFIG as EXIT_CONFIG, FATAL as EXIT_FATAL};

/// A failure before or outside PPP, with its exit status.
pub struct Fatal {
    pub code: u8,
    pub message: String,
}

pub fn fatal(code: u8, message: impl Into<String>) -> Fatal {
    Fatal {
        code,
        message: message.into(),
    }
}

impl From<PortError> for Fatal {
    fn from(e: PortError) -> Fatal {
        fatal(e.exit_code(), e.to_string())
    }
}

impl From<CallError> for Fatal {
    fn from(e: CallError) -> Fatal {
        fatal(e.exit_code(), e.to_string())
    }
}

impl From<InboundError> for Fatal {
    fn from(e: InboundError) -> Fatal {
        fatal(e.exit_code(), e.to_string())
    }
}

/// The port named by the flags. The simulator's PTYs get their control
/// lines from its control socket; a real port never asks it.
pub fn port_spec(device: &Path, line: &crate::LineArgs, lock_dir: Option<&Path>) -> PortSpec {
    PortSpec {
        device: device.to_path_buf(),
        speed: line.speed,
        flow: line.flow.map(Into::into).unwrap_or_default(),
        lock_dir: lock_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(carrier::port::default_lock_dir),
        pty_lines: Some(sim_lines),
    }
}

pub fn sim_lines(device: &Path) -> Option<carrier::port::ControlLines> {
    carrier_sim::lines_for(device)
}

/// How `carrier answer` (and `--inbound`) waits for its call, from the
/// flags.
pub fn answer_setup(
    line: &crate::LineArgs,
    m: &crate::AnswerModemArgs,
) -> Result<AnswerSetup, Fatal> {
    let Some(device) = &line.device else {
        return Err(fatal(
            EXIT_CONFIG,
            "give --device PATH (a modem), or --direct --device PATH for a null-modem line",
        ));
    };
    for cmd in &m.init {
        carrier::profile::check_init_command(cmd)
            .map_err(|e| fatal(EXIT_CONFIG, format!("--init: {e}")))?;
    }
    Ok(AnswerSetup {
        direct: line.direct,
        mode: match m.modem_answers {
            Some(n) => AnswerMode::ModemAnswers(n),
            None => AnswerMode::CountRings(m.rings),
        },
        wait: m.wait.map(Duration::from_secs),
        init: m.init.clone(),
        ..AnswerSetup::new(port_spec(device, line, m.lock_dir.as_deref()))
    })
}

/// The PPP flags, as the library takes them.
pub fn ppp_options(p: &PppArgs) -> PppOptions {
    PppOptions {
        mru: p.mru,
        asyncmap: p.asyncmap,
        lcp_echo_interval: p.lcp_echo_interval,
        lcp_echo_failure: p.lcp_echo_failure,
        lcp_echo_adaptive: p.lcp_echo_adaptive,
        lcp_restart: p.lcp_restart,
        lcp_max_configure: p.lcp_max_configure,
        lcp_max_terminate: p.lcp_max_terminate,
        lcp_max_failure: p.lcp_max_failure,
        passive: p.passive,
        nomagic: p.nomagic,
        noaccomp: p.noaccomp,
        nopcomp: p.nopcomp,
        ipv6: p.ipv6.clone(),
        noipv6: p.noipv6,
        ipv6cp_accept_local: p.ipv6cp_accept_local,
        ipv6cp_accept_remote: p.ipv6cp_accept_remote,
        noip: p.noip,
        novj: p.novj,
        vj_max_slots: p.vj_max_slots,
        novjccomp: p.novjccomp,
        noccp: p.noccp,
        deflate: p.deflate,
        nodeflate: p.nodeflate,
        nodeflatedraft: p.nodeflatedraft,
        bsdcomp: p.bsdcomp,
        nobsdcomp: p.nobsdcomp,
    }
}

/// [`LinkConfig::pppd`] under the flags.
pub fn link_config(p: &PppArgs) -> LinkConfig {
    ppp_options(p).link_config()
}

/// The flags' IPv6CP and `noip`, with no profile under them.
pub fn apply_ipv6(link: &mut LinkConfig, p: &PppArgs) -> Result<(), Fatal> {
    ppp_options(p)
        .apply_ipv6(link, None, false)
        .map_err(Fatal::from)
}

impl From<MergeError> for Fatal {
    fn from(e: MergeError) -> Fatal {
        fatal(EXIT_CONFIG, e.to_string())
    }
}

/// The scripts' view of an answering line; none without an interface.
pub fn hook_setup(line: &crate::LineArgs, hooks: &crate::HookArgs) -> Option<session::HookSetup> {
    if line.no_tun {
        return None;
    }
    Some(session::HookSetup {
        cfg: hooks.config(None),
        device: line.device.clone().unwrap_or_default(),
        speed: line.speed.unwrap_or(0),
        ifname: line.ifname().to_string(),
    })
}

/// `--ms-dns`, given at most twice.
pub fn ms_dns(servers: &[Ipv4Addr]) -> Result<[Option<Ipv4Addr>; 2], Fatal> {
    carrier::ppp::ipcp::offered_dns(servers)
        .ok_or_else(|| fatal(EXIT_CONFIG, "at most two --ms-dns servers"))
}

pub use carrier::profile::required_auth;

pub fn load_secrets(path: &Path) -> Result<SecretsTable, Fatal> {
    SecretsTable::load(path).map_err(|e| fatal(EXIT_CONFIG, e.to_string()))
}

/// SIGINT and SIGTERM ask the session to terminate the link.
pub fn stop_on_signals() -> Result<watch::Receiver<bool>, Fatal> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            // Each signal is a new change, so a second one forces the stop.
            tx.send_modify(|v| *v = true);
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn ppp(args: &[&str]) -> PppArgs {
        let mut v = vec!["carrier", "dial"];
        v.extend_from_slice(args);
        match crate::Cli::try_parse_from(v).unwrap().command {
            crate::Command::Dial(d) => d.ppp,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn echo_interval_zero_means_no_echoes() {
        assert_eq!(
            link_config(&ppp(&["--lcp-echo-interval", "0"]))
                .echo
                .interval,
            None
        );
        assert_eq!(
            link_config(&ppp(&["--lcp-echo-interval", "5"]))
                .echo
                .interval,
            Some(Duration::from_secs(5))
        );
        assert_eq!(link_config(&ppp(&[])).echo.interval, None);
    }
}
