//! `carrier dial`'s merge: what was given (flags) over the profile over
//! the defaults, into one [`CallSetup`]. The command line maps its flags
//! into [`DialOverrides`] first, so the merge runs without it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use carrier_hw::Flow;

use super::error::MergeError;
use super::options::PppOptions;
use super::{check_init_command, is_dialable, Profile};
use crate::demand::{DemandConfig, DEFAULT_QUEUE};
use crate::dialer::CallSetup;
use crate::hooks::HookConfig;
use crate::modem::dial::{DialPlan, Number};
use crate::modem::hangup::HangupOptions;
use crate::port::{default_lock_dir, PortSpec, PtyLines};
use crate::ppp::activity::ActiveFilter;
use crate::ppp::auth::{AuthConfig, AuthProto, Secret};
use crate::ppp::ccp::Sizes;
use crate::secrets::{read_private, SecretsTable};
use crate::session::{HookSetup, SessionConfig};

/// The interface a call's IP goes out on unless told otherwise.
pub const DEFAULT_IFNAME: &str = "carrier0";
/// pppd's `holdoff` default, seconds.
pub const DEFAULT_HOLDOFF: u64 = 30;
/// pppd's `maxfail` default.
pub const DEFAULT_MAXFAIL: u32 = 10;

fn err(e: impl std::fmt::Display) -> MergeError {
    MergeError::new(e.to_string())
}

/// What the command line gave for a dial: None or false is "not given",
/// and the profile (then the default) decides.
#[derive(Clone, Debug, Default)]
pub struct DialOverrides {
    // The line.
    pub device: Option<PathBuf>,
    pub direct: bool,
    pub speed: Option<u32>,
    pub flow: Option<Flow>,
    pub lock_dir: Option<PathBuf>,
    /// Who supplies a PTY's control lines (the simulator).
    pub pty_lines: Option<PtyLines>,
    pub pcap: Option<PathBuf>,
    pub ifname: Option<String>,
    /// No interface: no scripts, no demand.
    pub no_tun: bool,
    // PPP.
    pub ppp: PppOptions,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// The first line of this file is the password, unless `password`.
    pub password_file: Option<PathBuf>,
    pub secrets: Option<PathBuf>,
    pub remotename: Option<String>,
    pub usepeerdns: bool,
    pub require_pap: bool,
    pub require_chap: bool,
    pub noauth: bool,
    pub idle: Option<u64>,
    pub active_filter: Option<String>,
    pub resolv_conf: Option<PathBuf>,
    /// The scripts as the flags set them; the profile fills in
    /// `ipparam` and `linkname`.
    pub hooks: HookConfig,
    // The modem and the call.
    /// `NUMBER` or `NUMBER=LABEL`, each.
    pub numbers: Vec<String>,
    pub init: Vec<String>,
    pub dial_prefix: Option<String>,
    pub pulse: bool,
    pub retries: Option<u32>,
    pub backoff: Option<u64>,
    pub deadline: Option<u64>,
    pub connect_timeout: Option<u64>,
    pub connect_script: Option<PathBuf>,
    pub persist: bool,
    pub holdoff: Option<u64>,
    pub maxfail: Option<u32>,
    pub demand: bool,
    pub demand_queue: Option<u32>,
    pub defaultroute: bool,
    pub defaultroute6: bool,
}

/// A dial, resolved: the call and what the IP plane needs around it.
#[derive(Clone, Debug)]
pub struct ResolvedDial {
    pub setup: CallSetup,
    pub ifname: String,
    /// pppd's `defaultroute` and `defaultroute6`.
    pub defaultroute: bool,
    pub defaultroute6: bool,
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

/// The PPP options given, over the profile's.
fn ppp_options(o: &PppOptions, p: &Profile, flow: Flow) -> PppOptions {
    let mut ppp = o.clone();
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
    ppp.deflate = ppp
        .deflate
        .or_else(|| p.deflate.as_deref().and_then(|s| Sizes::parse(s).ok()));
    ppp.bsdcomp = ppp
        .bsdcomp
        .or_else(|| p.bsdcomp.as_deref().and_then(|s| Sizes::parse(s).ok()));
    if flow == Flow::XonXoff {
        // Software flow control eats DC1/DC3: PPP must escape them (pppd
        // users write `asyncmap 000a0000` for this).
        ppp.asyncmap = Some(ppp.asyncmap.unwrap_or(0) | 0x000a_0000);
    }
    ppp
}

/// The authentication given over the profile's: whom we require, and
/// who we are.
fn auth(
    o: &DialOverrides,
    p: &Profile,
    from_profile: &dyn Fn(&str) -> String,
) -> Result<(bool, AuthConfig), MergeError> {
    let noauth = o.noauth || p.noauth.unwrap_or(false);
    let password = match (&o.password, &o.password_file) {
        (Some(pw), _) => Some(pw.clone()),
        (None, Some(f)) => {
            let text = read_private(f).map_err(err)?;
            Some(Secret::new(text.lines().next().unwrap_or("").as_bytes()))
        }
        (None, None) => p.load_password().map_err(err)?,
    };
    let user = o.user.clone().or_else(|| p.user.clone());
    if password.is_some() && user.is_none() {
        return Err(err(from_profile("a password needs a user")));
    }
    let secrets = match &o.secrets {
        Some(path) => SecretsTable::load(path).map_err(err)?,
        None => SecretsTable::default(),
    };
    Ok((
        noauth,
        AuthConfig {
            name: user.unwrap_or_default(),
            password,
            secrets: Arc::new(secrets),
            remote_name: o.remotename.clone().or_else(|| p.remotename.clone()),
        },
    ))
}

/// pppd's `require-chap` and `require-pap`, CHAP preferred.
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

/// The numbers given, checked as a profile's are: a CR or a letter in a
/// number would be sent to the modem inside the dial command.
fn dial_plan(o: &DialOverrides, p: &Profile, numbers: Vec<Number>) -> Result<DialPlan, MergeError> {
    if numbers.iter().any(|n| n.number.is_empty()) {
        return Err(err("--number: empty number"));
    }
    if let Some(n) = o
        .numbers
        .iter()
        .map(|s| parse_number(s))
        .find(|n| !is_dialable(&n.number))
    {
        return Err(err(format!(
            "--number: {:?} is not a dialable number",
            n.number
        )));
    }
    if let Some(p) = o.dial_prefix.as_ref().filter(|p| !is_dialable(p)) {
        return Err(err(format!(
            "--dial-prefix: {p:?} is not dialable (digits, * # , W T P @ ! ; + - ( ) and spaces)"
        )));
    }
    for cmd in &o.init {
        check_init_command(cmd).map_err(|e| err(format!("--init: {e}")))?;
    }
    let defaults = DialPlan::default();
    Ok(DialPlan {
        init: if !o.init.is_empty() {
            o.init.clone()
        } else if !p.init.is_empty() {
            p.init.clone()
        } else {
            defaults.init.clone()
        },
        numbers,
        prefix: o
            .dial_prefix
            .clone()
            .or_else(|| p.dial_prefix.clone())
            .unwrap_or_default(),
        pulse: o.pulse || p.pulse.unwrap_or(false),
        retries: o.retries.or(p.retries).unwrap_or(defaults.retries),
        backoff: o
            .backoff
            .map(Duration::from_secs)
            .or(p.backoff())
            .unwrap_or(defaults.backoff),
        deadline: o
            .deadline
            .map(Duration::from_secs)
            .or(p.deadline())
            .unwrap_or(defaults.deadline),
        connect_timeout: o
            .connect_timeout
            .map(Duration::from_secs)
            .or(p.connect_timeout())
            .unwrap_or(defaults.connect_timeout),
        ..defaults
    })
}

/// The flags `o` over the profile `p` over the defaults.
pub fn merge(p: &Profile, o: &DialOverrides) -> Result<ResolvedDial, MergeError> {
    let from_profile = |what: &str| match p.file() {
        Some(f) => format!("{what} (not in {} either)", f.display()),
        None => what.to_string(),
    };
    let device = o
        .device
        .clone()
        .or_else(|| p.device_path())
        .ok_or_else(|| {
            err(from_profile(
                "no device: give --device PATH (a modem, or a null-modem line with --direct)",
            ))
        })?;
    let flow: Flow = o.flow.or(p.flow.map(Into::into)).unwrap_or_default();
    let ppp = ppp_options(&o.ppp, p, flow);
    let mut link = ppp.link_config();
    ppp.apply_ipv6(
        &mut link,
        p.ipv6.as_ref().and_then(|v| v.spec()),
        p.noip.unwrap_or(false),
    )?;
    link.idle = o
        .idle
        .or(p.idle)
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    link.ipcp.request_dns = o.usepeerdns || p.usepeerdns.unwrap_or(false);
    let (noauth, auth) = auth(o, p, &from_profile)?;
    link.lcp.require_auth = if noauth {
        Vec::new()
    } else {
        required_auth(
            o.require_pap || p.require_pap.unwrap_or(false),
            o.require_chap || p.require_chap.unwrap_or(false),
        )
    };
    link.auth = auth;

    let numbers: Vec<Number> = if o.numbers.is_empty() {
        p.numbers
            .iter()
            .map(|n| Number {
                number: n.number.clone(),
                label: n.label.clone(),
            })
            .collect()
    } else {
        o.numbers.iter().map(|s| parse_number(s)).collect()
    };
    let connect_script = o
        .connect_script
        .clone()
        .or_else(|| p.connect_script.clone());
    if numbers.is_empty() && connect_script.is_none() && !o.direct {
        return Err(err(from_profile(
            "no number to dial: give --number NUMBER[=LABEL]",
        )));
    }
    let plan = dial_plan(o, p, numbers)?;
    let demand = o.demand || p.demand.unwrap_or(false);
    let filter = match o.active_filter.as_ref().or(p.active_filter.as_ref()) {
        Some(text) => {
            ActiveFilter::parse(text).map_err(|e| err(format!("--active-filter: {e}")))?
        }
        None => ActiveFilter::default(),
    };
    if demand && o.no_tun {
        return Err(err("--demand needs an interface to watch: drop --no-tun"));
    }
    // The host's own chatter neither dials nor keeps a link from idling.
    link.active_filter = Some(filter.clone());
    let resolv_conf = if link.ipcp.request_dns {
        o.resolv_conf.clone().or_else(|| p.resolv_conf.clone())
    } else {
        None
    };
    let mut setup = CallSetup {
        port: PortSpec {
            device,
            speed: o.speed.or(p.speed),
            flow,
            lock_dir: o
                .lock_dir
                .clone()
                .or_else(|| p.lock_dir.clone())
                .unwrap_or_else(default_lock_dir),
            pty_lines: o.pty_lines,
        },
        plan,
        connect_script,
        session: SessionConfig {
            link,
            pcap: o.pcap.clone().or_else(|| p.pcap.clone()),
            resolv_conf,
            ..SessionConfig::default()
        },
        // pppd: demand implies persist.
        persist: o.persist || p.persist.unwrap_or(false) || demand,
        holdoff: Duration::from_secs(o.holdoff.or(p.holdoff).unwrap_or(DEFAULT_HOLDOFF)),
        maxfail: o.maxfail.or(p.maxfail).unwrap_or(DEFAULT_MAXFAIL),
        hangup: HangupOptions::default(),
        direct: o.direct,
        demand: demand.then(|| DemandConfig {
            filter,
            queue: o.demand_queue.unwrap_or(DEFAULT_QUEUE),
        }),
    };
    let ifname = o
        .ifname
        .clone()
        .or_else(|| p.ifname.clone())
        .unwrap_or_else(|| DEFAULT_IFNAME.to_string());
    // The scripts run only where there is an interface for them to act on.
    if !o.no_tun {
        let mut cfg = o.hooks.clone();
        cfg.ipparam = cfg.ipparam.or_else(|| p.ipparam.clone());
        cfg.linkname = cfg.linkname.or_else(|| p.linkname.clone());
        setup.session.hooks = Some(HookSetup {
            cfg,
            device: setup.port.device.clone(),
            speed: setup.port.speed.unwrap_or(0),
            ifname: ifname.clone(),
        });
    }
    Ok(ResolvedDial {
        setup,
        ifname,
        defaultroute: o.defaultroute || p.defaultroute.unwrap_or(false),
        defaultroute6: o.defaultroute6 || p.defaultroute6.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Profile {
        Profile::parse(text, None).unwrap()
    }

    fn given() -> DialOverrides {
        DialOverrides {
            device: Some("/dev/null".into()),
            numbers: vec!["5551234".into()],
            ..DialOverrides::default()
        }
    }

    fn merged(p: &Profile, o: &DialOverrides) -> ResolvedDial {
        merge(p, o).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_flag_beats_the_profile() {
        let p = profile("mru = 1400\nholdoff = 5\nnumbers = [\"5550000\"]\nspeed = 9600\n");
        let mut o = given();
        o.ppp.mru = Some(1200);
        o.holdoff = Some(7);
        o.speed = Some(57600);
        let r = merged(&p, &o);
        assert_eq!(r.setup.session.link.lcp.mru, 1200);
        assert_eq!(r.setup.holdoff, Duration::from_secs(7));
        assert_eq!(r.setup.port.speed, Some(57600));
        assert_eq!(r.setup.plan.numbers[0].number, "5551234");
    }

    #[test]
    fn the_profile_beats_the_default() {
        let p = profile("mru = 1400\nholdoff = 5\nnovj = true\nifname = \"x\"\n");
        let r = merged(&p, &given());
        assert_eq!(r.setup.session.link.lcp.mru, 1400);
        assert_eq!(r.setup.holdoff, Duration::from_secs(5));
        assert_eq!(r.setup.session.link.ipcp.vj, None);
        assert_eq!(r.ifname, "x");

        let r = merged(&Profile::default(), &given());
        assert_eq!(r.setup.session.link.lcp.mru, 1500);
        assert_eq!(r.setup.holdoff, Duration::from_secs(DEFAULT_HOLDOFF));
        assert_eq!(r.setup.maxfail, DEFAULT_MAXFAIL);
        // pppd's VJ and CCP, which the library's Default leaves off.
        assert!(r.setup.session.link.ipcp.vj.is_some());
        assert!(r.setup.session.link.ccp.is_some());
        assert_eq!(r.ifname, DEFAULT_IFNAME);
    }

    #[test]
    fn an_explicit_ifname_beats_the_profile_even_when_it_is_the_default() {
        let p = profile("ifname = \"x\"\n");
        let o = DialOverrides {
            ifname: Some(DEFAULT_IFNAME.into()),
            ..given()
        };
        assert_eq!(merged(&p, &o).ifname, DEFAULT_IFNAME);
    }

    #[test]
    fn a_flag_given_as_false_leaves_the_profile_s_true() {
        let p = profile("persist = true\ndefaultroute = true\n");
        let r = merged(&p, &given());
        assert!(r.setup.persist);
        assert!(r.defaultroute);
        assert!(!r.defaultroute6);
    }

    #[test]
    fn software_flow_control_escapes_dc1_and_dc3() {
        let p = profile("flow = \"xonxoff\"\nasyncmap = \"00000001\"\n");
        let r = merged(&p, &given());
        assert_eq!(r.setup.port.flow, Flow::XonXoff);
        assert_eq!(r.setup.session.link.lcp.accm, 0x000a_0001);
    }

    #[test]
    fn demand_implies_persist_and_needs_an_interface() {
        let o = DialOverrides {
            demand: true,
            ..given()
        };
        let r = merged(&Profile::default(), &o);
        assert!(r.setup.persist);
        assert!(r.setup.demand.is_some());
        let o = DialOverrides { no_tun: true, ..o };
        assert!(merge(&Profile::default(), &o).is_err());
    }

    #[test]
    fn what_is_missing_is_said() {
        let o = DialOverrides {
            device: None,
            ..given()
        };
        let e = merge(&Profile::default(), &o).unwrap_err().to_string();
        assert!(e.starts_with("no device"), "{e}");
        let o = DialOverrides {
            password: Some(Secret::new("pw")),
            ..given()
        };
        let e = merge(&Profile::default(), &o).unwrap_err().to_string();
        assert_eq!(e, "a password needs a user");
        let o = DialOverrides {
            numbers: Vec::new(),
            ..given()
        };
        let e = merge(&Profile::default(), &o).unwrap_err().to_string();
        assert!(e.starts_with("no number to dial"), "{e}");
    }
}
