//! `carrier detect`: which ports have a modem, what it is, and the init
//! string that worked, without ever taking a modem off-hook.

use std::time::Duration;

use carrier::events::{Format, Reporter};
use carrier::modem::detect::{self, DetectOptions, DetectResult};

use super::common::*;
use crate::DetectArgs;

pub async fn detect(a: DetectArgs, format: Format) -> Result<u8, Fatal> {
    let defaults = DetectOptions::default();
    let opts = DetectOptions {
        total: Duration::from_secs(a.timeout),
        speeds: if a.speed.is_empty() {
            defaults.speeds.clone()
        } else {
            a.speed.clone()
        },
        lock_dir: a.lock_dir.clone().or(defaults.lock_dir.clone()),
        ..defaults
    };
    let results = detect::detect(a.ports.clone(), opts).await;
    let reporter = Reporter::new(format);
    match format {
        Format::Json => {
            for r in &results {
                reporter.emit("detect", serde_json::to_value(r).unwrap_or_default(), "");
            }
        }
        Format::Human => {
            if results.is_empty() {
                println!("no serial ports found");
            } else {
                print!("{}", detect::table(&results));
            }
        }
    }
    let found = results
        .iter()
        .any(|r| matches!(r, DetectResult::Detected(_)));
    Ok(if found { 0 } else { carrier::exit::NO_MODEM })
}
