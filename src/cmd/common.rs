//! What every command shares: exit statuses, errors, PPP options from
//! flags, and signals.

use std::path::Path;
use std::time::Duration;

use carrier::answerer::AnswerSetup;
use carrier::inbound::InboundError;
use carrier::modem::answer::AnswerMode;
use carrier::port::{PortError, PortSpec};
use carrier::ppp::auth::AuthProto;
use carrier::ppp::fsm::FsmConfig;
use carrier::ppp::link::{EchoConfig, LinkConfig};
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

fn sim_lines(device: &Path) -> Option<carrier::port::Lines> {
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

pub fn link_config(p: &PppArgs) -> LinkConfig {
    let fsm = FsmConfig {
        restart: Duration::from_secs(p.lcp_restart.max(1)),
        max_terminate: p.lcp_max_terminate,
        max_configure: p.lcp_max_configure,
        max_failure: p.lcp_max_failure,
        passive: p.passive,
    };
    let mut c = LinkConfig {
        lcp_fsm: fsm,
        ipcp_fsm: fsm,
        echo: EchoConfig {
            // pppd's lcp-echo-interval 0: no echoes (not one every loop,
            // which would declare the link dead at once).
            interval: p
                .lcp_echo_interval
                .filter(|s| *s > 0)
                .map(Duration::from_secs),
            failure: p.lcp_echo_failure.unwrap_or(4),
            adaptive: p.lcp_echo_adaptive,
        },
        ..LinkConfig::default()
    };
    c.lcp.mru = p.mru.unwrap_or(1500);
    c.lcp.accm = p.asyncmap.unwrap_or(0);
    c.lcp.magic = !p.nomagic;
    c.lcp.acfc = !p.noaccomp;
    c.lcp.pfc = !p.nopcomp;
    // pppd's default: VJ with 16 slots and slot numbers compressed.
    c.ipcp.vj = (!p.novj).then(|| carrier::ppp::ipcp::VjConfig {
        max_slot: p.vj_max_slots.unwrap_or(16) - 1,
        compress_slot: !p.novjccomp,
    });
    // pppd's default: CCP with Deflate 15 (options 26 and 24), then
    // BSD-Compress 15.
    c.ccp = (!p.noccp).then(|| carrier::ppp::ccp::CcpConfig {
        deflate: (!p.nodeflate).then(|| p.deflate.unwrap_or(carrier::ppp::ccp::Sizes::MAX)),
        deflate_draft: !p.nodeflatedraft,
        bsd: (!p.nobsdcomp).then(|| p.bsdcomp.unwrap_or(carrier::ppp::ccp::Sizes::MAX)),
    });
    c.ccp_fsm = fsm;
    c
}

/// pppd's `+ipv6` / `ipv6 <local>,<remote>` / `noipv6` / `noip`, the
/// flags over the profile's `ipv6` (true, false, or "LOCAL,REMOTE").
pub fn apply_ipv6(
    link: &mut LinkConfig,
    p: &PppArgs,
    profile: Option<&str>,
    profile_noip: bool,
) -> Result<(), Fatal> {
    let spec = if p.noipv6 {
        None
    } else {
        p.ipv6.as_deref().or(profile)
    };
    link.ipv6 = match spec {
        None => None,
        Some(s) => {
            let (local, remote) = carrier::ppp::ipv6cp::parse_pair(s)
                .map_err(|e| fatal(EXIT_CONFIG, format!("--ipv6: {e}")))?;
            Some(carrier::ppp::ipv6cp::Ipv6cpConfig {
                local,
                remote,
                accept_local: p.ipv6cp_accept_local,
                accept_remote: p.ipv6cp_accept_remote,
            })
        }
    };
    link.ipv6cp_fsm = link.ipcp_fsm;
    link.noip = p.noip || profile_noip;
    if link.noip && link.ipv6.is_none() {
        return Err(fatal(
            EXIT_CONFIG,
            "--noip without --ipv6 leaves the link nothing to carry",
        ));
    }
    Ok(())
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

pub fn required_auth(pap: bool, chap: bool) -> Vec<AuthProto> {
    let mut v = Vec::new();
    if chap {
        v.push(AuthProto::ChapMd5);
    }
    if pap {
        v.push(AuthProto::Pap);
    }
    v
}

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
