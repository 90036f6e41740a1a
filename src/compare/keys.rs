//! The keys of the lab's keyed workloads, when `--keys` sets how many there are (and `--skew` how
//! they are drawn): each record's key is a pure function of its `seq`, so every worker, every mode
//! and every peer sees the same key for the same record.

use crate::workload::mix;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// How keys are drawn: every key as likely, or Zipf's law (key `k` of `n`, from 0, with a weight of
/// `1 / (k + 1)^s`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Skew {
    /// Every key as likely.
    #[default]
    Uniform,
    /// Zipf's law with exponent `s` (> 0): key 0 the most frequent.
    Zipf(f64),
}

impl FromStr for Skew {
    type Err = String;

    fn from_str(s: &str) -> Result<Skew, String> {
        let bad = || {
            format!("--skew `{s}`: write uniform, or zipf:S with an exponent S above 0 such as zipf:1.1")
        };
        match s.split_once(':') {
            None if s == "uniform" => Ok(Skew::Uniform),
            Some(("zipf", exponent)) => match exponent.parse::<f64>() {
                Ok(e) if e > 0.0 && e.is_finite() => Ok(Skew::Zipf(e)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Skew {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skew::Uniform => f.write_str("uniform"),
            Skew::Zipf(s) => write!(f, "zipf:{s}"),
        }
    }
}

/// Draws each record's key: `None` keys keep the workload's own (a post's first hashtag, or its
/// user); otherwise one of `keys` keys, drawn as `skew` says.
#[derive(Clone, Debug)]
pub struct KeyDraw {
    keys: Option<u64>,
    /// Zipf's cumulative distribution over the keys (empty when uniform).
    cdf: Arc<[f64]>,
}

/// The seed of the key draw (apart from the posts' own).
const KEY_SEED: u64 = 0x6B65_7973;

impl KeyDraw {
    /// The draw of `keys` keys (`None`: the workload's own) with `skew`.
    pub fn new(keys: Option<u64>, skew: Skew) -> KeyDraw {
        let cdf: Arc<[f64]> = match (keys, skew) {
            (Some(n), Skew::Zipf(s)) => {
                let mut total = 0.0;
                let mut cdf: Vec<f64> = (0..n)
                    .map(|k| {
                        total += 1.0 / ((k + 1) as f64).powf(s);
                        total
                    })
                    .collect();
                for c in &mut cdf {
                    *c /= total;
                }
                cdf.into()
            }
            _ => Arc::new([]),
        };
        KeyDraw { keys, cdf }
    }

    /// The key of record `seq`, whose own key is `own`.
    #[inline]
    pub fn key(&self, seq: u64, own: u64) -> u64 {
        let Some(n) = self.keys else {
            return own;
        };
        let r = mix(KEY_SEED, seq);
        if self.cdf.is_empty() {
            return r % n;
        }
        // A uniform draw in [0, 1) from the top 53 bits, then the first key whose cumulative
        // weight passes it.
        let u = (r >> 11) as f64 / (1u64 << 53) as f64;
        (self.cdf.partition_point(|c| *c <= u) as u64).min(n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_reads_uniform_and_zipf_and_says_what_is_wrong() {
        assert_eq!("uniform".parse::<Skew>().unwrap(), Skew::Uniform);
        assert_eq!("zipf:1.1".parse::<Skew>().unwrap(), Skew::Zipf(1.1));
        for bad in ["zipf", "zipf:0", "zipf:-1", "zipf:x", "pareto:1"] {
            let e = bad.parse::<Skew>().unwrap_err();
            assert!(e.contains("zipf:1.1"), "{bad}: {e}");
        }
        assert_eq!(Skew::Zipf(1.1).to_string(), "zipf:1.1");
    }

    #[test]
    fn without_keys_a_record_keeps_its_own() {
        let draw = KeyDraw::new(None, Skew::Zipf(1.0));
        assert_eq!(draw.key(7, 42), 42);
    }

    #[test]
    fn uniform_keys_cover_the_range_evenly() {
        let draw = KeyDraw::new(Some(10), Skew::Uniform);
        let mut counts = [0u32; 10];
        for seq in 0..100_000 {
            counts[draw.key(seq, 0) as usize] += 1;
        }
        assert!(
            counts.iter().all(|c| (9_000..11_000).contains(c)),
            "{counts:?}"
        );
    }

    #[test]
    fn zipf_keys_follow_zipfs_law() {
        // With s = 1 over 100 keys, key 0 takes 1/H(100) ≈ 19.3% and key 1 half of that.
        let draw = KeyDraw::new(Some(100), Skew::Zipf(1.0));
        let mut counts = vec![0u32; 100];
        for seq in 0..200_000 {
            counts[draw.key(seq, 0) as usize] += 1;
        }
        let share = |k: usize| counts[k] as f64 / 200_000.0;
        assert!((share(0) - 0.193).abs() < 0.01, "{}", share(0));
        assert!((share(1) / share(0) - 0.5).abs() < 0.05);
        assert!(counts.iter().all(|c| *c > 0), "every key drawn");
        // The same record, the same key, in any draw.
        let again = KeyDraw::new(Some(100), Skew::Zipf(1.0));
        assert!((0..1000).all(|s| draw.key(s, 0) == again.key(s, 0)));
    }
}
