//! `carrier detect` against the simulator's modems and against PTYs that
//! are not modems: silent, ERROR to everything, garbage, an echo.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use carrier::modem::detect::{self, detect, DetectOptions, DetectResult, Reason};
use carrier_hw::Pty;
use carrier_sim::{model, Sim, SimConfig, TimeScale};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

fn opts(lock_dir: &Path) -> DetectOptions {
    DetectOptions {
        total: Duration::from_secs(10),
        per_command: Duration::from_millis(800),
        speeds: vec![115200, 57600, 9600],
        lock_dir: Some(lock_dir.to_path_buf()),
    }
}

/// Every command line the simulated modems executed, from their logs.
#[derive(Clone, Default)]
struct Commands(Arc<Mutex<Vec<String>>>);

struct CommandField<'a>(&'a mut Option<String>);

impl Visit for CommandField<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "command" {
            *self.0 = Some(value.to_string());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "command" {
            // Display fields (`%x`) arrive here, formatted by Display.
            *self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Commands {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut cmd = None;
        event.record(&mut CommandField(&mut cmd));
        if let Some(c) = cmd {
            self.0.lock().unwrap().push(c);
        }
    }
}

async fn ctl_get(path: &Path) -> String {
    let s = UnixStream::connect(path).await.unwrap();
    let (r, mut w) = s.into_split();
    w.write_all(b"GET\n").await.unwrap();
    let mut lines = BufReader::new(r).lines();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if line.split_whitespace().count() == 10 {
            return line;
        }
    }
}

#[tokio::test]
async fn simulated_models_are_told_apart_and_none_goes_off_hook() {
    let commands = Commands::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(commands.clone()));
    let dir = tempfile::tempdir().unwrap();
    let mut config = SimConfig::new(dir.path().join("links"), 3);
    config.time_scale = TimeScale::new(0.05).unwrap();
    let models = [
        &model::HAYES_ACCURA,
        &model::USR_COURIER,
        &model::CONEXANT_HSF,
    ];
    for (spec, m) in config.modems.iter_mut().zip(models) {
        spec.model = m;
    }
    let sim = Sim::start(config).unwrap();
    let locks = tempfile::tempdir().unwrap();

    let results = detect(sim.links().to_vec(), opts(locks.path())).await;

    assert_eq!(results.len(), 3);
    for ((r, m), link) in results.iter().zip(models).zip(sim.links()) {
        let d = r
            .detected()
            .unwrap_or_else(|| panic!("{}: {r:?}", m.id))
            .clone();
        assert_eq!(&d.port, link);
        assert_eq!(d.manufacturer.as_deref(), Some(m.gmi), "{}", m.id);
        assert_eq!(d.model.as_deref(), Some(m.gmm), "{}", m.id);
        assert_eq!(d.revision.as_deref(), Some(m.gmr), "{}", m.id);
        let gcap: Vec<String> = m
            .gcap
            .trim_start_matches("+GCAP:")
            .split(',')
            .map(|c| c.trim().to_string())
            .collect();
        assert_eq!(d.capabilities, gcap, "{}", m.id);
        // A PTY: one speed, the first.
        assert_eq!(d.speed, Some(115200));
        assert!(d.init.starts_with("ATQ0 V1 E1"), "{}", d.init);
        assert!(d.init.contains("&D2"), "{}", d.init);
        assert_eq!(d.responses["ATI3"].join("\n"), m.info[3], "{}", m.id);
        assert_eq!(d.usb, None);
    }
    // Two different models really came out different.
    let names: Vec<_> = results
        .iter()
        .map(|r| r.detected().unwrap().model.clone())
        .collect();
    assert_ne!(names[0], names[1]);
    assert_ne!(names[1], names[2]);

    let table = detect::table(&results);
    assert!(table.contains("Courier V.Everything"), "{table}");
    assert!(table.contains("CONEXANT / V92 / 7.80.4.0"), "{table}");
    let json = serde_json::to_string(&results).unwrap();
    assert!(json.contains("\"result\":\"detected\""), "{json}");

    // What the modems executed: detection's commands, and nothing that
    // dials, answers, goes on line or off hook.
    let seen = commands.0.lock().unwrap().clone();
    assert!(seen.iter().any(|c| c == "AT+GMM"), "{seen:?}");
    for c in &seen {
        assert!(!detect::goes_off_hook(c), "a modem executed {c:?}");
    }
    // And no call: no carrier on any line, lock files gone.
    for ctl in sim.ctls() {
        assert!(ctl_get(ctl).await.starts_with("DCD 0 RI 0"), "{ctl:?}");
    }
    assert_eq!(std::fs::read_dir(locks.path()).unwrap().count(), 0);
    drop(sim);
}

/// A PTY whose far end does `answer` with what it reads.
fn fake(answer: fn(&[u8]) -> Vec<u8>) -> (PathBuf, JoinHandle<()>) {
    let pty = Pty::open().unwrap();
    let path = pty.slave_path().to_path_buf();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            match pty.master.read(&mut buf).await {
                Ok(n) if n > 0 => {
                    let out = answer(&buf[..n]);
                    if !out.is_empty() && pty.master.write_all(&out).await.is_err() {
                        return;
                    }
                }
                // EIO while no one has the slave open: wait for the next.
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    });
    (path, task)
}

fn silent(_: &[u8]) -> Vec<u8> {
    Vec::new()
}

fn error_to_all(input: &[u8]) -> Vec<u8> {
    input
        .iter()
        .filter(|&&b| b == b'\r')
        .flat_map(|_| b"\r\nERROR\r\n".to_vec())
        .collect()
}

fn garbage(input: &[u8]) -> Vec<u8> {
    input
        .iter()
        .flat_map(|&b| [0xff, b ^ 0x80, 0x00, 0x1b, 0x9b, 0x07])
        .chain(*b"\r\n")
        .collect()
}

fn echo(input: &[u8]) -> Vec<u8> {
    input.to_vec()
}

fn reason(results: &[DetectResult], port: &Path) -> Reason {
    let r = results.iter().find(|r| r.port() == port).unwrap();
    r.reason()
        .unwrap_or_else(|| panic!("{} detected: {r:?}", port.display()))
        .clone()
}

#[tokio::test]
async fn ports_that_are_not_modems_say_why() {
    let locks = tempfile::tempdir().unwrap();
    let (quiet, t1) = fake(silent);
    let (errors, t2) = fake(error_to_all);
    let (noise, t3) = fake(garbage);
    let (loopback, t4) = fake(echo);
    let (locked, t5) = fake(echo);
    // PID 1 holds this one (it is always alive).
    let lock_name = carrier_hw::lock::lock_file_name(&locked).unwrap();
    std::fs::write(
        locks.path().join(lock_name),
        carrier_hw::lock::format_lock_content(1),
    )
    .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    let missing = PathBuf::from("/dev/carrier-no-such-tty");

    let mut o = opts(locks.path());
    o.per_command = Duration::from_millis(1000);
    let start = Instant::now();
    let ports = vec![
        quiet.clone(),
        errors.clone(),
        noise.clone(),
        loopback.clone(),
        locked.clone(),
        file.path().to_path_buf(),
        missing.clone(),
    ];
    let results = detect(ports.clone(), o).await;
    let took = start.elapsed();
    for t in [t1, t2, t3, t4, t5] {
        t.abort();
    }

    let got: Vec<PathBuf> = results.iter().map(|r| r.port().to_path_buf()).collect();
    assert_eq!(got, ports, "in the order given");
    assert_eq!(
        reason(&results, &quiet),
        Reason::Silent {
            speeds: vec![115200]
        }
    );
    assert_eq!(reason(&results, &errors), Reason::ErrorToEverything);
    assert!(
        matches!(reason(&results, &noise), Reason::Garbage { noise } if noise > 0),
        "{:?}",
        reason(&results, &noise)
    );
    assert!(
        matches!(reason(&results, &loopback), Reason::Talks { lines } if lines > 0),
        "{:?}",
        reason(&results, &loopback)
    );
    assert_eq!(reason(&results, &locked), Reason::Locked { pid: 1 });
    assert_eq!(reason(&results, file.path()), Reason::NotATty);
    assert!(
        matches!(reason(&results, &missing), Reason::Missing { .. }),
        "{:?}",
        reason(&results, &missing)
    );
    // Concurrently: the silent, the garbage and the echoing port each
    // take three tries of 1 s, so one after the other would be 9 s; the
    // room above 3 s is for a loaded machine.
    assert!(took < Duration::from_secs(6), "{took:?}");
    let table = detect::table(&results);
    assert!(table.contains("answers ERROR to every command"), "{table}");
    assert!(table.contains("in use by process 1"), "{table}");
    // Only the lock we planted is left.
    assert_eq!(std::fs::read_dir(locks.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn the_total_time_is_a_bound() {
    let locks = tempfile::tempdir().unwrap();
    let (quiet, t1) = fake(silent);
    let (quiet2, t2) = fake(silent);
    let o = DetectOptions {
        total: Duration::from_millis(700),
        per_command: Duration::from_secs(5),
        speeds: vec![115200],
        lock_dir: Some(locks.path().to_path_buf()),
    };
    let start = Instant::now();
    let results = detect(vec![quiet.clone(), quiet2.clone()], o).await;
    let took = start.elapsed();
    t1.abort();
    t2.abort();
    // 700 ms of budget, not 5 s a command; room for a loaded machine.
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(reason(&results, &quiet), Reason::TimedOut);
    assert_eq!(reason(&results, &quiet2), Reason::TimedOut);
}

#[tokio::test]
async fn no_ports_no_results() {
    // Given nothing, detection enumerates the machine's ports; with an
    // impossible budget every one of them times out, and none hangs.
    let o = DetectOptions {
        total: Duration::ZERO,
        lock_dir: None,
        ..DetectOptions::default()
    };
    let start = Instant::now();
    let results = detect(Vec::new(), o).await;
    assert!(start.elapsed() < Duration::from_secs(2));
    for r in &results {
        assert!(r.detected().is_none(), "{r:?}");
    }
}
