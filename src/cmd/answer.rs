//! `carrier answer` (not --inbound): PPP as the authenticator against a
//! pppd secrets file, through a modem that answers or on a null-modem
//! line.

use std::sync::Arc;

use carrier::answerer::{self, Screening};
use carrier::events::{Format, Reporter};
use carrier::net::choice::PlaneChoice;
use carrier::ppp::addrs::is_bad;
use carrier::ppp::auth::{AuthConfig, AuthProto};
use carrier::ppp::link::LinkConfig;
use carrier::secrets::SecretsTable;
use carrier::session::SessionConfig;

use super::common::*;
use crate::AnswerArgs;

pub fn answer_link(a: &AnswerArgs, secrets: SecretsTable) -> Result<LinkConfig, Fatal> {
    let dns = ms_dns(&a.ms_dns)?;
    // pppd's setipaddr refuses these too.
    for (flag, addr) in [("--local", a.local), ("--remote", a.remote)] {
        if let Some(ip) = addr.filter(|ip| ip.is_unspecified() || is_bad(*ip)) {
            return Err(fatal(
                EXIT_CONFIG,
                format!(
                    "{flag} {ip}: not a link address (0.0.0.0, loopback, multicast or class E)"
                ),
            ));
        }
    }
    if a.remote.is_some() && a.remote == a.local {
        return Err(fatal(EXIT_CONFIG, "--local and --remote must differ"));
    }
    let mut link = link_config(&a.ppp);
    apply_ipv6(&mut link, &a.ppp)?;
    let require = required_auth(a.require_pap, a.require_chap);
    link.lcp.require_auth = if require.is_empty() {
        vec![AuthProto::ChapMd5]
    } else {
        require
    };
    link.ipcp.local = a.local;
    link.ipcp.remote = a.remote;
    link.ipcp.dns = dns;
    link.auth = AuthConfig {
        name: a.name.clone(),
        secrets: Arc::new(secrets),
        ..AuthConfig::default()
    };
    Ok(link)
}

pub async fn answer(a: AnswerArgs, format: Format) -> Result<u8, Fatal> {
    if a.inbound {
        return super::inbound::answer_inbound(a, format).await;
    }
    let path = a.secrets.clone().unwrap_or_default();
    let secrets = load_secrets(&path)?;
    if secrets.is_empty() {
        return Err(fatal(
            EXIT_CONFIG,
            format!("{}: no secrets: nobody could log in", path.display()),
        ));
    }
    let link = answer_link(&a, secrets)?;
    let setup = answer_setup(&a.line, &a.modem)?;
    let screening = Screening::new(&[("--allow-caller", &a.modem.allow_caller)])?;
    let reporter = Reporter::new(format);
    let stop = stop_on_signals()?;
    let session = SessionConfig {
        link,
        pcap: a.line.pcap.clone(),
        hooks: hook_setup(&a.line, &a.hooks),
        ..SessionConfig::default()
    };
    let plane = || PlaneChoice::new(a.line.no_tun, a.line.ifname());
    Ok(answerer::serve(
        &setup,
        &screening,
        &session,
        a.modem.persist,
        plane,
        &reporter,
        stop,
    )
    .await?)
}
