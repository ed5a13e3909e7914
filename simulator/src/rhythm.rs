//! The daily rhythm of the feeds, in China Standard Time (+08:00), and the timestamp
//! format the feeds use.
//!
//! Market test rooms work the morning rush: most samples are tested 06:00–10:00, when
//! vendors set up and buyers arrive; nights are nearly silent.

use chrono::{DateTime, FixedOffset, SecondsFormat, Timelike, Utc};

/// China Standard Time, the offset every simulated timestamp is written in.
pub const LOCAL_OFFSET: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"),
};

/// Relative traffic per local hour, before normalisation.
const RAW: [f64; 24] = [
    0.15, 0.10, 0.10, 0.10, 0.20, 0.60, // 00–05: night, first deliveries
    2.20, 2.80, 2.80, 2.40, 1.80, 1.30, // 06–11: the morning rush
    0.90, 0.80, 0.90, 1.00, 1.10, 1.20, // 12–17: afternoon, evening shoppers
    1.00, 0.70, 0.50, 0.35, 0.25, 0.20, // 18–23: closing
];

const RAW_SUM: f64 = {
    let mut sum = 0.0;
    let mut i = 0;
    while i < RAW.len() {
        sum += RAW[i];
        i += 1;
    }
    sum
};

/// The traffic weight of local hour `hour` (0–23; larger values wrap). The mean over
/// the 24 hours is 1.0, so `rate × rhythm(hour)` keeps the daily volume of `rate`.
pub fn rhythm(hour: u32) -> f64 {
    RAW[(hour % 24) as usize] * 24.0 / RAW_SUM
}

/// The local (+08:00) hour of an instant.
pub fn local_hour(at: DateTime<Utc>) -> u32 {
    at.with_timezone(&LOCAL_OFFSET).hour()
}

/// RFC 3339 with the +08:00 offset and whole seconds, as the feed examples write it:
/// `2026-11-21T08:15:00+08:00`.
pub(crate) fn local_rfc3339(at: DateTime<Utc>) -> String {
    at.with_timezone(&LOCAL_OFFSET)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The local calendar day as `yyyymmdd`, as slaughter report ids carry it.
pub(crate) fn local_yyyymmdd(at: DateTime<Utc>) -> String {
    at.with_timezone(&LOCAL_OFFSET).format("%Y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_is_one() {
        let mean: f64 = (0..24).map(rhythm).sum::<f64>() / 24.0;
        assert!((mean - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mornings_peak_nights_are_sparse() {
        for hour in 6..10 {
            assert!(rhythm(hour) > 2.0, "{hour}: {}", rhythm(hour));
        }
        for hour in 0..5 {
            assert!(rhythm(hour) < 0.25, "{hour}: {}", rhythm(hour));
        }
        assert_eq!(rhythm(24 + 7), rhythm(7));
    }

    #[test]
    fn formats_like_the_examples() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T00:15:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(local_rfc3339(at), "2026-11-21T08:15:00+08:00");
        assert_eq!(local_hour(at), 8);
        let late = DateTime::parse_from_rfc3339("2026-11-20T17:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(local_yyyymmdd(late), "20261121");
    }
}
