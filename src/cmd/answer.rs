//! `carrier answer` (not --inbound): PPP as the authenticator against a
//! pppd secrets file, through a modem that answers or on a null-modem
//! line.

use std::sync::Arc;

use carrier::events::{Format, Reporter};
use carrier::ppp::auth::{AuthConfig, AuthProto};
use carrier::ppp::link::LinkConfig;
use carrier::secrets::SecretsTable;
use carrier::session::SessionConfig;
use serde_json::json;

use super::common::*;
use super::line::{AnswerLine, Screening};
use crate::AnswerArgs;

pub fn answer_link(a: &AnswerArgs, secrets: SecretsTable) -> Result<LinkConfig, Fatal> {
    if a.ms_dns.len() > 2 {
        return Err(fatal(EXIT_CONFIG, "at most two --ms-dns servers"));
    }
    let mut link = link_config(&a.ppp);
    apply_ipv6(&mut link, &a.ppp, None, false)?;
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
    let screening = Screening::new(&[("--allow-caller", &a.modem.allow_caller)])?;
    let reporter = Reporter::new(format);
    let mut stop = stop_on_signals()?;
    loop {
        let Some(mut line) = AnswerLine::open(
            &a.line,
            &a.modem,
            &screening,
            &reporter,
            stop.clone(),
            "PPP",
        )
        .await?
        else {
            return Ok(EXIT_SIGNAL);
        };
        let cfg = SessionConfig {
            link: link.clone(),
            pcap: a.line.pcap.clone(),
            hooks: hook_setup(&a.line, &a.hooks),
            ..SessionConfig::default()
        };
        let outcome = line
            .run_over(a.line.ip_plane(), cfg, &reporter, stop.clone())
            .await;
        line.close(&reporter).await;
        let code = finish(&reporter, &outcome?);
        if !a.modem.persist || *stop.borrow_and_update() {
            return Ok(code);
        }
        reporter.emit(
            "persist",
            json!({"last_exit_code": code}),
            "call over: waiting for the next one",
        );
    }
}
