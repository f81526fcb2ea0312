//! What the fuzz targets and the seed generator share.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::ppp::link::{EchoConfig, LinkConfig};
use carrier::secrets::SecretsTable;

/// The seed of the fuzzed link's random numbers (magic numbers, CHAP
/// challenges): fixed, so a recorded conversation replays exactly.
pub const LINK_SEED: [u8; 32] = [0; 32];

/// The authentication protocols that bits 1-2 of the configuration octet
/// choose for the server side.
fn auth(c: u8) -> Vec<AuthProto> {
    match (c >> 1) & 3 {
        0 => vec![],
        1 => vec![AuthProto::Pap],
        2 => vec![AuthProto::ChapMd5],
        _ => vec![AuthProto::ChapMd5, AuthProto::Pap],
    }
}

fn server(c: u8) -> LinkConfig {
    let mut cfg = LinkConfig::default();
    cfg.lcp.require_auth = auth(c);
    cfg.ipcp.local = Some(Ipv4Addr::new(10, 0, 0, 1));
    cfg.ipcp.remote = Some(Ipv4Addr::new(10, 0, 0, 2));
    cfg.ipcp.dns = [Some(Ipv4Addr::new(10, 0, 0, 53)), None];
    cfg.auth = AuthConfig {
        name: "server".into(),
        secrets: Arc::new(
            SecretsTable::parse("alice * s3cret *\n", "fuzz".as_ref()).expect("secrets"),
        ),
        ..AuthConfig::default()
    };
    cfg
}

fn client() -> LinkConfig {
    let mut cfg = LinkConfig::default();
    cfg.ipcp.request_dns = true;
    cfg.auth = AuthConfig {
        name: "alice".into(),
        password: Some(Secret::new("s3cret")),
        ..AuthConfig::default()
    };
    cfg
}

/// The fuzzed link's configuration from one octet: bit 0 server (else
/// client), bits 1-2 the server's required authentication, bit 3 LCP
/// echoes (bit 4 adaptive), bit 5 no magic number, bit 6 passive LCP, bit 7
/// MRU 296 and an XON/XOFF ACCM.
pub fn link_config(c: u8) -> LinkConfig {
    let mut cfg = if c & 1 != 0 { server(c) } else { client() };
    if c & 8 != 0 {
        cfg.echo = EchoConfig {
            interval: Some(Duration::from_secs(1)),
            failure: 3,
            adaptive: c & 16 != 0,
        };
    }
    cfg.lcp.magic = c & 32 == 0;
    cfg.lcp_fsm.passive = c & 64 != 0;
    if c & 128 != 0 {
        cfg.lcp.mru = 296;
        cfg.lcp.accm = 0x000a_0000;
    }
    cfg
}

/// A well-behaved peer for `link_config(c)`, for recording seeds.
pub fn peer_config(c: u8) -> LinkConfig {
    if c & 1 != 0 {
        client()
    } else {
        server(c)
    }
}
