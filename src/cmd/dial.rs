//! `carrier dial` through a modem: the profile (if any) under the flags,
//! resolved into one [`CallSetup`], then calls until one ends for good.

use std::sync::Arc;
use std::time::Duration;

use carrier::demand::DemandConfig;
use carrier::dialer::{self as call, CallSetup};
use carrier::events::{Format, Reporter};
use carrier::modem::dial::{DialPlan, Number};
use carrier::modem::hangup::HangupOptions;
use carrier::net::tun::TunPlane;
use carrier::net::NoIp;
use carrier::port::PortSpec;
use carrier::ppp::activity::ActiveFilter;
use carrier::ppp::auth::{AuthConfig, Secret};
use carrier::profile::{check_init_command, is_dialable, Profile};
use carrier::secrets::{read_private, SecretsTable};
use carrier::session::{HookSetup, SessionConfig};
use serde_json::json;

use super::common::*;
use crate::DialArgs;

const DEFAULT_HOLDOFF: u64 = 30;
const DEFAULT_MAXFAIL: u32 = 10;

fn config_err(e: impl std::fmt::Display) -> Fatal {
    fatal(EXIT_CONFIG, e.to_string())
}

/// `NUMBER` or `NUMBER=LABEL` from the command line.
fn parse_number(spec: &str) -> Number {
    match spec.split_once('=') {
        Some((n, l)) => Number {
            number: n.trim().to_string(),
            label: Some(l.trim().to_string()),
        },
        None => Number {
            number: spec.trim().to_string(),
            label: None,
        },
    }
}

/// The profile named by `--profile`/`--config`, or an empty one.
fn load_profile(a: &DialArgs) -> Result<Profile, Fatal> {
    match (&a.modem.profile, &a.modem.config) {
        (Some(name), _) => Profile::find(name).map_err(config_err),
        (None, Some(path)) => Profile::load(path).map_err(config_err),
        (None, None) => Ok(Profile::default()),
    }
}

/// Flags over profile over defaults.
pub fn resolve(a: &DialArgs) -> Result<(CallSetup, String, (bool, bool)), Fatal> {
    let p = load_profile(a)?;
    let from_profile = |what: &str| match p.file() {
        Some(f) => format!("{what} (not in {} either)", f.display()),
        None => what.to_string(),
    };
    let device = a
        .line
        .device
        .clone()
        .or_else(|| p.device_path())
        .ok_or_else(|| {
            config_err(from_profile(
                "no device: give --device PATH (a modem, or a null-modem line with --direct)",
            ))
        })?;

    let mut ppp = a.ppp.clone();
    ppp.mru = ppp.mru.or(p.mru);
    ppp.asyncmap = ppp.asyncmap.or(p.asyncmap.map(|m| m.0));
    ppp.lcp_echo_interval = ppp.lcp_echo_interval.or(p.lcp_echo_interval);
    ppp.lcp_echo_failure = ppp.lcp_echo_failure.or(p.lcp_echo_failure);
    ppp.lcp_echo_adaptive |= p.lcp_echo_adaptive.unwrap_or(false);
    ppp.novj |= p.novj.unwrap_or(false);
    ppp.vj_max_slots = ppp.vj_max_slots.or(p.vj_max_slots);
    ppp.novjccomp |= p.novjccomp.unwrap_or(false);
    ppp.noccp |= p.noccp.unwrap_or(false);
    ppp.nodeflate |= p.nodeflate.unwrap_or(false) && ppp.deflate.is_none();
    ppp.nobsdcomp |= p.nobsdcomp.unwrap_or(false) && ppp.bsdcomp.is_none();
    ppp.nodeflatedraft |= p.nodeflatedraft.unwrap_or(false);
    // Checked when the profile was read.
    ppp.deflate = ppp.deflate.or_else(|| {
        p.deflate
            .as_deref()
            .and_then(|s| carrier::ppp::ccp::Sizes::parse(s).ok())
    });
    ppp.bsdcomp = ppp.bsdcomp.or_else(|| {
        p.bsdcomp
            .as_deref()
            .and_then(|s| carrier::ppp::ccp::Sizes::parse(s).ok())
    });
    let flow: carrier_hw::Flow = a
        .line
        .flow
        .map(Into::into)
        .or(p.flow.map(Into::into))
        .unwrap_or_default();
    if flow == carrier_hw::Flow::XonXoff {
        // Software flow control eats DC1/DC3: PPP must escape them (pppd
        // users write `asyncmap 000a0000` for this).
        ppp.asyncmap = Some(ppp.asyncmap.unwrap_or(0) | 0x000a_0000);
    }
    let mut link = link_config(&ppp);
    apply_ipv6(
        &mut link,
        &ppp,
        p.ipv6.as_ref().and_then(|v| v.spec()),
        p.noip.unwrap_or(false),
    )?;
    link.idle = a
        .modem
        .idle
        .or(p.idle)
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    link.ipcp.request_dns = a.usepeerdns || p.usepeerdns.unwrap_or(false);
    let noauth = a.noauth || p.noauth.unwrap_or(false);
    link.lcp.require_auth = if noauth {
        Vec::new()
    } else {
        required_auth(
            a.require_pap || p.require_pap.unwrap_or(false),
            a.require_chap || p.require_chap.unwrap_or(false),
        )
    };

    let password = match (&a.password, &a.password_file) {
        (Some(pw), _) => Some(Secret::new(pw.expose().as_bytes())),
        (None, Some(f)) => {
            let text = read_private(f).map_err(config_err)?;
            Some(Secret::new(text.lines().next().unwrap_or("").as_bytes()))
        }
        (None, None) => p.load_password().map_err(config_err)?,
    };
    let user = a.user.clone().or_else(|| p.user.clone());
    if password.is_some() && user.is_none() {
        return Err(config_err(from_profile("a password needs a user")));
    }
    let secrets = match &a.secrets {
        Some(path) => load_secrets(path)?,
        None => SecretsTable::default(),
    };
    link.auth = AuthConfig {
        name: user.unwrap_or_default(),
        password,
        secrets: Arc::new(secrets),
        remote_name: a.remotename.clone().or_else(|| p.remotename.clone()),
    };

    let m = &a.modem;
    let numbers: Vec<Number> = if m.number.is_empty() {
        p.numbers
            .iter()
            .map(|n| Number {
                number: n.number.clone(),
                label: n.label.clone(),
            })
            .collect()
    } else {
        m.number.iter().map(|s| parse_number(s)).collect()
    };
    let connect_script = m
        .connect_script
        .clone()
        .or_else(|| p.connect_script.clone());
    if numbers.is_empty() && connect_script.is_none() && !a.line.direct {
        return Err(config_err(from_profile(
            "no number to dial: give --number NUMBER[=LABEL]",
        )));
    }
    if numbers.iter().any(|n| n.number.is_empty()) {
        return Err(config_err("--number: empty number"));
    }
    // As a profile's are checked: a CR or a letter in a number would be
    // sent to the modem inside the dial command.
    if let Some(n) = m
        .number
        .iter()
        .map(|s| parse_number(s))
        .find(|n| !is_dialable(&n.number))
    {
        return Err(config_err(format!(
            "--number: {:?} is not a dialable number",
            n.number
        )));
    }
    if let Some(p) = m.dial_prefix.as_ref().filter(|p| !is_dialable(p)) {
        return Err(config_err(format!(
            "--dial-prefix: {p:?} is not dialable (digits, * # , W T P @ ! ; + - ( ) and spaces)"
        )));
    }
    for cmd in &m.init {
        check_init_command(cmd).map_err(|e| config_err(format!("--init: {e}")))?;
    }
    let defaults = DialPlan::default();
    let plan = DialPlan {
        init: if !m.init.is_empty() {
            m.init.clone()
        } else if !p.init.is_empty() {
            p.init.clone()
        } else {
            defaults.init.clone()
        },
        numbers,
        prefix: m
            .dial_prefix
            .clone()
            .or_else(|| p.dial_prefix.clone())
            .unwrap_or_default(),
        pulse: m.pulse || p.pulse.unwrap_or(false),
        retries: m.retries.or(p.retries).unwrap_or(defaults.retries),
        backoff: m
            .backoff
            .map(Duration::from_secs)
            .or(p.backoff())
            .unwrap_or(defaults.backoff),
        deadline: m
            .deadline
            .map(Duration::from_secs)
            .or(p.deadline())
            .unwrap_or(defaults.deadline),
        connect_timeout: m
            .connect_timeout
            .map(Duration::from_secs)
            .or(p.connect_timeout())
            .unwrap_or(defaults.connect_timeout),
        ..defaults
    };
    let demand = m.demand || p.demand.unwrap_or(false);
    let filter = match m.active_filter.as_ref().or(p.active_filter.as_ref()) {
        Some(text) => {
            ActiveFilter::parse(text).map_err(|e| config_err(format!("--active-filter: {e}")))?
        }
        None => ActiveFilter::default(),
    };
    if demand && a.line.no_tun {
        return Err(config_err(
            "--demand needs an interface to watch: drop --no-tun",
        ));
    }
    // The host's own chatter neither dials nor keeps a link from idling.
    link.active_filter = Some(filter.clone());
    let resolv_conf = if link.ipcp.request_dns {
        m.resolv_conf.clone().or_else(|| p.resolv_conf.clone())
    } else {
        None
    };
    let mut setup = CallSetup {
        port: PortSpec {
            speed: a.line.speed.or(p.speed),
            flow,
            ..port_spec(
                &device,
                &a.line,
                m.lock_dir.as_deref().or(p.lock_dir.as_deref()),
            )
        },
        plan,
        connect_script,
        session: SessionConfig {
            link,
            pcap: a.line.pcap.clone().or_else(|| p.pcap.clone()),
            resolv_conf,
            ..SessionConfig::default()
        },
        // pppd: demand implies persist.
        persist: m.persist || p.persist.unwrap_or(false) || demand,
        holdoff: Duration::from_secs(m.holdoff.or(p.holdoff).unwrap_or(DEFAULT_HOLDOFF)),
        maxfail: m.maxfail.or(p.maxfail).unwrap_or(DEFAULT_MAXFAIL),
        hangup: HangupOptions::default(),
        direct: a.line.direct,
        demand: demand.then(|| DemandConfig {
            filter,
            queue: m.demand_queue.unwrap_or(carrier::demand::DEFAULT_QUEUE),
        }),
    };
    let ifname = a
        .line
        .ifname
        .clone()
        .or_else(|| p.ifname.clone())
        .unwrap_or_else(|| crate::DEFAULT_IFNAME.to_string());
    // The scripts run only where there is an interface for them to act on.
    if !a.line.no_tun {
        let mut cfg = a.hooks.config(a.modem.profile.as_deref());
        cfg.ipparam = cfg.ipparam.or_else(|| p.ipparam.clone());
        cfg.linkname = cfg.linkname.or_else(|| p.linkname.clone());
        setup.session.hooks = Some(HookSetup {
            cfg,
            device: setup.port.device.clone(),
            speed: setup.port.speed.unwrap_or(0),
            ifname: ifname.clone(),
        });
    }
    let defaultroute = m.defaultroute || p.defaultroute.unwrap_or(false);
    let defaultroute6 = m.defaultroute6 || p.defaultroute6.unwrap_or(false);
    Ok((setup, ifname, (defaultroute, defaultroute6)))
}

pub async fn dial(a: DialArgs, format: Format) -> Result<u8, Fatal> {
    let (setup, ifname, (defaultroute, defaultroute6)) = resolve(&a)?;
    let reporter = Reporter::new(format);
    reporter.emit(
        "modem",
        json!({"device": setup.port.device, "numbers": setup.plan.numbers.len(),
               "persist": setup.persist}),
        &format!(
            "{}: {} number(s) to try{}",
            setup.port.device.display(),
            setup.plan.numbers.len(),
            if setup.persist {
                ", redialing after a drop"
            } else {
                ""
            }
        ),
    );
    let stop = stop_on_signals()?;
    if a.line.no_tun {
        return Ok(call::run(&setup, &mut NoIp::default(), &reporter, stop).await?);
    }
    let plane = TunPlane::new(&ifname)
        .default_route(defaultroute)
        .default_route6(defaultroute6);
    let mut plane = match &setup.demand {
        None => plane,
        Some(d) => call::demand_plane(plane, &ifname, d, &reporter)?,
    };
    Ok(call::run(&setup, &mut plane, &reporter, stop).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve_args(args: &[&str]) -> Result<(CallSetup, String, (bool, bool)), Fatal> {
        let mut v = vec!["carrier", "dial", "--device", "/dev/null"];
        v.extend_from_slice(args);
        match crate::Cli::try_parse_from(v).unwrap().command {
            crate::Command::Dial(d) => resolve(&d),
            other => panic!("{other:?}"),
        }
    }

    /// `--ifname` over the profile's `ifname` over carrier0, even when
    /// the flag names the default.
    #[test]
    fn an_explicit_ifname_wins_over_the_profile_even_the_default_one() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("p.toml");
        std::fs::write(&profile, "ifname = \"x\"\nnumbers = [\"5551234\"]\n").unwrap();
        let profile = profile.to_str().unwrap();
        let ifname = |args: &[&str]| match resolve_args(args) {
            Ok((_, ifname, _)) => ifname,
            Err(f) => panic!("{args:?}: {}", f.message),
        };
        assert_eq!(ifname(&["--config", profile]), "x");
        assert_eq!(
            ifname(&["--config", profile, "--ifname", "carrier0"]),
            "carrier0"
        );
        assert_eq!(ifname(&["--config", profile, "--ifname", "ppp7"]), "ppp7");
        assert_eq!(ifname(&["--number", "5551234"]), crate::DEFAULT_IFNAME);
    }

    #[test]
    fn numbers_prefix_and_init_from_the_command_line_are_checked() {
        assert!(resolve_args(&["--number", "555-1234=Chicago", "--dial-prefix", "9,"]).is_ok());
        for args in [
            &["--number", "555\rATH"][..],
            &["--number", "5551234;\rATZ"],
            &["--number", "555x1"],
            &["--number", "5551234", "--dial-prefix", "9\r"],
            &["--number", "5551234", "--init", "ZAP"],
            &["--number", "5551234", "--init", "ATZ\rATD1"],
        ] {
            match resolve_args(args) {
                Ok(_) => panic!("accepted {args:?}"),
                Err(f) => {
                    assert_eq!(f.code, EXIT_CONFIG, "{args:?}");
                    assert_eq!(f.message.lines().count(), 1, "{}", f.message);
                }
            }
        }
    }
}
