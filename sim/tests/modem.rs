//! The simulated modems through their PTYs, as a dialer sees them.

mod support;

use std::time::Duration;

use carrier_sim::model;
use carrier_sim::Destination::{self, Busy, Modem, NoAnswer, NoDialtone};
use support::{fast, start, Ctl, Dte};
use tokio::time::Instant;

/// S12's default guard time (1 s) at the tests' time scale (0.05).
const GUARD: Duration = Duration::from_millis(50);

fn svc(name: &str) -> Destination {
    Destination::Service(name.into())
}

#[tokio::test]
async fn commands_over_the_pty() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(fast(dir.path(), 1));
    let mut dte = Dte::open(sim.link(0).unwrap()).await;
    assert_eq!(dte.at("AT").await, "AT\r\r\nOK\r\n");
    assert_eq!(dte.at("ATE0").await, "ATE0\r\r\nOK\r\n");
    assert_eq!(
        dte.at("ATI3").await,
        format!("\r\n{}\r\n\r\nOK\r\n", model::HAYES_ACCURA.info[3])
    );
    assert_eq!(
        dte.at("AT+GMM").await,
        format!("\r\n{}\r\n\r\nOK\r\n", model::HAYES_ACCURA.gmm)
    );
    assert_eq!(dte.at("ATS7=45S7?").await, "\r\n045\r\n\r\nOK\r\n");
    dte.send("ATV0\r").await;
    assert_eq!(dte.expect("\r").await, "0\r");
    dte.send("ATQ1V1\r").await;
    dte.send("ATS0?\r").await;
    assert_eq!(dte.expect("000\r\n").await, "\r\n000\r\n");
    assert!(
        dte.read_for(Duration::from_millis(100)).await.is_empty(),
        "Q1: no OK"
    );
}

#[tokio::test]
async fn each_modem_has_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 4);
    for (spec, m) in config.modems.iter_mut().zip(model::MODELS) {
        spec.model = m;
    }
    let sim = start(config);
    for (i, m) in model::MODELS.iter().enumerate() {
        let mut dte = Dte::open(sim.link(i).unwrap()).await;
        dte.at("ATE0").await;
        assert_eq!(
            dte.at("AT+GMI").await,
            format!("\r\n{}\r\n\r\nOK\r\n", m.gmi)
        );
        assert!(dte.at("ATI3").await.contains(m.info[3]));
    }
}

#[tokio::test]
async fn stored_profile_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 1);
    config.modems[0].profile = Some("S0=2 E0".into());
    let sim = start(config);
    let mut dte = Dte::open(sim.link(0).unwrap()).await;
    assert_eq!(dte.at("ATS0?").await, "\r\n002\r\n\r\nOK\r\n");
    assert_eq!(dte.at("ATS0=0Z").await, "\r\nOK\r\n");
    assert_eq!(dte.at("ATS0?").await, "\r\n002\r\n\r\nOK\r\n");
}

#[tokio::test]
async fn a_bad_profile_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 1);
    config.modems[0].profile = Some("S7=0".into());
    let e = carrier_sim::Sim::start(config).unwrap_err();
    assert!(e.to_string().starts_with("modem0: "), "{e}");
}

#[tokio::test]
async fn dial_answer_data_and_hang_up_from_either_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 2).route("555-0100", Modem(1));
    config.modems[0].model = &model::USR_COURIER;
    let sim = start(config);
    let mut callee = Dte::open(sim.link(1).unwrap()).await;
    let mut caller = Dte::open(sim.link(0).unwrap()).await;
    callee.at("ATE0S0=1").await;
    caller.at("ATE0").await;
    caller.send("ATDT555-0100\r").await;
    // The slower modem sets the speed.
    assert_eq!(
        callee.expect("CONNECT 33600\r\n").await,
        "\r\nRING\r\n\r\nCONNECT 33600\r\n"
    );
    assert_eq!(
        caller.expect("CONNECT 33600\r\n").await,
        "\r\nCONNECT 33600\r\n"
    );
    caller.send("hello, callee").await;
    assert_eq!(callee.read_exact(13).await, b"hello, callee");
    callee.send("hello, caller").await;
    assert_eq!(caller.read_exact(13).await, b"hello, caller");

    // The caller hangs up: escape, ATH; the callee hears NO CARRIER and is
    // back in command state.
    caller.escape(GUARD).await;
    assert_eq!(caller.at("ATH").await, "\r\nOK\r\n");
    callee.expect("\r\nNO CARRIER\r\n").await;
    assert_eq!(callee.at("AT").await, "\r\nOK\r\n");

    // Again, and now the callee hangs up.
    caller.send("ATD T 555 0100\r").await;
    callee.expect("CONNECT 33600\r\n").await;
    caller.expect("CONNECT 33600\r\n").await;
    callee.escape(GUARD).await;
    assert_eq!(callee.at("ATH0").await, "\r\nOK\r\n");
    caller.expect("\r\nNO CARRIER\r\n").await;
    assert_eq!(caller.at("AT").await, "\r\nOK\r\n");
}

#[tokio::test]
async fn rings_at_the_cadence_counted_in_s1_until_ata() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 2).route("100", Modem(1));
    config.time_scale = carrier_sim::TimeScale::new(0.1).unwrap();
    let sim = start(config);
    let mut callee = Dte::open(sim.link(1).unwrap()).await;
    let mut caller = Dte::open(sim.link(0).unwrap()).await;
    callee.at("ATE0").await;
    caller.at("ATE0").await;
    caller.send("ATDT100\r").await;
    let mut rings = Vec::new();
    for _ in 0..3 {
        callee.expect("RING\r\n").await;
        rings.push(Instant::now());
    }
    // 6 s at a tenth of real time.
    for pair in rings.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(560) && gap <= Duration::from_millis(900),
            "ring cadence {gap:?}"
        );
    }
    assert_eq!(callee.at("ATS1?").await, "\r\n003\r\n\r\nOK\r\n");
    callee.send("ATA\r").await;
    callee.expect("CONNECT 56000\r\n").await;
    caller.expect("CONNECT 56000\r\n").await;
}

/// What the callee prints over its first three RINGs of a call from
/// modem0 (set up by `caller`), with `setup` typed on the callee first.
async fn three_rings(caller: impl FnOnce(&mut carrier_sim::ModemSpec), setup: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 2).route("100", Modem(1));
    caller(&mut config.modems[0]);
    let sim = start(config);
    let mut callee = Dte::open(sim.link(1).unwrap()).await;
    let mut caller = Dte::open(sim.link(0).unwrap()).await;
    callee.at(setup).await;
    caller.at("ATE0").await;
    caller.send("ATDT100\r").await;
    let mut got = String::new();
    for _ in 0..3 {
        got += &callee.expect("RING\r\n").await;
    }
    got
}

#[tokio::test]
async fn caller_id_follows_the_first_ring_when_asked_for() {
    let got = three_rings(
        |m| {
            m.number = Some("555-0142".into());
            m.caller_name = Some("JOHN DOE".into());
        },
        "ATE0+VCID=1",
    )
    .await;
    // RING, the block, RING, RING: once per call, between the first two.
    let parts: Vec<&str> = got.split("RING\r\n").collect();
    assert_eq!(parts.len(), 4, "{got:?}");
    let block = parts[1];
    assert!(
        block.starts_with("\r\nDATE = ") && block.ends_with("\r\n\r\n"),
        "{got:?}"
    );
    let lines: Vec<&str> = block.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[0].len() == 11 && lines[0][7..].bytes().all(|b| b.is_ascii_digit()));
    assert!(lines[1].starts_with("TIME = ") && lines[1].len() == 11);
    assert_eq!(lines[2], "NMBR = 5550142", "the number as dialable digits");
    assert_eq!(lines[3], "NAME = JOHN DOE");
    assert!(!parts[2].contains("NMBR") && !parts[3].contains("NMBR"));
}

#[tokio::test]
async fn no_caller_id_unless_asked_for() {
    let got = three_rings(|m| m.number = Some("5550142".into()), "ATE0").await;
    assert!(!got.contains("NMBR") && !got.contains("DATE"), "{got:?}");
    // ATZ turns it off again.
    let got = three_rings(|m| m.number = Some("5550142".into()), "ATE0+VCID=1;Z").await;
    assert!(!got.contains("NMBR"), "{got:?}");
}

#[tokio::test]
async fn a_withheld_or_missing_number_is_private() {
    let withheld = three_rings(
        |m| {
            m.number = Some("5550142".into());
            m.caller_name = Some("JOHN DOE".into());
            m.withhold = true;
        },
        "ATE0#CID=1",
    )
    .await;
    assert!(withheld.contains("\r\nNMBR = P\r\n"), "{withheld:?}");
    assert!(!withheld.contains("5550142") && !withheld.contains("NAME"));
    let none = three_rings(|_| {}, "ATE0+VCID=1").await;
    assert!(none.contains("\r\nNMBR = P\r\n"), "{none:?}");
}

#[tokio::test]
async fn a_call_answered_at_the_first_ring_gets_no_caller_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 2).route("100", Modem(1));
    config.modems[0].number = Some("5550142".into());
    let sim = start(config);
    let mut callee = Dte::open(sim.link(1).unwrap()).await;
    let mut caller = Dte::open(sim.link(0).unwrap()).await;
    callee.at("ATE0S0=1+VCID=1").await;
    caller.at("ATE0").await;
    caller.send("ATDT100\r").await;
    let got = callee.expect("CONNECT 56000\r\n").await;
    assert!(!got.contains("NMBR"), "{got:?}");
    caller.expect("CONNECT 56000\r\n").await;
}

#[tokio::test]
async fn auto_answers_after_s0_rings() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(fast(dir.path(), 2).route("100", Modem(1)));
    let mut callee = Dte::open(sim.link(1).unwrap()).await;
    let mut caller = Dte::open(sim.link(0).unwrap()).await;
    callee.at("ATE0S0=3").await;
    caller.at("ATE0").await;
    caller.send("ATDT100\r").await;
    let got = callee.expect("CONNECT 56000\r\n").await;
    assert_eq!(got.matches("RING").count(), 3, "{got:?}");
    caller.expect("CONNECT 56000\r\n").await;
}

#[tokio::test]
async fn the_caller_gives_up_after_s7_with_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(
        fast(dir.path(), 2)
            .route("100", Modem(1))
            .route("200", NoAnswer),
    );
    let mut callee = Dte::open(sim.link(1).unwrap()).await;
    let mut caller = Dte::open(sim.link(0).unwrap()).await;
    callee.at("ATE0").await;
    caller.at("ATE0S7=20").await;
    // 20 s at a twentieth: 1 s of ringing, then NO ANSWER.
    let start = Instant::now();
    caller.send("ATDT100\r").await;
    callee.expect("RING").await;
    caller.expect("\r\nNO ANSWER\r\n").await;
    assert!(
        start.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
    // The callee stops ringing and is idle again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    callee.drain().await;
    assert!(
        callee.read_for(Duration::from_millis(700)).await.is_empty(),
        "still ringing"
    );
    let start = Instant::now();
    caller.send("ATDT200\r").await;
    caller.expect("\r\nNO ANSWER\r\n").await;
    assert!(start.elapsed() >= Duration::from_millis(1000));
}

#[tokio::test]
async fn busy_shaped_by_the_x_level() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(fast(dir.path(), 1).route("555-0199", Busy));
    let mut dte = Dte::open(sim.link(0).unwrap()).await;
    dte.at("ATE0").await;
    for (x, shown) in [
        (4, "BUSY"),
        (3, "BUSY"),
        (2, "NO CARRIER"),
        (1, "NO CARRIER"),
        (0, "NO CARRIER"),
    ] {
        dte.at(&format!("ATX{x}")).await;
        dte.send("ATDT5550199\r").await;
        assert_eq!(
            dte.expect_any(&["BUSY\r\n", "CARRIER\r\n"]).await,
            format!("\r\n{shown}\r\n"),
            "X{x}"
        );
    }
    dte.send("ATX4V0\r").await;
    dte.expect("0\r").await;
    dte.send("ATDT5550199\r").await;
    assert_eq!(dte.expect("\r").await, "7\r");
}

#[tokio::test]
async fn no_dialtone_shaped_by_the_x_level() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(fast(dir.path(), 1).route("555-0197", NoDialtone));
    let mut dte = Dte::open(sim.link(0).unwrap()).await;
    dte.at("ATE0S7=10").await;
    for (x, shown) in [
        (4, "NO DIALTONE"),
        (2, "NO DIALTONE"),
        (3, "NO CARRIER"),
        (0, "NO CARRIER"),
    ] {
        dte.at(&format!("ATX{x}")).await;
        dte.send("ATDT5550197\r").await;
        assert_eq!(
            dte.expect_any(&["TONE\r\n", "CARRIER\r\n"]).await,
            format!("\r\n{shown}\r\n"),
            "X{x}"
        );
    }
    // W listens for the dial tone at X3 too (no blind wait); X3 still
    // says NO CARRIER.
    dte.send("ATX3V0\r").await;
    dte.expect("0\r").await;
    dte.send("ATDTW5550197\r").await;
    assert_eq!(dte.expect("\r").await, "3\r");
    dte.send("ATX4\r").await;
    dte.expect("0\r").await;
    dte.send("ATDT5550197\r").await;
    assert_eq!(dte.expect("\r").await, "6\r");
}

#[tokio::test]
async fn connect_without_speed_at_x0_and_numeric() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 2).route("100", Modem(1));
    // Nobody has modem1's port open: &D0, or DTR would be off and it
    // would not answer.
    config.modems[1].profile = Some("S0=1 &D0".into());
    config.modems[0].speed = Some(9600);
    let sim = start(config);
    let mut caller = Dte::open(sim.link(0).unwrap()).await;
    caller.at("ATE0X0").await;
    caller.send("ATDT100\r").await;
    caller.expect("\r\nCONNECT\r\n").await;
    caller.escape(GUARD).await;
    caller.at("ATH").await;
    caller.send("ATX4V0\r").await;
    caller.expect("0\r").await;
    caller.send("ATDT100\r").await;
    assert_eq!(caller.expect("\r").await, "12\r");
}

#[tokio::test]
async fn a_modem_in_a_call_or_off_hook_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(
        fast(dir.path(), 3)
            .route("1", Modem(1))
            .route("0", Modem(0)),
    );
    let mut m0 = Dte::open(sim.link(0).unwrap()).await;
    let mut m1 = Dte::open(sim.link(1).unwrap()).await;
    let mut m2 = Dte::open(sim.link(2).unwrap()).await;
    for m in [&mut m0, &mut m1, &mut m2] {
        m.at("ATE0").await;
    }
    m1.at("ATH1").await;
    m0.send("ATDT1\r").await;
    m0.expect("\r\nBUSY\r\n").await;
    // Calling yourself: your own line is busy.
    m0.send("ATDT0\r").await;
    m0.expect("\r\nBUSY\r\n").await;
    m1.at("ATH0S0=1").await;
    m0.send("ATDT1\r").await;
    m0.expect("CONNECT 56000\r\n").await;
    m1.expect("CONNECT 56000\r\n").await;
    m2.send("ATDT1\r").await;
    m2.expect("\r\nBUSY\r\n").await;
}

#[tokio::test]
async fn escape_needs_guard_time_and_ato_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 2).route("1", Modem(1));
    config.modems[1].profile = Some("S0=1".into());
    let sim = start(config);
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    let mut b = Dte::open(sim.link(1).unwrap()).await;
    a.at("ATE0").await;
    a.send("ATDT1\r").await;
    a.expect("CONNECT 56000\r\n").await;
    b.expect("CONNECT 56000\r\n").await;
    // Pluses glued to data are data, and so is a fourth plus.
    a.send("x+++").await;
    tokio::time::sleep(GUARD * 3).await;
    a.send("++++").await;
    tokio::time::sleep(GUARD * 3).await;
    assert!(
        a.read_for(GUARD * 2).await.is_empty(),
        "no OK for unguarded pluses"
    );
    assert_eq!(b.read_exact(8).await, b"x+++++++");
    // Guarded: OK, and the pluses still reach the far end.
    a.escape(GUARD).await;
    assert_eq!(b.read_exact(3).await, b"+++");
    assert_eq!(a.at("ATS12?").await, "\r\n050\r\n\r\nOK\r\n");
    // Far-end data waits while in command state, then arrives after ATO.
    b.send("while you were out").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(a.at("AT").await, "\r\nOK\r\n");
    a.send("ATO\r").await;
    assert_eq!(
        a.expect("\r\nCONNECT 56000\r\n").await,
        "\r\nCONNECT 56000\r\n"
    );
    assert_eq!(a.read_exact(18).await, b"while you were out");
    a.send("back").await;
    assert_eq!(b.read_exact(4).await, b"back");
    // A longer guard time (S12=255: 255 ms here) and another escape
    // character (S2).
    a.escape(GUARD).await;
    a.at("ATS12=255S2=45").await;
    a.send("ATO\r").await;
    a.expect("CONNECT 56000\r\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.send("---").await;
    assert!(
        a.try_expect("OK", Duration::from_millis(120))
            .await
            .is_none(),
        "the guard time after the escape is not over yet"
    );
    a.expect("\r\nOK\r\n").await;
    // Online command state refuses to dial or answer.
    assert_eq!(a.at("ATDT2").await, "\r\nERROR\r\n");
    assert_eq!(a.at("ATA").await, "\r\nERROR\r\n");
}

#[tokio::test]
async fn closing_the_port_drops_dtr_per_and_d() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 2).route("1", Modem(1));
    config.modems[1].profile = Some("S0=1".into());
    let sim = start(config);
    let mut b = Dte::open(sim.link(1).unwrap()).await;
    // &D2 (the default): closing the port hangs up.
    {
        let mut a = Dte::open(sim.link(0).unwrap()).await;
        a.send("ATDT1\r").await;
        a.expect("CONNECT 56000\r\n").await;
        b.expect("CONNECT 56000\r\n").await;
    }
    b.expect("\r\nNO CARRIER\r\n").await;
    // &D0: the call stays up without the DTE.
    {
        let mut a = Dte::open(sim.link(0).unwrap()).await;
        a.at("ATE0&D0").await;
        a.send("ATDT1\r").await;
        a.expect("CONNECT 56000\r\n").await;
        b.expect("CONNECT 56000\r\n").await;
    }
    assert!(b
        .try_expect("NO CARRIER", Duration::from_millis(500))
        .await
        .is_none());
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    b.send("still here").await;
    assert_eq!(a.read_exact(10).await, b"still here");
    a.escape(GUARD).await;
    a.at("ATH").await;
    b.expect("NO CARRIER").await;
}

#[tokio::test]
async fn control_socket_reports_and_drives_the_lines() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(fast(dir.path(), 2).route("1", Modem(1)));
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    let mut b = Dte::open(sim.link(1).unwrap()).await;
    let mut a_ctl = Ctl::connect(sim.ctl(0).unwrap()).await;
    let mut b_ctl = Ctl::connect(sim.ctl(1).unwrap()).await;
    assert_eq!(a_ctl.command("GET").await, "DCD 0 RI 0 DSR 1 CTS 1 DTR 1");
    assert!(a_ctl.command("FROB").await.starts_with("ERROR"));
    assert_eq!(a_ctl.command("RTS 0").await, "DCD 0 RI 0 DSR 1 CTS 1 DTR 1");
    a.at("ATE0").await;
    b.at("ATE0").await;
    a.send("ATDT1\r").await;
    // RI rises with each ring, falls between.
    assert_eq!(b_ctl.wait_for("RI").await, "RI 1");
    assert_eq!(b_ctl.wait_for("RI").await, "RI 0");
    b.send("ATA\r").await;
    assert_eq!(b_ctl.wait_for("DCD").await, "DCD 1");
    assert_eq!(a_ctl.wait_for("DCD").await, "DCD 1");
    a.expect("CONNECT 56000\r\n").await;
    b.expect("CONNECT 56000\r\n").await;
    // &D2: DTR off hangs up with OK; the far end hears NO CARRIER.
    let reply = a_ctl.command("DTR 0").await;
    assert_eq!(reply, "DCD 0 RI 0 DSR 1 CTS 1 DTR 0");
    a.expect("\r\nOK\r\n").await;
    b.expect("\r\nNO CARRIER\r\n").await;
    assert_eq!(b_ctl.wait_for("DCD").await, "DCD 0");
    // While DTR is off under &D2 the modem does not answer.
    b_ctl.command("DTR 0").await;
    b.at("ATS0=1").await;
    a_ctl.command("DTR 1").await;
    a.at("ATS7=10").await;
    a.send("ATDT1\r").await;
    b.expect("RING").await;
    a.expect("\r\nNO ANSWER\r\n").await;
    // &D1: DTR off drops to online command state, the call stays.
    b_ctl.command("DTR 1").await;
    b.drain().await;
    a.at("AT&D1").await;
    a.send("ATDT1\r").await;
    a.expect("CONNECT 56000\r\n").await;
    b.expect("CONNECT 56000\r\n").await;
    a_ctl.command("DTR 0").await;
    a.expect("\r\nOK\r\n").await;
    assert_eq!(a.at("AT").await, "\r\nOK\r\n");
    a_ctl.command("DTR 1").await;
    a.send("ATO\r").await;
    a.expect("CONNECT 56000\r\n").await;
    a.send("data").await;
    assert_eq!(b.read_exact(4).await, b"data");
    // &D3: DTR off resets (ATZ): the call ends, settings go back.
    a.escape(GUARD).await;
    a.at("AT&D3S7=11").await;
    a.send("ATO\r").await;
    a.expect("CONNECT 56000\r\n").await;
    a_ctl.command("DTR 0").await;
    a.expect("\r\nOK\r\n").await;
    b.expect("NO CARRIER").await;
    a_ctl.command("DTR 1").await;
    assert_eq!(a.at("ATS7?").await, "ATS7?\r\r\n050\r\n\r\nOK\r\n");
    // &C0: DCD always on.
    a.at("ATE0&C0").await;
    assert_eq!(a_ctl.command("GET").await, "DCD 1 RI 0 DSR 1 CTS 1 DTR 1");
    // A client that goes away lets go of DTR; the port's DTR shows too.
    drop(a);
    assert!(a_ctl.wait_for("DTR").await.ends_with("DTR 0"));
    drop(b_ctl);
    let mut b_ctl = Ctl::connect(sim.ctl(1).unwrap()).await;
    assert_eq!(b_ctl.command("GET").await, "DCD 0 RI 0 DSR 1 CTS 1 DTR 1");
}

#[tokio::test]
async fn unrouted_numbers_and_dial_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 2).route("555-0100", Modem(1));
    config.modems[1].profile = Some("S0=1 &D0".into());
    let sim = start(config);
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    a.at("ATE0").await;
    a.send("ATDT5550111\r").await;
    a.expect("\r\nNO CARRIER\r\n").await;
    // 9, is an outside-line prefix; the rest routes.
    a.send("ATDT9,555-0100\r").await;
    a.expect("CONNECT 56000\r\n").await;
    a.escape(GUARD).await;
    a.at("ATH").await;
    a.send("ATDP9W5550100\r").await;
    a.expect("CONNECT 56000\r\n").await;
    a.escape(GUARD).await;
    a.at("ATH").await;
    // ; returns to command state after dialing.
    a.send("ATDT5550100;\r").await;
    a.expect("\r\nOK\r\n").await;
    a.at("ATH").await;
    // A/ redials.
    a.send("ATDT5550111\r").await;
    a.expect("NO CARRIER").await;
    a.send("A/").await;
    a.expect("NO CARRIER").await;
}

#[tokio::test]
async fn a_key_aborts_dialing_and_ata_alone_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(fast(dir.path(), 1).route("200", NoAnswer));
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    a.at("ATE0").await;
    a.send("ATDT200\r").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    a.send("x").await;
    a.expect("\r\nNO CARRIER\r\n").await;
    assert!(start.elapsed() < Duration::from_millis(1500));
    assert_eq!(a.at("AT").await, "\r\nOK\r\n");
    a.at("ATS7=10").await;
    let start = Instant::now();
    a.send("ATA\r").await;
    a.expect("\r\nNO CARRIER\r\n").await;
    assert!(start.elapsed() >= Duration::from_millis(500));
}

#[tokio::test]
async fn bad_input_gets_error_and_the_modem_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(fast(dir.path(), 1));
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    a.at("ATE0").await;
    for bad in [
        "ATS7=0",
        "ATS7=300",
        "ATS99?",
        "ATJ",
        "AT&Q9",
        "AT+FOO",
        "ATI10",
        "ATX7",
        &format!("AT{}", "E0".repeat(40)),
        &format!("AT{}", "S".repeat(5000)),
    ] {
        assert_eq!(
            a.at(bad).await,
            "\r\nERROR\r\n",
            "{}",
            &bad[..bad.len().min(20)]
        );
        assert_eq!(
            a.at("AT").await,
            "\r\nOK\r\n",
            "after {}",
            &bad[..bad.len().min(20)]
        );
    }
    // Binary garbage without an AT: ignored.
    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i * 7919 % 251) as u8)
        .filter(|b| *b != b'A' && *b != b'a')
        .collect();
    a.send(&garbage).await;
    assert!(a.read_for(Duration::from_millis(200)).await.is_empty());
    assert_eq!(a.at("AT").await, "\r\nOK\r\n");
    // Binary garbage inside a line: ERROR at the line's end.
    let mut line = b"AT".to_vec();
    line.extend(
        (0..200u32)
            .map(|i| (i * 31 % 256) as u8)
            .filter(|b| *b != b'\r'),
    );
    line.push(b'\r');
    a.send(&line).await;
    a.expect("ERROR\r\n").await;
    assert_eq!(a.at("AT").await, "\r\nOK\r\n");
    // Every byte value, with echo on, does not wedge it either.
    a.at("ATE1").await;
    let all: Vec<u8> = (0..=255u8).collect();
    a.send(&all).await;
    a.send("\r").await;
    a.drain().await;
    a.send("\rATE0V1Q0\r").await;
    a.expect("OK\r\n").await;
    assert_eq!(a.at("AT").await, "\r\nOK\r\n");
}

#[tokio::test]
async fn links_and_sockets_go_away_with_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(fast(dir.path(), 2));
    let paths: Vec<_> = sim.links().iter().chain(sim.ctls()).cloned().collect();
    assert_eq!(paths.len(), 4);
    assert!(paths[0].ends_with("modem0") && paths[2].ends_with("modem0.ctl"));
    for p in &paths {
        assert!(std::fs::symlink_metadata(p).is_ok(), "{}", p.display());
    }
    drop(sim);
    for p in &paths {
        assert!(
            std::fs::symlink_metadata(p).is_err(),
            "{} left behind",
            p.display()
        );
    }
    // A second simulator on the same directory replaces stale links.
    let sim = start(fast(dir.path(), 1));
    let sim2 = start(fast(dir.path(), 1));
    assert_eq!(sim.link(0), sim2.link(0));
}

#[tokio::test]
async fn services_answer_calls() {
    use carrier_sim::{CallInfo, Service};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    #[derive(Default)]
    struct Greeter {
        calls: Mutex<Vec<CallInfo>>,
    }
    impl Service for Greeter {
        fn answer(&self, mut line: DuplexStream, caller: CallInfo) {
            self.calls.lock().unwrap().push(caller);
            tokio::spawn(async move {
                line.write_all(b"welcome\r\n").await.unwrap();
                let mut buf = [0u8; 64];
                let n = line.read(&mut buf).await.unwrap();
                line.write_all(&buf[..n]).await.unwrap();
                // Hang up.
            });
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let greeter = Arc::new(Greeter::default());
    let config = fast(dir.path(), 1)
        .route("1-800-555-0123", svc("access-server"))
        .route("7", svc("echo"))
        .route("8", svc("silent"))
        .service("access-server", greeter.clone());
    let sim = start(config);
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    a.at("ATE0").await;
    a.send("ATDT18005550123\r").await;
    a.expect("\r\nCONNECT 56000\r\n").await;
    a.expect("welcome\r\n").await;
    a.send("ping").await;
    assert_eq!(a.read_exact(4).await, b"ping");
    a.expect("\r\nNO CARRIER\r\n").await;
    let calls = greeter.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].caller, "modem0");
    assert_eq!(calls[0].number, "18005550123");
    assert_eq!(calls[0].speed, 56000);

    a.send("ATDT7\r").await;
    a.expect("CONNECT 56000\r\n").await;
    a.send("echo me").await;
    assert_eq!(a.read_exact(7).await, b"echo me");
    a.escape(GUARD).await;
    a.at("ATH").await;

    a.send("ATDT8\r").await;
    a.expect("CONNECT 56000\r\n").await;
    a.send("anyone?").await;
    assert!(a.read_for(Duration::from_millis(300)).await.is_empty());
}
