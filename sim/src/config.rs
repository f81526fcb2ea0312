//! The TOML configuration file of `carrier-sim --config FILE`; the format
//! is described in sim/README.md and shown in sim/examples/exchange.toml.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::SimError;
use crate::exchange::{Destination, Route};
use crate::fault::FaultSpec;
use crate::model;
use crate::modem::ModemSpec;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// How many modems; `--modems` overrides.
    pub modems: Option<usize>,
    pub time_scale: Option<f64>,
    pub seed: Option<u64>,
    /// From one RING to the next, in milliseconds (default 6000).
    pub ring_cadence_ms: Option<u64>,
    /// Settings of single modems, by name: `[modem.modem0]`.
    #[serde(default)]
    pub modem: BTreeMap<String, ModemEntry>,
    /// `[[route]]` tables.
    #[serde(default)]
    pub route: Vec<RouteEntry>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModemEntry {
    /// A model id (`usr-courier`, `hayes-accura`, `conexant-hsf`,
    /// `usr-5637`).
    pub model: Option<String>,
    /// Line speed in bit/s (default: the model's).
    pub speed: Option<u32>,
    /// One-way latency in milliseconds (default 40).
    pub latency_ms: Option<u64>,
    /// The stored profile, run at power-on and by ATZ: `"S0=1 &D0"`.
    pub profile: Option<String>,
    #[serde(default)]
    pub faults: FaultSpec,
    /// The line's own number: the caller ID of its calls (`NMBR`).
    pub number: Option<String>,
    /// The name listed for the line (`NAME`), up to 15 characters.
    pub caller_name: Option<String>,
    /// Withhold number and name: the called modem sees `NMBR = P`.
    #[serde(default)]
    pub withhold: bool,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteEntry {
    pub number: String,
    pub dest: String,
    #[serde(default)]
    pub faults: FaultSpec,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::io(path, e))?;
        FileConfig::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, SimError> {
        toml::from_str(text).map_err(|e| SimError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The highest modem index the file names, if any.
    fn highest_modem(&self) -> Result<Option<usize>, String> {
        let mut highest = None;
        for name in self.modem.keys() {
            let index = modem_index(name)
                .ok_or_else(|| format!("[modem.{name}]: modems are named modem0, modem1, ..."))?;
            highest = highest.max(Some(index));
        }
        Ok(highest)
    }

    /// How many modems, when the command line does not say.
    pub fn modem_count(&self) -> Result<usize, String> {
        Ok(match self.modems {
            Some(n) => n,
            None => self.highest_modem()?.map_or(1, |h| h + 1),
        })
    }

    /// The specs of `count` modems, with this file's settings applied.
    pub fn modem_specs(
        &self,
        count: usize,
        default_model: Option<&str>,
    ) -> Result<Vec<ModemSpec>, SimError> {
        let invalid = |m: String| SimError::Invalid(m);
        if let Some(h) = self.highest_modem().map_err(invalid)? {
            if h >= count {
                return Err(invalid(format!(
                    "[modem.modem{h}] configured, but there are only {count} modems"
                )));
            }
        }
        let find_model = |name: &str| {
            model::by_id(name).ok_or_else(|| SimError::UnknownModel {
                name: name.to_string(),
                known: model::ids(),
            })
        };
        let base_model = match default_model {
            Some(name) => find_model(name)?,
            None => model::default_model(),
        };
        let mut specs = Vec::with_capacity(count);
        for i in 0..count {
            let mut spec = ModemSpec {
                model: base_model,
                ..ModemSpec::default()
            };
            if let Some(entry) = self.modem.get(&format!("modem{i}")) {
                if let Some(name) = &entry.model {
                    spec.model = find_model(name)?;
                }
                if entry.speed == Some(0) {
                    return Err(invalid(format!("modem{i}: speed must be above 0")));
                }
                spec.speed = entry.speed;
                if let Some(ms) = entry.latency_ms {
                    spec.latency = Duration::from_millis(ms);
                }
                spec.profile.clone_from(&entry.profile);
                entry
                    .faults
                    .validate()
                    .map_err(|e| invalid(format!("modem{i} faults: {e}")))?;
                spec.faults = entry.faults.clone();
                if let Some(n) = &entry.number {
                    if crate::exchange::normalize(n).is_empty() {
                        return Err(invalid(format!("modem{i}: number {n:?} has no digits")));
                    }
                }
                if let Some(name) = &entry.caller_name {
                    let printable = name.bytes().all(|b| (0x20..0x7f).contains(&b));
                    if name.trim().is_empty() || name.len() > crate::cid::MAX_NAME || !printable {
                        return Err(invalid(format!(
                            "modem{i}: caller_name {name:?}: 1 to {} printable ASCII characters",
                            crate::cid::MAX_NAME
                        )));
                    }
                }
                spec.number.clone_from(&entry.number);
                spec.caller_name.clone_from(&entry.caller_name);
                spec.withhold = entry.withhold;
            }
            specs.push(spec);
        }
        Ok(specs)
    }

    pub fn routes(&self) -> Result<Vec<(String, Route)>, SimError> {
        self.route
            .iter()
            .map(|r| {
                let dest: Destination = r.dest.parse().map_err(|reason| SimError::Route {
                    route: format!("{}={}", r.number, r.dest),
                    reason,
                })?;
                Ok((
                    r.number.clone(),
                    Route {
                        dest,
                        faults: r.faults.clone(),
                    },
                ))
            })
            .collect()
    }
}

fn modem_index(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("modem")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig, SimError> {
        FileConfig::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../examples/exchange.toml");
        let c = parse(text).unwrap();
        let specs = c.modem_specs(c.modem_count().unwrap(), None).unwrap();
        assert!(specs.len() >= 2);
        assert!(!c.routes().unwrap().is_empty());
    }

    #[test]
    fn modems_take_their_settings() {
        let c = parse(
            r#"
            [modem.modem1]
            model = "usr-courier"
            speed = 9600
            latency_ms = 5
            profile = "S0=1"
            faults = { corrupt_rate = 0.001 }
            number = "555-0142"
            caller_name = "ACME SERVICE"
            withhold = true
            "#,
        )
        .unwrap();
        assert_eq!(c.modem_count().unwrap(), 2);
        let specs = c.modem_specs(2, Some("conexant-hsf")).unwrap();
        assert_eq!(specs[0].model.id, "conexant-hsf");
        assert_eq!(specs[1].model.id, "usr-courier");
        assert_eq!(specs[1].speed(), 9600);
        assert_eq!(specs[1].latency, Duration::from_millis(5));
        assert_eq!(specs[1].profile.as_deref(), Some("S0=1"));
        assert_eq!(specs[1].faults.corrupt_rate, Some(0.001));
        assert_eq!(specs[1].number.as_deref(), Some("555-0142"));
        assert_eq!(specs[1].caller_name.as_deref(), Some("ACME SERVICE"));
        assert!(specs[1].withhold);
        assert_eq!(specs[1].calling_line(), crate::cid::CallingLine::default());
        assert_eq!(specs[0].number, None);
        assert!(!specs[0].withhold);
        assert!(c.modem_specs(1, None).is_err(), "modem1 with one modem");
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(parse("modems = \"two\"").is_err());
        assert!(parse("colour = 1").is_err());
        assert!(parse("[modem.modem0]\nspeed_bps = 1").is_err());
        let c = parse("[modem.fax]\nspeed = 1").unwrap();
        assert!(c.modem_count().is_err());
        let c = parse("[modem.modem0]\nmodel = \"acme\"").unwrap();
        let e = c.modem_specs(1, None).unwrap_err();
        assert!(e.to_string().contains("usr-courier"), "{e}");
        let c = parse("[[route]]\nnumber = \"1\"\ndest = \"a b\"").unwrap();
        assert!(c.routes().is_err());
        let c = parse("[modem.modem0]\nfaults = { corrupt_rate = 2.0 }").unwrap();
        assert!(c.modem_specs(1, None).is_err());
        let c = parse("[modem.modem0]\nnumber = \"--\"").unwrap();
        assert!(c.modem_specs(1, None).is_err());
        for name in ["", "A NAME FAR TOO LONG", "BAD\r\nNMBR = 1"] {
            let c = parse(&format!("[modem.modem0]\ncaller_name = {name:?}")).unwrap();
            assert!(c.modem_specs(1, None).is_err(), "{name:?}");
        }
    }
}
