//! The golden scenarios' events (processors/tests/golden) replayed through a real
//! broker with replay semantics: event time advances only with the events, and one
//! closing event in every partition settles the watermark at a known instant.

use std::path::Path;
use std::time::Duration;

use rdkafka::producer::FutureRecord;
use serde_json::{json, Value};

use super::{producer, wait_for, Broker, Hub};

pub const SCENARIOS: [&str; 6] = [
    "kiosk_bars",
    "kiosk_aging",
    "beta_agonist",
    "slaughter_shares",
    "export_supersede",
    "silence",
];

pub fn topic(prefix: &str, feed: &str) -> String {
    format!("{prefix}.{feed}")
}

/// Every scenario's events as (feed, event time, payload), in event-time order.
pub fn events() -> Vec<(String, String, Vec<u8>)> {
    let mut all = Vec::new();
    for s in SCENARIOS {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("processors/tests/golden/{s}/input.ndjson"));
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let (feed, json) = line.split_once(' ').unwrap();
            let v: Value = serde_json::from_str(json).unwrap();
            let t = v
                .get("tested_at")
                .or_else(|| v.get("period_end"))
                .or_else(|| v.pointer("/inspection/inspected_at"))
                .or_else(|| v.get("declared_at"))
                .and_then(Value::as_str)
                .unwrap()
                .to_string();
            all.push((feed.to_string(), t, json.as_bytes().to_vec()));
        }
    }
    all.sort_by(|a, b| a.1.cmp(&b.1));
    all
}

pub fn replay_hub(broker: &Broker, dir: &Path, name: &str) -> Hub {
    let mut h = Hub::new(&broker.bootstrap(), &dir.join(name), name)
        .env("HUB__EVALUATION__ALLOWED_LATENESS", "1h")
        // Replay semantics: no partition is ever idle, no wall-clock jumps.
        .env("HUB__EVALUATION__PARTITION_IDLE_TIMEOUT", "0s")
        .env("HUB__EVALUATION__IDLE_TIMEOUT", "0s")
        // Ties across partitions evaluated together whatever the arrival order.
        .env("HUB__EVALUATION__TIES", "wait");
    for feed in ["kiosk", "slaughter", "export"] {
        h = h.env(
            &format!("HUB__KAFKA__TOPICS__{}", feed.to_uppercase()),
            &topic(name, feed),
        );
    }
    h
}

/// The end of the input: one event in every partition of every topic, at the same late
/// time, so each partition's clock reaches it and the watermark (the slowest partition
/// minus the lateness) settles at the same instant in both runs.
pub const CLOSE_AT: &str = "2026-11-20T12:00:00Z";
/// Unix seconds of CLOSE_AT minus the 1 h lateness (and 1 µs).
pub const SETTLED_AT: f64 = 1_795_176_000.0 - 3_600.0 - 0.000_001;

pub async fn close_all_partitions(bootstrap: &str, prefix: &str) {
    let p = producer(bootstrap);
    for partition in 0..3 {
        let r = format!("9{partition}0101");
        let events = [
            (
                "kiosk",
                json!({"event_id": format!("close-k-{partition}"), "kiosk_id": "K-close", "market_id": "M-close",
                "region_code": r, "tested_at": CLOSE_AT, "sample": {"category": "vegetable", "name": "x"},
                "test_item": "formaldehyde", "result": "pass"}),
            ),
            (
                "slaughter",
                json!({"event_id": format!("close-s-{partition}"), "plant_id": "S-close", "designated": true,
                "region_code": r, "species": "pig", "period_start": "2026-11-20T00:00:00Z", "period_end": CLOSE_AT,
                "head_count": 10, "quarantine_passed": 10, "condemned": 0, "beta_agonist_tested": 0, "beta_agonist_positive": 0}),
            ),
            (
                "export",
                json!({"event_id": format!("close-x-{partition}"), "declaration_no": format!("close{partition}"),
                "enterprise_id": "E-close", "region_code": r, "declared_at": CLOSE_AT, "hs_code": "020329",
                "product_category": "frozen_pork", "destination": "HK", "quantity_kg": 1.0, "batch_marked": true,
                "inspection": {"status": "pending"}}),
            ),
        ];
        for (feed, v) in events {
            let payload = serde_json::to_vec(&v).unwrap();
            let t = topic(prefix, feed);
            p.send(
                FutureRecord::to(&t)
                    .partition(partition)
                    .key(&r)
                    .payload(&payload),
                Duration::from_secs(30),
            )
            .await
            .expect("delivered");
        }
    }
}

pub async fn wait_settled(hub: &Hub) {
    wait_for(
        "the watermark to settle at the closing events",
        Duration::from_secs(120),
        || async move {
            let m = hub.metrics().await;
            m.lines()
                .find_map(|l| l.strip_prefix("hub_watermark_timestamp_seconds "))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|w| *w >= SETTLED_AT - 0.5)
                .map(|_| ())
        },
    )
    .await;
}

/// The distinct events the hub holds, over all three feed tables.
pub fn count_sql_inner() -> &'static str {
    "(SELECT count(DISTINCT event_id) FROM kiosk_results) + (SELECT count(DISTINCT event_id) FROM slaughter_reports) \
     + (SELECT count(DISTINCT event_id) FROM export_declarations)"
}
