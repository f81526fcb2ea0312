//! PPP on a null-modem line (`--direct`, pppd's `local`): `carrier dial`
//! as the client and `carrier answer` as the authenticator.

use std::sync::Arc;

use carrier::events::{Format, Reporter};
use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::ppp::link::LinkConfig;
use carrier::secrets::{read_private, SecretsTable};
use carrier::session::SessionConfig;
use serde_json::json;

use super::common::*;
use super::line::AnswerLine;
use crate::{AnswerArgs, DialArgs};

pub async fn dial(a: DialArgs, format: Format) -> Result<u8, Fatal> {
    let mut link = link_config(&a.ppp);
    link.ipcp.request_dns = a.usepeerdns;
    link.lcp.require_auth = required_auth(a.require_pap, a.require_chap);
    let password = match (&a.password, &a.password_file) {
        (Some(p), _) => Some(Secret::new(p.expose().as_bytes())),
        (None, Some(f)) => {
            let text = read_private(f).map_err(|e| fatal(EXIT_CONFIG, e.to_string()))?;
            Some(Secret::new(text.lines().next().unwrap_or("").as_bytes()))
        }
        (None, None) => None,
    };
    let secrets = match &a.secrets {
        Some(p) => load_secrets(p)?,
        None => SecretsTable::default(),
    };
    if password.is_some() && a.user.is_none() {
        return Err(fatal(EXIT_CONFIG, "--password needs --user"));
    }
    link.auth = AuthConfig {
        name: a.user.clone().unwrap_or_default(),
        password,
        secrets: Arc::new(secrets),
        remote_name: a.remotename.clone(),
    };
    let mut tty = open_line(&a.line)?;
    let reporter = Reporter::new(format);
    reporter.emit(
        "connect",
        json!({"device": tty.path(), "speed": a.line.speed, "direct": true}),
        &format!("{}: direct line, starting PPP", tty.path().display()),
    );
    let stop = stop_on_signals()?;
    let cfg = SessionConfig {
        link,
        pcap: a.line.pcap.clone(),
        ..SessionConfig::default()
    };
    let outcome = a
        .line
        .ip_plane()
        .run(&mut tty, cfg, &reporter, stop)
        .await?;
    Ok(finish(&reporter, &outcome))
}

pub fn answer_link(a: &AnswerArgs, secrets: SecretsTable) -> Result<LinkConfig, Fatal> {
    if a.ms_dns.len() > 2 {
        return Err(fatal(EXIT_CONFIG, "at most two --ms-dns servers"));
    }
    let mut link = link_config(&a.ppp);
    let require = required_auth(a.require_pap, a.require_chap);
    link.lcp.require_auth = if require.is_empty() {
        vec![AuthProto::ChapMd5]
    } else {
        require
    };
    link.ipcp.local = a.local;
    link.ipcp.remote = a.remote;
    link.ipcp.dns = [a.ms_dns.first().copied(), a.ms_dns.get(1).copied()];
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
    let reporter = Reporter::new(format);
    let stop = stop_on_signals()?;
    let Some(mut line) =
        AnswerLine::open(&a.line, &a.modem, &reporter, stop.clone(), "PPP").await?
    else {
        return Ok(EXIT_SIGNAL);
    };
    let cfg = SessionConfig {
        link,
        pcap: a.line.pcap.clone(),
        ..SessionConfig::default()
    };
    let outcome = a
        .line
        .ip_plane()
        .run_answer(&mut line, cfg, &reporter, stop)
        .await;
    line.close(&reporter).await;
    Ok(finish(&reporter, &outcome?))
}
