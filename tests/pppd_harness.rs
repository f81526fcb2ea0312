//! Self-test of the real-pppd harness (tests/support/pppd.rs): pppd 2.4.9 in
//! user-mode-linux on a host PTY. Skips loudly when the peer is not
//! installed, unless CI=true.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use support::pppd::{start_or_skip, start_pair_or_skip, PppdOptions};

const LCP_CONFREQ_START: [u8; 6] = [0x7e, 0xff, 0x7d, 0x23, 0xc0, 0x21];

fn server() -> PppdOptions {
    PppdOptions::from_str_args("noauth local noccp novj noipv6 10.77.0.1:10.77.0.2 debug passive")
}

fn client() -> PppdOptions {
    PppdOptions::from_str_args("noauth local noccp novj noipv6 noipdefault debug passive")
}

/// Reads from `f` until `want` shows up in the stream or `timeout` passes,
/// then closes `f`. Reads with VMIN=0 VTIME=1 so no read blocks for long.
fn read_until(mut f: std::fs::File, want: &[u8], timeout: Duration) -> Vec<u8> {
    use nix::sys::termios::{tcgetattr, tcsetattr, SetArg, SpecialCharacterIndices as Cc};
    use std::os::fd::AsFd;
    let orig = tcgetattr(f.as_fd()).expect("tcgetattr");
    let mut t = orig.clone();
    t.control_chars[Cc::VMIN as usize] = 0;
    t.control_chars[Cc::VTIME as usize] = 1;
    tcsetattr(f.as_fd(), SetArg::TCSANOW, &t).expect("tcsetattr");
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.windows(want.len()).any(|w| w == want) && Instant::now() < deadline {
        match f.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the pty: {e}"),
        }
    }
    tcsetattr(f.as_fd(), SetArg::TCSANOW, &orig).expect("tcsetattr");
    got
}

#[test]
fn pppd_sends_lcp_configure_request_and_exits_on_sigterm() {
    let Some(mut pppd) = start_or_skip(server()) else {
        return;
    };
    eprintln!(
        "boot to ready: {:?} ({})",
        pppd.boot_time(),
        pppd.device().display()
    );

    let dev = pppd.open_device().expect("open pty slave");
    let got = read_until(dev, &LCP_CONFREQ_START, Duration::from_secs(10));
    assert!(
        got.windows(LCP_CONFREQ_START.len())
            .any(|w| w == LCP_CONFREQ_START),
        "no LCP Configure-Request frame (7e ff 7d 23 c0 21 ...) in {got:02x?}"
    );

    assert!(
        pppd.wait_log("sent [LCP ConfReq", Duration::from_secs(5)),
        "log:\n{}",
        pppd.log()
    );

    // A client closing the device must not hang pppd up (the harness keeps
    // its own fd of the slave open): the test's fd above is closed already;
    // open and close once more.
    drop(pppd.open_device().expect("reopen pty slave"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        pppd.exec("kill -0 $PPPD_PID", Duration::from_secs(10))
            .map(|r| r.0),
        Some(0),
        "pppd died"
    );
    assert!(
        !pppd.log().contains("hangup"),
        "pppd saw a hangup:\n{}",
        pppd.log()
    );

    pppd.terminate();
    let code = pppd.wait_exit(Duration::from_secs(20));
    assert!(
        code.is_some(),
        "pppd did not exit after SIGTERM; log:\n{}",
        pppd.log()
    );
    eprintln!("pppd exit status after SIGTERM: {code:?}");
    assert!(
        pppd.log().contains("sent [LCP ConfReq"),
        "log:\n{}",
        pppd.log()
    );
}

#[test]
fn exec_runs_commands_in_the_guest() {
    let Some(pppd) = start_or_skip(server()) else {
        return;
    };
    let t = Instant::now();
    let r = pppd.exec("echo hi", Duration::from_secs(10));
    eprintln!("exec round trip: {:?}", t.elapsed());
    assert_eq!(r, Some((0, "hi\n".to_string())));
    assert_eq!(
        pppd.exec("echo oops >&2; exit 3", Duration::from_secs(10)),
        Some((3, "oops\n".to_string()))
    );
    // pppd is PID $PPPD_PID in the guest and has the tty open.
    let (rc, out) = pppd
        .exec("ls -l /proc/$PPPD_PID/fd", Duration::from_secs(10))
        .expect("exec");
    assert_eq!(rc, 0);
    assert!(out.contains("/dev/ttyS0"), "{out}");
}

#[test]
fn two_pppd_peers_back_to_back_reach_ipcp_up() {
    let t = Instant::now();
    let Some((a, b, link)) = start_pair_or_skip(server(), client()) else {
        return;
    };
    let joined = Instant::now();
    eprintln!(
        "both booted in {:?} (boot times {:?} / {:?})",
        joined - t,
        a.boot_time(),
        b.boot_time()
    );

    let up = |p: &support::pppd::Pppd| p.wait_log("local  IP address", Duration::from_secs(30));
    assert!(up(&a), "server never reached IPCP up; log:\n{}", a.log());
    assert!(up(&b), "client never reached IPCP up; log:\n{}", b.log());
    eprintln!(
        "IPCP up {:?} after joining; link bytes {:?}",
        joined.elapsed(),
        link.bytes()
    );
    assert!(
        a.log().contains("local  IP address 10.77.0.1"),
        "{}",
        a.log()
    );
    assert!(
        b.log().contains("local  IP address 10.77.0.2"),
        "{}",
        b.log()
    );

    // Data plane: a ping across the link (the first packet may be dropped
    // right after IPCP opens, so allow several).
    let (rc, out) = a
        .exec(
            "/bin/busybox ping -c 3 -W 2 10.77.0.2",
            Duration::from_secs(20),
        )
        .expect("exec ping");
    assert_eq!(rc, 0, "ping failed:\n{out}");
}
