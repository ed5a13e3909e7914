//! The invalid messages of the `bad` scenario: every case of the contract's
//! `feeds/examples/invalid.md`, each planted in an otherwise realistic message.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use hub_model::{Feed, ReasonClass};
use serde_json::Value;

use crate::rhythm::local_rfc3339;

/// Share of messages the `bad` scenario spoils.
pub const BAD_SHARE: f64 = 0.05;

/// What is wrong with an invalid message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Defect {
    /// A kiosk message cut off mid-object.
    Truncated,
    /// `\xff\xfe\x00garbage`: not UTF-8.
    NotUtf8,
    /// `[]`: JSON, but not an object.
    NotAnObject,
    /// `"result": "maybe"`.
    UnknownResult,
    /// A kiosk message without `market_id`.
    MissingMarketId,
    /// `"region_code": "33A102"`.
    MalformedRegionCode,
    /// `"tested_at": "yesterday"`.
    UnparseableTestedAt,
    /// `tested_at` one day ahead of the clock.
    FutureTestedAt,
    /// `quarantine_passed > head_count`.
    QuarantineExceedsHeadCount,
    /// `"head_count": -3`.
    NegativeHeadCount,
    /// `period_end` before `period_start`.
    PeriodReversed,
    /// An export `fail` without `inspected_at`.
    FailWithoutInspectedAt,
    /// A message of 0 bytes.
    Empty,
    /// A message over the hub's size limit: never in the stream (brokers refuse it);
    /// build one with [`oversized_payload`].
    TooLarge,
}

impl Defect {
    /// Every defect.
    pub const ALL: [Defect; 14] = [
        Defect::Truncated,
        Defect::NotUtf8,
        Defect::NotAnObject,
        Defect::UnknownResult,
        Defect::MissingMarketId,
        Defect::MalformedRegionCode,
        Defect::UnparseableTestedAt,
        Defect::FutureTestedAt,
        Defect::QuarantineExceedsHeadCount,
        Defect::NegativeHeadCount,
        Defect::PeriodReversed,
        Defect::FailWithoutInspectedAt,
        Defect::Empty,
        Defect::TooLarge,
    ];

    /// The defects the `bad` scenario mixes into the stream: all but [`Defect::TooLarge`].
    pub const IN_STREAM: [Defect; 13] = [
        Defect::Truncated,
        Defect::NotUtf8,
        Defect::NotAnObject,
        Defect::UnknownResult,
        Defect::MissingMarketId,
        Defect::MalformedRegionCode,
        Defect::UnparseableTestedAt,
        Defect::FutureTestedAt,
        Defect::QuarantineExceedsHeadCount,
        Defect::NegativeHeadCount,
        Defect::PeriodReversed,
        Defect::FailWithoutInspectedAt,
        Defect::Empty,
    ];

    /// The topic's feed the message goes to.
    pub fn feed(self) -> Feed {
        match self {
            Defect::QuarantineExceedsHeadCount
            | Defect::NegativeHeadCount
            | Defect::PeriodReversed => Feed::Slaughter,
            Defect::FailWithoutInspectedAt => Feed::Export,
            _ => Feed::Kiosk,
        }
    }

    /// The reason class the hub must give it (invalid.md's right-hand column).
    pub fn reason_class(self) -> ReasonClass {
        match self {
            Defect::Truncated | Defect::NotUtf8 => ReasonClass::NotJson,
            Defect::NotAnObject => ReasonClass::NotObject,
            Defect::UnknownResult
            | Defect::MalformedRegionCode
            | Defect::UnparseableTestedAt
            | Defect::NegativeHeadCount => ReasonClass::BadValue,
            Defect::MissingMarketId => ReasonClass::MissingField,
            Defect::FutureTestedAt => ReasonClass::FutureTimestamp,
            Defect::QuarantineExceedsHeadCount
            | Defect::PeriodReversed
            | Defect::FailWithoutInspectedAt => ReasonClass::Invariant,
            Defect::Empty => ReasonClass::Empty,
            Defect::TooLarge => ReasonClass::TooLarge,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Defect::Truncated => "truncated",
            Defect::NotUtf8 => "not_utf8",
            Defect::NotAnObject => "not_an_object",
            Defect::UnknownResult => "unknown_result",
            Defect::MissingMarketId => "missing_market_id",
            Defect::MalformedRegionCode => "malformed_region_code",
            Defect::UnparseableTestedAt => "unparseable_tested_at",
            Defect::FutureTestedAt => "future_tested_at",
            Defect::QuarantineExceedsHeadCount => "quarantine_exceeds_head_count",
            Defect::NegativeHeadCount => "negative_head_count",
            Defect::PeriodReversed => "period_reversed",
            Defect::FailWithoutInspectedAt => "fail_without_inspected_at",
            Defect::Empty => "empty",
            Defect::TooLarge => "too_large",
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A spoiled message: its bytes, the key a careless producer would still give it, and
/// the event id it carries if the hub can read one.
#[derive(Debug, Clone)]
pub(crate) struct Spoiled {
    pub payload: Vec<u8>,
    pub key: String,
    pub event_id: Option<String>,
}

/// Plants `defect` in `specimen`, a valid message of `defect.feed()` as a JSON value,
/// generated at `at`.
pub(crate) fn spoil(defect: Defect, specimen: Value, at: DateTime<Utc>) -> Spoiled {
    let text = |v: &Value, field: &str| v.get(field).and_then(Value::as_str).map(str::to_string);
    let key = text(&specimen, "region_code").unwrap_or_default();
    let event_id = text(&specimen, "event_id");
    let raw = |payload: &[u8]| Spoiled {
        payload: payload.to_vec(),
        key: key.clone(),
        event_id: None,
    };
    let Value::Object(mut fields) = specimen else {
        return raw(b"{}");
    };
    match defect {
        Defect::Truncated => {
            let whole = Value::Object(fields).to_string();
            // Cut inside the object, on a character boundary: what a producer crashing
            // mid-write leaves.
            let mut cut = whole.len() * 2 / 3;
            while !whole.is_char_boundary(cut) {
                cut -= 1;
            }
            return raw(&whole.as_bytes()[..cut]);
        }
        Defect::NotUtf8 => return raw(b"\xff\xfe\x00garbage"),
        Defect::NotAnObject => return raw(b"[]"),
        Defect::Empty | Defect::TooLarge => return raw(b""),
        Defect::UnknownResult => {
            fields.insert("result".into(), "maybe".into());
        }
        Defect::MissingMarketId => {
            fields.remove("market_id");
        }
        Defect::MalformedRegionCode => {
            fields.insert("region_code".into(), "33A102".into());
        }
        Defect::UnparseableTestedAt => {
            fields.insert("tested_at".into(), "yesterday".into());
        }
        Defect::FutureTestedAt => {
            let tomorrow = local_rfc3339(at + TimeDelta::days(1));
            fields.insert("tested_at".into(), tomorrow.into());
        }
        Defect::QuarantineExceedsHeadCount => {
            let head = fields
                .get("head_count")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            fields.insert("quarantine_passed".into(), (head + 1 + head / 5).into());
        }
        Defect::NegativeHeadCount => {
            fields.insert("head_count".into(), (-3).into());
        }
        Defect::PeriodReversed => {
            let start = fields.remove("period_start").unwrap_or(Value::Null);
            let end = fields.remove("period_end").unwrap_or(Value::Null);
            fields.insert("period_start".into(), end);
            fields.insert("period_end".into(), start);
        }
        Defect::FailWithoutInspectedAt => {
            if let Some(Value::Object(inspection)) = fields.get_mut("inspection") {
                inspection.insert("status".into(), "fail".into());
                inspection.remove("inspected_at");
            }
        }
    }
    let key = fields
        .get("region_code")
        .and_then(Value::as_str)
        .map_or(key, str::to_string);
    Spoiled {
        payload: Value::Object(fields).to_string().into_bytes(),
        key,
        event_id,
    }
}

/// Bytes of a kiosk message padded to `len` bytes (at least the unpadded message):
/// well-formed JSON that only its size makes invalid. 10 MiB
/// (`oversized_payload(10 << 20)`) is invalid.md's case.
pub fn oversized_payload(len: usize) -> Vec<u8> {
    const HEAD: &str = r#"{"event_id":"kq-330102-017-oversized","kiosk_id":"K-330102-017","market_id":"M-330102-003","region_code":"330102","tested_at":"2026-11-21T08:15:00+08:00","sample":{"category":"vegetable","name":"菠菜"},"test_item":"organophosphate_carbamate","result":"pass","padding":""#;
    const TAIL: &str = r#""}"#;
    let padding = len.saturating_sub(HEAD.len() + TAIL.len());
    let mut out = Vec::with_capacity(HEAD.len() + padding + TAIL.len());
    out.extend_from_slice(HEAD.as_bytes());
    out.resize(out.len() + padding, b'x');
    out.extend_from_slice(TAIL.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use hub_model::{Timestamp, Validator};

    use super::*;

    #[test]
    fn oversized_payload_is_too_large_and_nothing_else() {
        let now = Timestamp::parse_rfc3339("2026-11-21T09:00:00+08:00").unwrap_or(Timestamp(0));
        let big = oversized_payload(10 << 20);
        assert_eq!(big.len(), 10 << 20);
        let rejection = Validator::default().decode(Feed::Kiosk, &big, now).err();
        assert_eq!(rejection.map(|r| r.class), Some(ReasonClass::TooLarge));
        // The same message under the limit is accepted: only its size is wrong.
        let small = oversized_payload(2_000);
        assert!(Validator::default()
            .decode(Feed::Kiosk, &small, now)
            .is_ok());
    }

    #[test]
    fn classes_cover_invalid_md() {
        let classes: std::collections::HashSet<_> =
            Defect::ALL.iter().map(|d| d.reason_class()).collect();
        assert_eq!(classes.len(), ReasonClass::ALL.len());
        assert!(!Defect::IN_STREAM.contains(&Defect::TooLarge));
    }
}
