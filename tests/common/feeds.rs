//! Feed messages for the tests: the contract's examples, the invalid cases of
//! `invalid.md`, and a deterministic stream of unique events.

#![allow(dead_code)]

use serde_json::{json, Value};

use super::fixture;

pub fn examples(file: &str) -> Vec<Value> {
    fixture(file)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn set(mut v: Value, key: &str, value: Value) -> Vec<u8> {
    v[key] = value;
    serde_json::to_vec(&v).unwrap()
}

/// invalid.md's cases that a broker carries (the 10 MB one is checked in unit tests):
/// (topic, raw bytes, expected reason_class).
pub fn invalid_messages() -> Vec<(String, Vec<u8>, &'static str)> {
    let k = examples("kiosk.valid.ndjson")[0].clone();
    let s = examples("slaughter.valid.ndjson")[0].clone();
    let x = examples("export.valid.ndjson")[0].clone();
    let mut no_market = k.clone();
    no_market.as_object_mut().unwrap().remove("market_id");
    let future = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let mut reversed = s.clone();
    reversed["period_start"] = json!("2026-11-21T07:00:00+08:00");
    let mut failed = x.clone();
    failed["inspection"] = json!({"status": "fail"});
    let kt = "kiosk.results".to_string();
    let st = "slaughter.reports".to_string();
    vec![
        (
            kt.clone(),
            br#"{"event_id": "x1", "kiosk_id": "K-1""#.to_vec(),
            "not_json",
        ),
        (kt.clone(), b"\xff\xfe\x00garbage".to_vec(), "not_json"),
        (kt.clone(), b"[]".to_vec(), "not_object"),
        (
            kt.clone(),
            set(k.clone(), "result", json!("maybe")),
            "bad_value",
        ),
        (
            kt.clone(),
            serde_json::to_vec(&no_market).unwrap(),
            "missing_field",
        ),
        (
            kt.clone(),
            set(k.clone(), "region_code", json!("33A102")),
            "bad_value",
        ),
        (
            kt.clone(),
            set(k.clone(), "tested_at", json!("yesterday")),
            "bad_value",
        ),
        (
            kt.clone(),
            set(k, "tested_at", json!(future)),
            "future_timestamp",
        ),
        (
            st.clone(),
            set(s.clone(), "quarantine_passed", json!(500)),
            "invariant",
        ),
        (st.clone(), set(s, "head_count", json!(-3)), "bad_value"),
        (st, serde_json::to_vec(&reversed).unwrap(), "invariant"),
        (
            "export.declarations".to_string(),
            serde_json::to_vec(&failed).unwrap(),
            "invariant",
        ),
        (kt, Vec::new(), "empty"),
    ]
}

/// Event `i` of a deterministic stream: mostly kiosk tests, some slaughter reports and
/// export declarations, each with a unique event id under `prefix`.
pub fn event(prefix: &str, i: usize) -> (String, Vec<u8>) {
    let region = ["330102", "330105", "330106", "440106", "510107"][i % 5];
    let minute = i % 1440;
    let t = format!("2026-11-20T{:02}:{:02}:00+08:00", minute / 60, minute % 60);
    match i % 20 {
        0 => (
            "slaughter.reports".into(),
            serde_json::to_vec(&json!({
                "event_id": format!("{prefix}-sl-{i}"), "plant_id": format!("S-{region}-00{}", i % 7),
                "designated": !i.is_multiple_of(11), "region_code": region, "species": "pig",
                "period_start": "2026-11-19T23:59:00+08:00", "period_end": t,
                "head_count": 100 + i % 50, "quarantine_passed": 100, "condemned": 1,
                "beta_agonist_tested": 10, "beta_agonist_positive": 0
            }))
            .unwrap(),
        ),
        1 => (
            "export.declarations".into(),
            serde_json::to_vec(&json!({
                "event_id": format!("{prefix}-ex-{i}"), "declaration_no": format!("{:018}", i),
                "enterprise_id": format!("3301EXP{:04}", i % 40), "region_code": region,
                "declared_at": t, "hs_code": "020329", "product_category": "frozen_pork",
                "destination": "HK", "quantity_kg": 1000.0 + i as f64, "batch_marked": true,
                "inspection": {"status": if i % 40 == 1 { "fail" } else { "pass" }, "inspected_at": t}
            }))
            .unwrap(),
        ),
        _ => (
            "kiosk.results".into(),
            serde_json::to_vec(&json!({
                "event_id": format!("{prefix}-kq-{i}"), "kiosk_id": format!("K-{region}-0{}", i % 9),
                "market_id": format!("M-{region}-00{}", i % 5), "region_code": region, "tested_at": t,
                "sample": {"category": "vegetable", "name": "菠菜"}, "test_item": "organophosphate_carbamate",
                "result": if i.is_multiple_of(33) { "fail" } else { "pass" }
            }))
            .unwrap(),
        ),
    }
}

/// How many of events `0..n` go to each feed: (kiosk, slaughter, export).
pub fn feed_counts(n: usize) -> (i64, i64, i64) {
    let (mut k, mut s, mut x) = (0, 0, 0);
    for i in 0..n {
        match i % 20 {
            0 => s += 1,
            1 => x += 1,
            _ => k += 1,
        }
    }
    (k, s, x)
}
