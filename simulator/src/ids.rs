//! Identifiers in the feeds' style (`kq-330102-017-…`, `sl-S-330102-002-20261121-…`,
//! 18-digit declaration numbers), made distinct between runs.
//!
//! The hub counts an `event_id` once, forever. Two simulator runs must therefore not
//! reuse each other's ids, yet one run must be reproducible. Every id carries a short
//! run tag derived from the seed and the run's start second: the same seed started at
//! the same second replays the same ids (a true replay, which the hub must drop), any
//! other run gets fresh ones.

use std::fmt;

use chrono::{DateTime, Utc};

/// Room left above the per-run starting point of declaration sequence numbers.
const DECLARATION_SEQUENCE_SPACE: u64 = 1_000_000_000;
const DECLARATION_BASE_SPAN: u64 = 900_000_000;

/// The per-run part of identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunTag {
    tag: String,
    declaration_base: u64,
}

impl RunTag {
    pub(crate) fn new(seed: u64, start: DateTime<Utc>) -> Self {
        let salt = splitmix64(seed ^ splitmix64(start.timestamp() as u64));
        RunTag {
            tag: base36(salt % 36u64.pow(4), 4),
            declaration_base: (salt >> 24) % DECLARATION_BASE_SPAN,
        }
    }

    /// The 9-digit sequence part of a declaration number: the run's starting point plus
    /// the district's running count.
    pub(crate) fn declaration_sequence(&self, ordinal: u64) -> u64 {
        (self.declaration_base + ordinal) % DECLARATION_SEQUENCE_SPACE
    }
}

impl fmt::Display for RunTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)
    }
}

/// SplitMix64: a cheap, well-mixing bijection used to derive independent seeds.
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A seed for one independent random stream (population, traffic, arrivals…) of `seed`.
pub(crate) fn stream_seed(seed: u64, stream: u64) -> u64 {
    splitmix64(seed ^ splitmix64(stream))
}

/// `n` in lowercase base 36, left-padded with zeros to `width`.
fn base36(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(width);
    while n > 0 || out.len() < width {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    out.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_pads_and_encodes() {
        assert_eq!(base36(0, 4), "0000");
        assert_eq!(base36(35, 4), "000z");
        assert_eq!(base36(36, 2), "10");
    }

    #[test]
    fn run_tag_depends_on_seed_and_start() {
        let t0 = DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
        let t1 = DateTime::from_timestamp(1_795_000_001, 0).unwrap_or_default();
        assert_eq!(RunTag::new(7, t0), RunTag::new(7, t0));
        assert_ne!(RunTag::new(7, t0), RunTag::new(8, t0));
        assert_ne!(RunTag::new(7, t0), RunTag::new(7, t1));
        assert_eq!(RunTag::new(7, t0).to_string().len(), 4);
    }
}
