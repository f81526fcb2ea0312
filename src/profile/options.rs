//! pppd's PPP options as given (a flag, or a profile's field under it),
//! and the [`LinkConfig`] they make: [`LinkConfig::pppd`] with each given
//! option over its default.

use std::time::Duration;

use crate::ppp::ccp::{CcpConfig, Sizes};
use crate::ppp::fsm::FsmConfig;
use crate::ppp::ipcp::VjConfig;
use crate::ppp::ipv6cp::{self, Ipv6cpConfig};
use crate::ppp::link::{EchoConfig, LinkConfig};

use super::error::MergeError;

/// Each field is pppd's option of that name; None or false: not given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PppOptions {
    pub mru: Option<u16>,
    pub asyncmap: Option<u32>,
    pub lcp_echo_interval: Option<u64>,
    pub lcp_echo_failure: Option<u32>,
    pub lcp_echo_adaptive: bool,
    /// Seconds; pppd's default 3.
    pub lcp_restart: u64,
    pub lcp_max_configure: u32,
    pub lcp_max_terminate: u32,
    pub lcp_max_failure: u32,
    pub passive: bool,
    pub nomagic: bool,
    pub noaccomp: bool,
    pub nopcomp: bool,
    /// `+ipv6` (empty) or `ipv6 LOCAL,REMOTE`.
    pub ipv6: Option<String>,
    pub noipv6: bool,
    pub ipv6cp_accept_local: bool,
    pub ipv6cp_accept_remote: bool,
    pub noip: bool,
    pub novj: bool,
    pub vj_max_slots: Option<u8>,
    pub novjccomp: bool,
    pub noccp: bool,
    pub deflate: Option<Sizes>,
    pub nodeflate: bool,
    pub nodeflatedraft: bool,
    pub bsdcomp: Option<Sizes>,
    pub nobsdcomp: bool,
}

impl Default for PppOptions {
    /// Nothing given: the automaton's counters at pppd's defaults.
    fn default() -> Self {
        let fsm = FsmConfig::default();
        PppOptions {
            mru: None,
            asyncmap: None,
            lcp_echo_interval: None,
            lcp_echo_failure: None,
            lcp_echo_adaptive: false,
            lcp_restart: fsm.restart.as_secs(),
            lcp_max_configure: fsm.max_configure,
            lcp_max_terminate: fsm.max_terminate,
            lcp_max_failure: fsm.max_failure,
            passive: false,
            nomagic: false,
            noaccomp: false,
            nopcomp: false,
            ipv6: None,
            noipv6: false,
            ipv6cp_accept_local: false,
            ipv6cp_accept_remote: false,
            noip: false,
            novj: false,
            vj_max_slots: None,
            novjccomp: false,
            noccp: false,
            deflate: None,
            nodeflate: false,
            nodeflatedraft: false,
            bsdcomp: None,
            nobsdcomp: false,
        }
    }
}

impl PppOptions {
    /// [`LinkConfig::pppd`] under these options; IPv6CP is left to
    /// [`PppOptions::apply_ipv6`].
    pub fn link_config(&self) -> LinkConfig {
        let p = self;
        let fsm = FsmConfig {
            restart: Duration::from_secs(p.lcp_restart.max(1)),
            max_terminate: p.lcp_max_terminate,
            max_configure: p.lcp_max_configure,
            max_failure: p.lcp_max_failure,
            passive: p.passive,
        };
        let mut c = LinkConfig::pppd();
        c.lcp_fsm = fsm;
        c.ipcp_fsm = fsm;
        c.ccp_fsm = fsm;
        c.echo = EchoConfig {
            // pppd's lcp-echo-interval 0: no echoes (not one every loop,
            // which would declare the link dead at once).
            interval: p
                .lcp_echo_interval
                .filter(|s| *s > 0)
                .map(Duration::from_secs),
            failure: p.lcp_echo_failure.unwrap_or(c.echo.failure),
            adaptive: p.lcp_echo_adaptive,
        };
        if let Some(mru) = p.mru {
            c.lcp.mru = mru;
        }
        if let Some(accm) = p.asyncmap {
            c.lcp.accm = accm;
        }
        c.lcp.magic &= !p.nomagic;
        c.lcp.acfc &= !p.noaccomp;
        c.lcp.pfc &= !p.nopcomp;
        c.ipcp.vj = c.ipcp.vj.filter(|_| !p.novj).map(|vj| VjConfig {
            max_slot: p.vj_max_slots.map_or(vj.max_slot, |n| n - 1),
            compress_slot: vj.compress_slot && !p.novjccomp,
        });
        c.ccp = c.ccp.filter(|_| !p.noccp).map(|ccp| CcpConfig {
            deflate: ccp
                .deflate
                .filter(|_| !p.nodeflate)
                .map(|d| p.deflate.unwrap_or(d)),
            deflate_draft: ccp.deflate_draft && !p.nodeflatedraft,
            bsd: ccp
                .bsd
                .filter(|_| !p.nobsdcomp)
                .map(|b| p.bsdcomp.unwrap_or(b)),
        });
        c
    }

    /// pppd's `+ipv6` / `ipv6 <local>,<remote>` / `noipv6` / `noip`, these
    /// options over a profile's `ipv6` (true, false, or "LOCAL,REMOTE")
    /// and `noip`.
    pub fn apply_ipv6(
        &self,
        link: &mut LinkConfig,
        profile: Option<&str>,
        profile_noip: bool,
    ) -> Result<(), MergeError> {
        let p = self;
        let spec = if p.noipv6 {
            None
        } else {
            p.ipv6.as_deref().or(profile)
        };
        link.ipv6 = match spec {
            None => None,
            Some(s) => {
                let (local, remote) =
                    ipv6cp::parse_pair(s).map_err(|e| MergeError::new(format!("--ipv6: {e}")))?;
                Some(Ipv6cpConfig {
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
            return Err(MergeError::new(
                "--noip without --ipv6 leaves the link nothing to carry",
            ));
        }
        Ok(())
    }
}
