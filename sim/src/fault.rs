//! Line faults, deterministic from a seed: corrupted bytes, dropped
//! bursts, a carrier that drops after a while, a far end that answers the
//! phone and then says nothing.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

/// Faults of a route or a modem. Every field is optional so that a
/// route's faults can override a modem's field by field.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Probability that a byte arrives with one or more bits flipped.
    pub corrupt_rate: Option<f64>,
    /// Probability, per byte, that a burst of lost bytes starts there.
    pub drop_rate: Option<f64>,
    /// Length of a lost burst in bytes (default 16).
    pub drop_burst: Option<usize>,
    /// The carrier drops this long after CONNECT (milliseconds of
    /// simulated time; the time scale applies).
    pub carrier_drop_ms: Option<u64>,
    /// The answering end's bytes never reach the caller: a peer that
    /// answers the phone but never answers LCP.
    pub silent: Option<bool>,
}

pub const DEFAULT_BURST: usize = 16;

impl FaultSpec {
    /// These faults, with `fallback`'s where these say nothing.
    pub fn or(&self, fallback: &FaultSpec) -> FaultSpec {
        FaultSpec {
            corrupt_rate: self.corrupt_rate.or(fallback.corrupt_rate),
            drop_rate: self.drop_rate.or(fallback.drop_rate),
            drop_burst: self.drop_burst.or(fallback.drop_burst),
            carrier_drop_ms: self.carrier_drop_ms.or(fallback.carrier_drop_ms),
            silent: self.silent.or(fallback.silent),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("corrupt_rate", self.corrupt_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if let Some(r) = rate {
                if !(0.0..=1.0).contains(&r) {
                    return Err(format!("{name} {r} is not a probability (0 to 1)"));
                }
            }
        }
        if self.drop_burst == Some(0) {
            return Err("drop_burst must be at least 1".into());
        }
        Ok(())
    }

    pub fn silent(&self) -> bool {
        self.silent.unwrap_or(false)
    }
}

/// Noise on one direction of one call.
#[derive(Debug)]
pub struct Noise {
    rng: StdRng,
    corrupt: f64,
    drop: f64,
    burst: usize,
    /// Bytes still to lose of the current burst.
    dropping: usize,
}

impl Noise {
    pub fn new(spec: &FaultSpec, seed: u64) -> Noise {
        Noise {
            rng: StdRng::seed_from_u64(seed),
            corrupt: spec.corrupt_rate.unwrap_or(0.0),
            drop: spec.drop_rate.unwrap_or(0.0),
            burst: spec.drop_burst.unwrap_or(DEFAULT_BURST),
            dropping: 0,
        }
    }

    /// Corrupts and drops bytes of `bytes` in place.
    pub fn apply(&mut self, bytes: &mut Vec<u8>) {
        if self.corrupt <= 0.0 && self.drop <= 0.0 && self.dropping == 0 {
            return;
        }
        let mut kept = Vec::with_capacity(bytes.len());
        for &b in bytes.iter() {
            if self.dropping == 0 && self.drop > 0.0 && self.rng.gen_bool(self.drop) {
                self.dropping = self.burst;
            }
            if self.dropping > 0 {
                self.dropping -= 1;
                continue;
            }
            if self.corrupt > 0.0 && self.rng.gen_bool(self.corrupt) {
                // Never zero, so a corrupted byte always differs.
                kept.push(b ^ self.rng.gen_range(1..=255u8));
            } else {
                kept.push(b);
            }
        }
        *bytes = kept;
    }
}

/// A seed for one direction of one call, from the run's seed: calls and
/// directions get independent streams, the same ones on every run.
pub fn seed_for(base: u64, call: u64, direction: u64) -> u64 {
    // splitmix64 finaliser over a combination of the three.
    let mut z = base
        ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ direction.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(corrupt: f64, drop: f64) -> FaultSpec {
        FaultSpec {
            corrupt_rate: Some(corrupt),
            drop_rate: Some(drop),
            ..FaultSpec::default()
        }
    }

    #[test]
    fn no_faults_leave_bytes_alone() {
        let mut n = Noise::new(&FaultSpec::default(), 1);
        let mut b = (0..=255u8).collect::<Vec<_>>();
        n.apply(&mut b);
        assert_eq!(b, (0..=255u8).collect::<Vec<_>>());
    }

    #[test]
    fn corruption_is_at_the_rate_and_deterministic() {
        let data = vec![0x55u8; 100_000];
        let run = |seed| {
            let mut b = data.clone();
            Noise::new(&spec(0.01, 0.0), seed).apply(&mut b);
            b
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        assert_eq!(a.len(), data.len());
        let changed = a.iter().filter(|b| **b != 0x55).count();
        assert!((800..1200).contains(&changed), "{changed}");
    }

    #[test]
    fn drops_come_in_bursts() {
        let mut b = (0..10_000u32).map(|i| i as u8).collect::<Vec<_>>();
        let mut n = Noise::new(
            &FaultSpec {
                drop_burst: Some(8),
                ..spec(0.0, 0.001)
            },
            3,
        );
        n.apply(&mut b);
        let lost = 10_000 - b.len();
        assert!((24..=200).contains(&lost), "{lost}");
    }

    #[test]
    fn route_faults_override_modem_faults_field_by_field() {
        let route = FaultSpec {
            corrupt_rate: Some(0.5),
            ..FaultSpec::default()
        };
        let modem = FaultSpec {
            corrupt_rate: Some(0.1),
            silent: Some(true),
            ..FaultSpec::default()
        };
        let both = route.or(&modem);
        assert_eq!(both.corrupt_rate, Some(0.5));
        assert!(both.silent());
    }

    #[test]
    fn validation() {
        assert!(spec(1.5, 0.0).validate().is_err());
        assert!(spec(0.0, -0.1).validate().is_err());
        assert!(FaultSpec {
            drop_burst: Some(0),
            ..FaultSpec::default()
        }
        .validate()
        .is_err());
        assert!(spec(0.001, 0.01).validate().is_ok());
    }

    #[test]
    fn seeds_differ_per_call_and_direction() {
        assert_ne!(seed_for(1, 0, 0), seed_for(1, 0, 1));
        assert_ne!(seed_for(1, 0, 0), seed_for(1, 1, 0));
        assert_eq!(seed_for(1, 2, 3), seed_for(1, 2, 3));
    }
}
