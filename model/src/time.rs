//! Event timestamps: RFC 3339 with an offset in the feeds, microseconds since the Unix
//! epoch (UTC) everywhere inside the hub.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant in microseconds since the Unix epoch.
/// Human-readable formats (JSON) read and write it as RFC 3339; binary formats (the
/// checkpoint) as the integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_micros())
    }

    /// Parses RFC 3339 with a mandatory offset (`Z` or `±hh:mm`).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Timestamp(t.timestamp_micros()))
    }

    /// `self` plus `d`, saturating.
    pub fn plus(self, d: std::time::Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
        )
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    /// Days since the Unix epoch (UTC), the archive's partition key.
    pub fn epoch_day(self) -> i32 {
        self.0.div_euclid(MICROS_PER_DAY) as i32
    }

    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_micros(self.0)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            .unwrap_or_else(|| format!("{}us", self.0))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_rfc3339())
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return i64::deserialize(d).map(Timestamp);
        }
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an RFC 3339 date-time with offset, e.g. 2026-11-21T08:15:00+08:00")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(s).ok_or_else(|| {
                    E::custom(format!(
                        "`{}` is not an RFC 3339 date-time with offset (e.g. 2026-11-21T08:15:00+08:00)",
                        truncate(s, 40)
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// Cuts a string for an error message, on a character boundary.
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_to_the_same_instant() {
        let a = Timestamp::parse_rfc3339("2026-11-21T08:15:00+08:00").unwrap();
        let b = Timestamp::parse_rfc3339("2026-11-21T00:15:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_rfc3339(), "2026-11-21T00:15:00Z");
    }

    #[test]
    fn rejects_missing_offset_and_words() {
        assert!(Timestamp::parse_rfc3339("2026-11-21T08:15:00").is_none());
        assert!(Timestamp::parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn epoch_day_floors_before_1970() {
        assert_eq!(Timestamp(-1).epoch_day(), -1);
        assert_eq!(Timestamp(0).epoch_day(), 0);
    }
}
