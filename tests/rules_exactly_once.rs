//! Rules exactly once, end to end through a real broker: the golden scenarios' events
//! (every default rule) go through two hubs. The clean hub reads them once, in
//! event-time order. The other reads them with duplicates, reordered within the
//! allowed lateness, and is `kill -9`ed in the middle. Both must end with the identical
//! `rates` table and the identical sequence of alert transitions in `alerts`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{produce_all, producer, wait_for, Broker, Hub};
use rdkafka::producer::FutureRecord;
use serde_json::{json, Value};

const SCENARIOS: [&str; 6] = [
    "kiosk_bars",
    "kiosk_aging",
    "beta_agonist",
    "slaughter_shares",
    "export_supersede",
    "silence",
];

fn topic(prefix: &str, feed: &str) -> String {
    format!("{prefix}.{feed}")
}

/// Every scenario's events as (feed, event time, payload), in event-time order.
fn events() -> Vec<(String, String, Vec<u8>)> {
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

fn hub(broker: &Broker, dir: &Path, name: &str) -> Hub {
    let mut h = Hub::new(&broker.bootstrap(), &dir.join(name), name)
        .env("HUB__EVALUATION__ALLOWED_LATENESS", "1h")
        // Replay semantics: no partition is ever idle, no wall-clock jumps.
        .env("HUB__EVALUATION__PARTITION_IDLE_TIMEOUT", "0s")
        .env("HUB__EVALUATION__IDLE_TIMEOUT", "0s");
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
const CLOSE_AT: &str = "2026-11-20T12:00:00Z";
/// Unix seconds of CLOSE_AT minus the 1 h lateness (and 1 µs).
const SETTLED_AT: f64 = 1_795_176_000.0 - 3_600.0 - 0.000_001;

async fn close_all_partitions(bootstrap: &str, prefix: &str) {
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

async fn wait_settled(hub: &Hub) {
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

async fn snapshot(hub: &Hub) -> (Value, Value) {
    let alerts = hub
        .sql("SELECT notification_id, kind, state, severity, at, alert_id, sequence, value, samples, summary, evidence \
              FROM alerts ORDER BY at, alert_id, sequence")
        .await;
    let rates = hub
        .sql("SELECT rule, group_key, value, numerator, samples, interval_low, interval_high, state, severity, \
              trend_statistic, evaluated_at FROM rates ORDER BY rule, group_key")
        .await;
    (alerts["rows"].clone(), rates["rows"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_reordering_and_kill_9_give_the_clean_runs_rates_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    for prefix in ["clean", "crash"] {
        for feed in ["kiosk", "slaughter", "export"] {
            broker.create_topic(&topic(prefix, feed), 3);
        }
    }
    let events = events();
    let n = events.len() as i64;
    let count_sql = format!("SELECT {}", count_sql_inner());
    let t = Duration::from_secs(120);

    // The clean run: every event once, in event-time order.
    let clean: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|(f, _, p)| (topic("clean", f), p.clone()))
        .collect();
    produce_all(&producer(&broker.bootstrap()), &clean).await;
    close_all_partitions(&broker.bootstrap(), "clean").await;
    let mut a = hub(&broker, dir.path(), "clean");
    a.start().await;
    a.wait_count(&count_sql, n + 9, t).await;
    wait_settled(&a).await;
    let (clean_alerts, clean_rates) = snapshot(&a).await;
    assert!(
        clean_alerts.as_array().unwrap().len() >= 20,
        "the scenarios make alerts: {clean_alerts}"
    );
    assert!(!clean_rates.as_array().unwrap().is_empty());
    // The rule metrics: bounded labels (rule, province, severity), the latency histogram.
    let m = a.metrics().await;
    for needle in [
        "hub_rule_value{region=\"33\",rule=\"beta_agonist_positive_rate\"}",
        "hub_alerts_open{rule=\"beta_agonist_positive_rate\",severity=\"critical\"}",
        "hub_alert_transitions_total{kind=\"firing\",rule=\"kiosk_pass_rate\"}",
        "hub_rule_evaluation_latency_seconds_count",
        "hub_rule_groups{rule=\"feed_silence\"}",
    ] {
        assert!(m.contains(needle), "{needle} missing from /metrics");
    }
    assert!(!m.contains("market_id="), "no per-market labels");
    // A graceful restart neither forgets an open alert nor fires it again: the alert
    // state comes back from the checkpoint and nothing new is derived.
    assert!(a.terminate().success());
    a.start().await;
    wait_settled(&a).await;
    let (again_alerts, again_rates) = snapshot(&a).await;
    assert_eq!(again_alerts, clean_alerts, "a restart changed the alerts");
    assert_eq!(again_rates, clean_rates, "a restart changed the rates");
    assert!(a.terminate().success());

    // The perturbed run: runs of events less than 50 minutes apart reversed, every 7th
    // event sent a second time a little later, and a kill -9 in the middle.
    let mut perturbed: Vec<(String, Vec<u8>)> = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let mut j = i;
        while j + 1 < events.len()
            && j - i < 5
            && minutes_between(&events[i].1, &events[j + 1].1) < 50
        {
            j += 1;
        }
        for k in (i..=j).rev() {
            perturbed.push((topic("crash", &events[k].0), events[k].2.clone()));
            if k % 7 == 3 {
                perturbed.push((topic("crash", &events[k].0), events[k].2.clone()));
            }
        }
        i = j + 1;
    }
    let bootstrap = broker.bootstrap();
    let producing = tokio::spawn(async move {
        let p = producer(&bootstrap);
        for chunk in perturbed.chunks(25) {
            produce_all(&p, chunk).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    let mut b = hub(&broker, dir.path(), "crash");
    b.start().await;
    let hb = &b;
    let half = n / 2;
    wait_for("half of the events in the crash run", t, || async move {
        let (status, v) = hb
            .sql_raw(&format!("SELECT {half} <= ({})", count_sql_inner()))
            .await;
        (status.is_success() && v["rows"][0][0].as_bool() == Some(true)).then_some(())
    })
    .await;
    b.kill9();
    b.start().await;
    producing.await.unwrap();
    close_all_partitions(&broker.bootstrap(), "crash").await;
    b.wait_count(&count_sql, n + 9, Duration::from_secs(180))
        .await;
    wait_settled(&b).await;
    let (crash_alerts, crash_rates) = snapshot(&b).await;
    assert!(b.log_text().matches("recovered from checkpoint").count() >= 2);

    assert_eq!(crash_rates, clean_rates, "rates differ from the clean run");
    let lines = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect()
    };
    assert_eq!(
        lines(&crash_alerts),
        lines(&clean_alerts),
        "alert transitions differ from the clean run"
    );
}

fn count_sql_inner() -> &'static str {
    "(SELECT count(DISTINCT event_id) FROM kiosk_results) + (SELECT count(DISTINCT event_id) FROM slaughter_reports) \
     + (SELECT count(DISTINCT event_id) FROM export_declarations)"
}

fn minutes_between(a: &str, b: &str) -> i64 {
    let p = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
    (p(b) - p(a)).abs() / 60
}
