//! A test's figures and the holes it found, printed as a table to
//! stderr at its end, and the checks that the binary under test stayed
//! the one cargo built.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::hostile::{ports_text, Scan};

/// A test's figures and the holes it found; printed at the end (also
/// when the test panics early), straight to fd 2 past libtest's capture.
pub struct Report {
    name: &'static str,
    rows: Vec<[String; 9]>,
    notes: Vec<String>,
    holes: Vec<String>,
    started: Instant,
    printed: bool,
}

impl Report {
    pub fn new(name: &'static str) -> Report {
        quiet_consoles();
        check_binary(name);
        Report {
            name,
            rows: Vec::new(),
            notes: Vec::new(),
            holes: Vec::new(),
            started: Instant::now(),
            printed: false,
        }
    }

    pub fn scan(&mut self, family: &str, s: &Scan, took: Duration) {
        self.rows.push([
            family.to_string(),
            s.what.clone(),
            s.probed.len().to_string(),
            s.open.len().to_string(),
            s.closed.len().to_string(),
            s.unreachable.len().to_string(),
            s.dropped.len().to_string(),
            format!("{:.1}s", took.as_secs_f64()),
            if s.answered_from.is_empty() {
                ports_text(&s.open)
            } else {
                format!(
                    "{} (answered from {})",
                    ports_text(&s.open),
                    s.answered_from
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            },
        ]);
    }

    /// A row for probes that are not port scans (ping, IPv6, spoofing).
    pub fn row(&mut self, family: &str, what: &str, probed: usize, answered: usize, detail: &str) {
        self.rows.push([
            family.to_string(),
            what.to_string(),
            probed.to_string(),
            answered.to_string(),
            "-".into(),
            "-".into(),
            (probed.saturating_sub(answered)).to_string(),
            "".into(),
            detail.to_string(),
        ]);
    }

    pub fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    pub fn check(&mut self, ok: bool, hole: impl FnOnce() -> String) {
        if !ok {
            self.holes.push(hole());
        }
    }

    pub fn print(&mut self) {
        self.printed = true;
        let head = [
            "family",
            "target",
            "probed",
            "open",
            "closed",
            "unreach",
            "dropped",
            "time",
            "open/answered",
        ];
        let mut w = [0usize; 9];
        for r in self
            .rows
            .iter()
            .map(|r| r.each_ref().map(|s| s.as_str()))
            .chain([head])
        {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count().min(60));
            }
        }
        let line = |r: [&str; 9]| {
            let mut s = String::from("  ");
            for (i, c) in r.iter().enumerate() {
                if i == 8 {
                    s.push_str(c);
                } else if (2..=7).contains(&i) {
                    s.push_str(&format!("{c:>width$}  ", width = w[i]));
                } else {
                    s.push_str(&format!("{c:<width$}  ", width = w[i]));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = format!(
            "\n==== {} ({:.1} s) ====\n",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
        out += &line(head);
        for r in &self.rows {
            out += &line(r.each_ref().map(|s| s.as_str()));
        }
        for n in &self.notes {
            out += &format!("  note: {n}\n");
        }
        if self.holes.is_empty() {
            out += "  holes: none\n";
        } else {
            out += &format!("  holes: {}\n", self.holes.len());
            for h in &self.holes {
                out += &format!("  - {h}\n");
            }
        }
        let _ = std::io::stderr().write_all(out.as_bytes());
    }

    pub fn finish(mut self) {
        self.print();
        check_binary(self.name);
        let holes = std::mem::take(&mut self.holes);
        assert!(
            holes.is_empty(),
            "{}: {} hole(s) in the boundary:\n- {}",
            self.name,
            holes.len(),
            holes.join("\n- ")
        );
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if !self.printed {
            self.print();
        }
    }
}

/// The consoles' logs: info, not every frame (`-v` traces each one, and
/// a scan is 65535 of them). CARRIER_LOG set by the caller stands.
fn quiet_consoles() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("CARRIER_LOG").is_none() {
            std::env::set_var("CARRIER_LOG", "info");
        }
    });
}

/// The binary under test must stay the one cargo built for this run: the
/// target directory may be shared with another work tree, whose build
/// replaces `target/debug/carrier` (figures of someone else's code). Its
/// identity is taken at the first check and compared at every other.
fn check_binary(test: &str) {
    use std::os::unix::fs::MetadataExt;
    static PINNED: std::sync::OnceLock<(u64, u64, u64, i64)> = std::sync::OnceLock::new();
    let bin = Path::new(env!("CARGO_BIN_EXE_carrier"));
    let Ok(m) = std::fs::metadata(bin) else {
        return;
    };
    let now = (m.dev(), m.ino(), m.len(), m.mtime());
    let pinned = *PINNED.get_or_init(|| now);
    assert_eq!(
        pinned,
        now,
        "{test}: {} was replaced during this run (another work tree's build?): \
         the figures would be someone else's code; run again",
        bin.display()
    );
}
