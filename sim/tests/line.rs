//! What the line does to the bytes of a call: pacing, latency and
//! faults.

mod support;

use std::time::Duration;

use carrier_sim::Destination::Modem;
use carrier_sim::{FaultSpec, SimConfig, TimeScale};
use support::{start, Dte};
use tokio::time::Instant;

/// Two modems, modem1 answering at the first ring; `faults` on the route
/// to it.
fn pair(dir: &std::path::Path, scale: f64, speed: u32, faults: FaultSpec) -> SimConfig {
    let mut c = SimConfig::new(dir.join("links"), 2).route_with_faults("100", Modem(1), faults);
    c.time_scale = TimeScale::new(scale).unwrap();
    for m in &mut c.modems {
        m.speed = Some(speed);
        m.latency = Duration::ZERO;
    }
    c.modems[1].profile = Some("S0=1".into());
    c
}

async fn call(a: &mut Dte, b: &mut Dte, speed: u32) {
    a.at("ATE0").await;
    b.at("ATE0").await;
    a.send("ATDT100\r").await;
    let connect = format!("CONNECT {speed}\r\n");
    a.expect(&connect).await;
    b.expect(&connect).await;
}

/// Bytes per second from the first chunk's arrival to the last's (the
/// first chunk's bytes were on the line before the clock started).
fn rate(chunks: &[(Instant, usize)]) -> f64 {
    let (t0, first) = chunks[0];
    let t1 = chunks.last().unwrap().0;
    let bytes: usize = chunks.iter().map(|c| c.1).sum::<usize>() - first;
    bytes as f64 / (t1 - t0).as_secs_f64()
}

#[tokio::test]
async fn pacing_at_9600_bits_per_second_is_within_5_percent() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(pair(dir.path(), 1.0, 9600, FaultSpec::default()));
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    let mut b = Dte::open(sim.link(1).unwrap()).await;
    call(&mut a, &mut b, 9600).await;
    // 2.5 s of data at 960 bytes per second.
    let data: Vec<u8> = (0..2400u32).map(|i| b'a' + (i % 26) as u8).collect();
    let (sent, chunks) = tokio::join!(a.send(&data), b.read_timed(data.len()));
    let () = sent;
    let measured = rate(&chunks);
    eprintln!(
        "pacing: {measured:.1} bytes/s at 9600 bit/s (expected 960.0, {:+.2}%)",
        (measured / 960.0 - 1.0) * 100.0
    );
    assert!((measured / 960.0 - 1.0).abs() < 0.05, "{measured} bytes/s");
    // The other way too.
    let (sent, chunks) = tokio::join!(b.send(&data[..1200]), a.read_timed(1200));
    let () = sent;
    let measured = rate(&chunks);
    eprintln!("pacing back: {measured:.1} bytes/s");
    assert!((measured / 960.0 - 1.0).abs() < 0.05, "{measured} bytes/s");
}

#[tokio::test]
async fn time_scale_applies_to_pacing_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = pair(dir.path(), 0.25, 9600, FaultSpec::default());
    config.modems[0].latency = Duration::from_millis(800);
    let sim = start(config);
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    let mut b = Dte::open(sim.link(1).unwrap()).await;
    call(&mut a, &mut b, 9600).await;
    // 800 ms of latency at a quarter: 200 ms.
    let t = Instant::now();
    a.send("x").await;
    b.read_exact(1).await;
    let delay = t.elapsed();
    assert!(
        delay >= Duration::from_millis(200) && delay < Duration::from_millis(600),
        "{delay:?}"
    );
    // 9600 bit/s at a quarter of the time: 3840 bytes per second.
    let data = vec![b'z'; 4800];
    let (sent, chunks) = tokio::join!(a.send(&data), b.read_timed(data.len()));
    let () = sent;
    let measured = rate(&chunks);
    eprintln!("scaled pacing: {measured:.1} bytes/s (expected 3840)");
    assert!((measured / 3840.0 - 1.0).abs() < 0.1, "{measured} bytes/s");
}

/// Sends `n` bytes of 0x55 from modem0 to modem1 over a fast line with
/// `faults` and returns what arrived.
async fn through(faults: FaultSpec, seed: u64, modem_faults: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = pair(dir.path(), 0.01, 115_200, FaultSpec::default());
    if modem_faults {
        config.modems[0].faults = faults;
    } else {
        config.routes[0].1.faults = faults;
    }
    config.seed = seed;
    let sim = start(config);
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    let mut b = Dte::open(sim.link(1).unwrap()).await;
    call(&mut a, &mut b, 115_200).await;
    let (sent, got) = tokio::join!(
        a.send(vec![0x55u8; 20_000]),
        b.read_until_quiet(Duration::from_millis(500))
    );
    let () = sent;
    got
}

#[tokio::test]
async fn corruption_at_the_rate_and_the_same_for_the_same_seed() {
    let faults = FaultSpec {
        corrupt_rate: Some(0.01),
        ..FaultSpec::default()
    };
    let first = through(faults.clone(), 7, false).await;
    assert_eq!(first.len(), 20_000);
    let bad = first.iter().filter(|b| **b != 0x55).count();
    assert!((100..=320).contains(&bad), "{bad} corrupted of 20000 at 1%");
    assert_eq!(
        first,
        through(faults.clone(), 7, false).await,
        "same seed, same noise"
    );
    assert_ne!(
        first,
        through(faults.clone(), 8, false).await,
        "another seed, other noise"
    );
    // The same fault set on the modem instead of the route.
    let on_modem = through(faults, 7, true).await;
    assert!(on_modem.iter().any(|b| *b != 0x55));
}

#[tokio::test]
async fn dropped_bursts() {
    let faults = FaultSpec {
        drop_rate: Some(0.001),
        drop_burst: Some(16),
        ..FaultSpec::default()
    };
    let got = through(faults, 1, false).await;
    let lost = 20_000 - got.len();
    assert!((100..=800).contains(&lost), "lost {lost}");
    assert!(got.iter().all(|b| *b == 0x55), "dropping does not corrupt");
}

#[tokio::test]
async fn carrier_drops_after_the_given_time() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultSpec {
        carrier_drop_ms: Some(4000),
        ..FaultSpec::default()
    };
    let sim = start(pair(dir.path(), 0.05, 33600, faults));
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    let mut b = Dte::open(sim.link(1).unwrap()).await;
    call(&mut a, &mut b, 33600).await;
    let t = Instant::now();
    a.send("before the drop").await;
    assert_eq!(b.read_exact(15).await, b"before the drop");
    // 4 s at a twentieth: 200 ms after CONNECT, both ends lose carrier.
    a.expect("\r\nNO CARRIER\r\n").await;
    b.expect("\r\nNO CARRIER\r\n").await;
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(a.at("AT").await, "\r\nOK\r\n");
    assert_eq!(b.at("AT").await, "\r\nOK\r\n");
}

#[tokio::test]
async fn a_far_end_that_answers_and_never_speaks() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultSpec {
        silent: Some(true),
        ..FaultSpec::default()
    };
    let sim = start(pair(dir.path(), 0.05, 33600, faults));
    let mut a = Dte::open(sim.link(0).unwrap()).await;
    let mut b = Dte::open(sim.link(1).unwrap()).await;
    call(&mut a, &mut b, 33600).await;
    a.send("LCP Configure-Request").await;
    assert_eq!(b.read_exact(21).await, b"LCP Configure-Request");
    b.send("LCP Configure-Ack").await;
    assert!(a.read_for(Duration::from_millis(300)).await.is_empty());
}
