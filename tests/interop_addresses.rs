//! The address column of a secrets line, against the reference
//! implementation: pppd 2.4.9 (inside user-mode-linux, tests/support/
//! pppd.rs) dials `carrier answer` as alice, whose line allows her one
//! address, and asks for an address (`noipdefault`). Without `--remote`
//! she gets hers; with a `--remote` outside her line she is refused, and
//! both logs say why. Needs root and the pppd peer, else skips loudly
//! (fails under CI=true).

mod support;

use std::time::Duration;

use support::carrier::{secrets_file, Carrier};
use support::pppd::{start_or_skip, Pppd, PppdOptions};

const CALLER: &str = "local noccp novj noipv6 debug noauth user alice password s3cret noipdefault";

fn log_of(pppd: &Pppd) -> String {
    format!("--- pppd log ---\n{}", pppd.log())
}

/// pppd dialing `carrier answer` with alice's line allowing 10.77.0.5,
/// plus `extra` arguments.
fn answer(tag: &str, extra: &[&str]) -> Option<(Pppd, Carrier, std::path::PathBuf)> {
    let dir = std::env::temp_dir().join(format!("carrier-addr-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secrets = secrets_file(&dir, "alice carrier s3cret 10.77.0.5\n");
    let pppd = start_or_skip(PppdOptions::from_str_args(CALLER))?;
    let device = pppd.device().to_str().unwrap().to_string();
    let mut args = vec![
        "answer",
        "--direct",
        "--device",
        &device,
        "--secrets",
        secrets.to_str().unwrap(),
        "--local",
        "10.77.0.1",
        "--no-tun",
    ];
    args.extend_from_slice(extra);
    let c = Carrier::spawn(&args);
    Some((pppd, c, dir))
}

#[test]
fn without_remote_pppd_gets_the_address_of_its_line() {
    let Some((mut pppd, mut c, dir)) = answer("given", &[]) else {
        return;
    };
    let up = c
        .wait_event("ipcp-up", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no ipcp-up; {:?}\n{}", c.seen, log_of(&pppd)));
    assert_eq!(up["local"], "10.77.0.1");
    assert_eq!(up["peer"], "10.77.0.5");
    assert!(
        pppd.wait_log("local  IP address 10.77.0.5", Duration::from_secs(5)),
        "{}",
        log_of(&pppd)
    );
    // pppd asked for 0.0.0.0 and was Nak'ed to its line's address.
    assert!(
        pppd.log()
            .contains("rcvd [IPCP ConfNak id=0x1 <addr 10.77.0.5>]"),
        "{}",
        log_of(&pppd)
    );
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(10)), Some(5));
    assert!(pppd.wait_exit(Duration::from_secs(15)).is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_remote_outside_the_line_refuses_pppd() {
    let Some((mut pppd, mut c, dir)) = answer("refused", &["--remote", "10.77.0.2"]) else {
        return;
    };
    let refused = c
        .wait_event("ipcp-refused", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no ipcp-refused; {:?}\n{}", c.seen, log_of(&pppd)));
    assert_eq!(refused["address"], "10.77.0.2");
    let down = c.wait_event("down", Duration::from_secs(15)).expect("down");
    assert_eq!(down["reason"], "no-network-protocols");
    assert_eq!(c.wait_exit(Duration::from_secs(10)), Some(10));
    assert!(
        c.seen.iter().all(|v| v["event"] != "ipcp-up"),
        "{:?}",
        c.seen
    );
    // pppd authenticated, was told why, and never had an address.
    assert!(
        pppd.wait_log(
            "LCP terminated by peer (Unauthorized remote IP address)",
            Duration::from_secs(10)
        ),
        "{}",
        log_of(&pppd)
    );
    assert!(pppd.wait_exit(Duration::from_secs(15)).is_some());
    let log = pppd.log();
    assert!(log.contains("rcvd [CHAP Success"), "{}", log_of(&pppd));
    assert!(!log.contains("local  IP address"), "{}", log_of(&pppd));
    std::fs::remove_dir_all(&dir).unwrap();
}
