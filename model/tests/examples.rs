//! The contract's examples: every valid message is accepted, every invalid case of
//! `invalid.md` is rejected with its reason class (fixtures copied from the contract
//! into `tests/fixtures/`).

use hub_model::{Event, Feed, ReasonClass, Timestamp, Validator};
use serde_json::Value;

const KIOSK: &str = include_str!("../../tests/fixtures/kiosk.valid.ndjson");
const SLAUGHTER: &str = include_str!("../../tests/fixtures/slaughter.valid.ndjson");
const EXPORT: &str = include_str!("../../tests/fixtures/export.valid.ndjson");

/// The examples are dated 2026-11-21; validate them as of the next day.
fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-22T00:00:00Z").unwrap()
}

fn first(ndjson: &str) -> Value {
    serde_json::from_str(ndjson.lines().next().unwrap()).unwrap()
}

fn decode(feed: Feed, bytes: &[u8]) -> Result<Event<'_>, hub_model::Rejection> {
    Validator::default().decode(feed, bytes, now())
}

#[test]
fn every_valid_example_is_accepted() {
    let mut n = 0;
    for (feed, text) in [
        (Feed::Kiosk, KIOSK),
        (Feed::Slaughter, SLAUGHTER),
        (Feed::Export, EXPORT),
    ] {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let e = decode(feed, line.as_bytes())
                .unwrap_or_else(|r| panic!("{feed} example refused: {r}\n{line}"));
            assert_eq!(e.feed(), feed);
            n += 1;
        }
    }
    assert_eq!(n, 8, "the contract ships 8 valid examples");
}

#[test]
fn fields_decode_to_the_right_values() {
    let line = KIOSK.lines().nth(2).unwrap();
    let Event::Kiosk(k) = decode(Feed::Kiosk, line.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(k.region_code, "330105001");
    assert_eq!(k.sample.name, "猪肉");
    assert_eq!(
        k.tested_at,
        Timestamp::parse_rfc3339("2026-11-21T00:42:10Z").unwrap()
    );
    assert!(k.sample.vendor_id.is_none());
    let line = EXPORT.lines().nth(1).unwrap();
    let Event::Export(x) = decode(Feed::Export, line.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(
        x.event_time(),
        Timestamp::parse_rfc3339("2026-11-21T06:30:00Z").unwrap()
    );
    assert_eq!(
        x.inspection.reasons.as_ref().unwrap()[0],
        "veterinary_drug_residue"
    );
}

fn with(base: &Value, path: &[&str], value: Option<Value>) -> Vec<u8> {
    let mut v = base.clone();
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = cur.get_mut(*p).unwrap();
    }
    let obj = cur.as_object_mut().unwrap();
    match value {
        Some(x) => obj.insert(path[path.len() - 1].to_string(), x),
        None => obj.remove(path[path.len() - 1]),
    };
    serde_json::to_vec(&v).unwrap()
}

/// Each row of invalid.md: (feed, bytes, class, the reason's expected start).
fn invalid_cases() -> Vec<(Feed, Vec<u8>, ReasonClass, &'static str)> {
    let kiosk = first(KIOSK);
    let slaughter = first(SLAUGHTER);
    let export = first(EXPORT);
    let tomorrow = "2026-11-23T00:00:00Z";
    let mut period_reversed = slaughter.clone();
    period_reversed["period_start"] = Value::from("2026-11-21T07:00:00+08:00");
    vec![
        (
            Feed::Kiosk,
            br#"{"event_id": "x1", "kiosk_id": "K-1""#.to_vec(),
            ReasonClass::NotJson,
            "not JSON",
        ),
        (
            Feed::Kiosk,
            b"\xff\xfe\x00garbage".to_vec(),
            ReasonClass::NotJson,
            "not JSON",
        ),
        (
            Feed::Kiosk,
            b"[]".to_vec(),
            ReasonClass::NotObject,
            "not an object",
        ),
        (
            Feed::Kiosk,
            with(&kiosk, &["result"], Some("maybe".into())),
            ReasonClass::BadValue,
            "bad value: result",
        ),
        (
            Feed::Kiosk,
            with(&kiosk, &["market_id"], None),
            ReasonClass::MissingField,
            "missing field: market_id",
        ),
        (
            Feed::Kiosk,
            with(&kiosk, &["region_code"], Some("33A102".into())),
            ReasonClass::BadValue,
            "bad value: region_code",
        ),
        (
            Feed::Kiosk,
            with(&kiosk, &["tested_at"], Some("yesterday".into())),
            ReasonClass::BadValue,
            "bad value: tested_at",
        ),
        (
            Feed::Kiosk,
            with(&kiosk, &["tested_at"], Some(tomorrow.into())),
            ReasonClass::FutureTimestamp,
            "future timestamp",
        ),
        (
            Feed::Slaughter,
            with(&slaughter, &["quarantine_passed"], Some(500.into())),
            ReasonClass::Invariant,
            "invariant: quarantine_passed <= head_count",
        ),
        (
            Feed::Slaughter,
            with(&slaughter, &["head_count"], Some((-3).into())),
            ReasonClass::BadValue,
            "bad value: head_count",
        ),
        (
            Feed::Slaughter,
            serde_json::to_vec(&period_reversed).unwrap(),
            ReasonClass::Invariant,
            "invariant: period",
        ),
        (
            Feed::Export,
            with(
                &export,
                &["inspection"],
                Some(serde_json::json!({"status": "fail"})),
            ),
            ReasonClass::Invariant,
            "invariant: inspected_at required",
        ),
        (Feed::Kiosk, Vec::new(), ReasonClass::Empty, "empty"),
        (
            Feed::Export,
            vec![b' '; 10 << 20],
            ReasonClass::TooLarge,
            "too large",
        ),
    ]
}

#[test]
fn every_invalid_case_is_rejected_with_its_reason_class() {
    for (feed, bytes, class, start) in invalid_cases() {
        let preview = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
        match decode(feed, &bytes) {
            Ok(_) => panic!("accepted an invalid {feed} message: {preview}"),
            Err(r) => {
                assert_eq!(r.class, class, "{preview}: {r}");
                assert!(
                    r.reason().starts_with(start),
                    "reason `{r}` should start with `{start}` for {preview}"
                );
            }
        }
    }
}

#[test]
fn nested_fields_are_named_by_path() {
    let kiosk = first(KIOSK);
    let r = decode(
        Feed::Kiosk,
        &with(&kiosk, &["sample", "category"], Some("meat".into())),
    )
    .unwrap_err();
    assert_eq!(
        r.reason().split(" (").next().unwrap(),
        "bad value: sample.category"
    );
    let r = decode(Feed::Kiosk, &with(&kiosk, &["sample", "name"], None)).unwrap_err();
    assert_eq!(r.reason(), "missing field: sample.name");
    let export = first(EXPORT);
    let r = decode(
        Feed::Export,
        &with(&export, &["destination"], Some("hk".into())),
    )
    .unwrap_err();
    assert!(r.reason().starts_with("bad value: destination"), "{r}");
}

#[test]
fn unknown_fields_are_ignored_and_limits_are_configurable() {
    let kiosk = first(KIOSK);
    let extra = with(&kiosk, &["operator"], Some("someone".into()));
    assert!(decode(Feed::Kiosk, &extra).is_ok());
    let small = Validator {
        max_message_bytes: 100,
        ..Validator::default()
    };
    let r = small.decode(Feed::Kiosk, &extra, now()).unwrap_err();
    assert_eq!(r.class, ReasonClass::TooLarge);
    assert!(r.reason().contains("100"), "{r}");
}

#[test]
fn trailing_garbage_after_the_object_is_not_json() {
    let mut bytes = KIOSK.lines().next().unwrap().as_bytes().to_vec();
    bytes.extend_from_slice(b" {}");
    assert_eq!(
        decode(Feed::Kiosk, &bytes).unwrap_err().class,
        ReasonClass::NotJson
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes never panic the validator: they are accepted or refused.
        #[test]
        fn arbitrary_bytes_are_refused_not_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(Feed::Kiosk, &bytes);
            let _ = decode(Feed::Slaughter, &bytes);
            let _ = decode(Feed::Export, &bytes);
        }

        /// A region code is accepted exactly when it is 6 or 9 ASCII digits.
        #[test]
        fn region_code_pattern(code in "[0-9A-Za-z]{0,11}") {
            let valid = (code.len() == 6 || code.len() == 9) && code.bytes().all(|b| b.is_ascii_digit());
            let bytes = with(&first(KIOSK), &["region_code"], Some(code.clone().into()));
            let r = decode(Feed::Kiosk, &bytes);
            prop_assert_eq!(r.is_ok(), valid, "{}: {:?}", code, r.err());
        }

        /// Head counts: any quarantine_passed above head_count is an invariant breach,
        /// anything at or below it is accepted.
        #[test]
        fn quarantine_invariant(head in 0u64..10_000, passed in 0u64..10_000) {
            let mut v = first(SLAUGHTER);
            v["head_count"] = head.into();
            v["quarantine_passed"] = passed.into();
            v["condemned"] = 0.into();
            let bytes = serde_json::to_vec(&v).unwrap();
            let r = decode(Feed::Slaughter, &bytes);
            if passed > head {
                let class = r.unwrap_err().class;
                prop_assert_eq!(class, ReasonClass::Invariant);
            } else {
                prop_assert!(r.is_ok());
            }
        }
    }
}
