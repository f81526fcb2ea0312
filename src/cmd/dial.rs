//! `carrier dial` through a modem: the profile (if any) under the flags,
//! resolved into one [`CallSetup`](call::CallSetup), then calls until one ends for good.

use carrier::dialer as call;
use carrier::events::{Format, Reporter};
use carrier::net::tun::TunPlane;
use carrier::net::NoIp;
use carrier::ppp::auth::Secret;
use carrier::profile::{self, DialOverrides, Profile, ResolvedDial};
use serde_json::json;

use super::common::*;
use crate::DialArgs;

fn config_err(e: impl std::fmt::Display) -> Fatal {
    fatal(EXIT_CONFIG, e.to_string())
}

/// The profile named by `--profile`/`--config`, or an empty one.
fn load_profile(a: &DialArgs) -> Result<Profile, Fatal> {
    match (&a.modem.profile, &a.modem.config) {
        (Some(name), _) => Profile::find(name).map_err(config_err),
        (None, Some(path)) => Profile::load(path).map_err(config_err),
        (None, None) => Ok(Profile::default()),
    }
}

/// What the flags give, for [`profile::merge`] to put over the profile.
fn overrides(a: &DialArgs) -> DialOverrides {
    let m = &a.modem;
    DialOverrides {
        device: a.line.device.clone(),
        direct: a.line.direct,
        speed: a.line.speed,
        flow: a.line.flow.map(Into::into),
        lock_dir: m.lock_dir.clone(),
        pty_lines: Some(sim_lines),
        pcap: a.line.pcap.clone(),
        ifname: a.line.ifname.clone(),
        no_tun: a.line.no_tun,
        ppp: ppp_options(&a.ppp),
        user: a.user.clone(),
        password: a
            .password
            .as_ref()
            .map(|pw| Secret::new(pw.expose().as_bytes())),
        password_file: a.password_file.clone(),
        secrets: a.secrets.clone(),
        remotename: a.remotename.clone(),
        usepeerdns: a.usepeerdns,
        require_pap: a.require_pap,
        require_chap: a.require_chap,
        noauth: a.noauth,
        idle: m.idle,
        active_filter: m.active_filter.clone(),
        resolv_conf: m.resolv_conf.clone(),
        hooks: a.hooks.config(m.profile.as_deref()),
        numbers: m.number.clone(),
        init: m.init.clone(),
        dial_prefix: m.dial_prefix.clone(),
        pulse: m.pulse,
        retries: m.retries,
        backoff: m.backoff,
        deadline: m.deadline,
        connect_timeout: m.connect_timeout,
        connect_script: m.connect_script.clone(),
        persist: m.persist,
        holdoff: m.holdoff,
        maxfail: m.maxfail,
        demand: m.demand,
        demand_queue: m.demand_queue,
        defaultroute: m.defaultroute,
        defaultroute6: m.defaultroute6,
    }
}

/// Flags over profile over defaults.
pub fn resolve(a: &DialArgs) -> Result<ResolvedDial, Fatal> {
    Ok(profile::merge(&load_profile(a)?, &overrides(a))?)
}

pub async fn dial(a: DialArgs, format: Format) -> Result<u8, Fatal> {
    let ResolvedDial {
        setup,
        ifname,
        defaultroute,
        defaultroute6,
    } = resolve(&a)?;
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

    fn resolve_args(args: &[&str]) -> Result<ResolvedDial, Fatal> {
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
            Ok(r) => r.ifname,
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
