//! Built-in workloads: deterministic record generators that mirror the lecture's examples.
//!
//! Each record is a pure function of `(seed, seq)`, so any worker can make any part of the stream, in any
//! order, without shared state or allocation, and every run with the same seed sees the same records.
//! Each record type also reads from and prints to one line of text ([`crate::parse::FromLine`],
//! `Display`), so the same pipelines run on sockets and files.

pub mod nexmark;
pub mod posts;
pub mod purchases;
pub mod temperature;
pub mod wifi;

pub use posts::{Post, Posts, Tag};
pub use purchases::{Purchase, Purchases};
pub use temperature::{Reading, Temperature};
pub use wifi::{Wifi, WifiEvent, WifiKind};

/// A deterministic generator of records.
pub trait Workload: Send + Sync + 'static {
    /// The records it makes.
    type Record: Clone + Send + 'static;

    /// Record number `seq` of the stream.
    fn record(&self, seq: u64) -> Self::Record;

    /// The event time of record `seq` in ms, if the workload has its own (NEXMark's generator does);
    /// `None` (the default): the generator source's timeline gives it (`seq` over the event rate).
    #[inline]
    fn event_time(&self, seq: u64) -> Option<u64> {
        let _ = seq;
        None
    }
}

/// The names of the built-in workloads, as the CLI knows them.
pub const NAMES: [&str; 5] = ["temperature", "posts", "purchases", "wifi", "nexmark"];

/// A well-mixed 64-bit value for `(seed, seq)` (SplitMix64's finalizer).
#[inline]
pub fn mix(seed: u64, seq: u64) -> u64 {
    let mut z = seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Splits a line into fields at commas or white space, skipping empty ones.
pub(crate) fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|f| !f.is_empty())
}

/// Reads field `name` of a line.
pub(crate) fn field<T: std::str::FromStr>(value: Option<&str>, name: &str) -> Result<T, String> {
    let value = value.ok_or_else(|| format!("missing field `{name}`"))?;
    value
        .parse()
        .map_err(|_| format!("field `{name}` is not valid: `{value}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_deterministic_and_spreads() {
        assert_eq!(mix(7, 1), mix(7, 1));
        assert_ne!(mix(7, 1), mix(7, 2));
        assert_ne!(mix(7, 1), mix(8, 1));
        let ones: u32 = (0..1000).map(|i| (mix(1, i) & 1) as u32).sum();
        assert!((400..600).contains(&ones));
    }
}
