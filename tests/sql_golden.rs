//! Golden analyst queries (sqllogictest-style files under `tests/sql/`): four weeks of
//! deterministic simulator history (incidents, plus invalid messages) go through a real
//! broker into the real hub; every query of every file runs over `POST /api/v1/sql` and
//! its rows must equal the file's. `UPDATE_GOLDEN=1` rewrites the expected rows (review
//! the diff).
//!
//! File format: blocks separated by blank lines; `# …` lines are comments; a block is
//! `query <name>`, the SQL, `----`, then one line per row, values separated by ` | `
//! (`NULL` for null; numbers as JSON writes them).

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::golden::{close_all_partitions, replay_hub, topic, wait_settled};
use common::golden_file::{parse, Query};
use common::{produce_all, producer, Broker, Hub};
use hub_simulator::{history, Scenario, SimConfig};
use serde_json::Value;

fn render(rows: &Value) -> Vec<String> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| match v {
                    Value::Null => "NULL".to_string(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

fn write(file: &Path, queries: &[(Query, Vec<String>)]) {
    let mut text = String::new();
    let original = std::fs::read_to_string(file).unwrap();
    // Keep the file's leading comment.
    for l in original.lines().take_while(|l| l.starts_with('#')) {
        text.push_str(l);
        text.push('\n');
    }
    for (q, rows) in queries {
        text.push_str(&format!("\nquery {}\n{}\n----\n", q.name, q.sql));
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
    }
    std::fs::write(file, text).unwrap();
}

fn files() -> Vec<PathBuf> {
    let mut f: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "slt"))
            .collect();
    f.sort();
    f
}

/// Four weeks of October 2026: incidents at 0.005 messages/s, invalid messages mixed in
/// from a second stream, all in event-time order.
fn october() -> Vec<(String, Vec<u8>)> {
    let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 10, 29, 0, 0, 0).unwrap();
    let incidents = SimConfig {
        seed: 7,
        scenario: Scenario::Incidents,
        ..SimConfig::default()
    };
    let bad = SimConfig {
        seed: 8,
        scenario: Scenario::Bad,
        ..SimConfig::default()
    };
    let mut all: Vec<_> = history(&incidents, start, end, 0.005)
        .unwrap()
        .chain(history(&bad, start, end, 0.001).unwrap())
        .collect();
    all.sort_by_key(|m| m.event_time);
    all.into_iter()
        .map(|m| (topic("sql", m.feed.as_str()), m.payload))
        .collect()
}

async fn run_file(hub: &Hub, file: &Path) -> Vec<String> {
    let queries = parse(&std::fs::read_to_string(file).unwrap());
    let mut failures = Vec::new();
    let mut results = Vec::new();
    for q in queries {
        let (status, body) = hub.sql_raw(&q.sql).await;
        assert!(status.is_success(), "{}: {status} {body}", q.name);
        let got = render(&body["rows"]);
        if got != q.expected {
            failures.push(format!(
                "{} ({}):\n  expected:\n    {}\n  got:\n    {}",
                q.name,
                file.display(),
                q.expected.join("\n    "),
                got.join("\n    ")
            ));
        }
        results.push((q, got));
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        write(file, &results);
        return Vec::new();
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_analyst_queries() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    for feed in ["kiosk", "slaughter", "export"] {
        broker.create_topic(&topic("sql", feed), 3);
    }
    let input = october();
    assert!(input.len() > 10_000, "{}", input.len());
    produce_all(&producer(&broker.bootstrap()), &input).await;
    close_all_partitions(&broker.bootstrap(), "sql").await;
    let mut hub = replay_hub(&broker, dir.path(), "sql");
    hub.start().await;
    let h = &hub;
    let expected = input.len() as f64 + 9.0;
    common::wait_for(
        "every message taken in",
        Duration::from_secs(300),
        || async move {
            let m = h.metrics().await;
            let seen: f64 = m
                .lines()
                .filter(|l| l.starts_with("hub_ingest_records_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            (seen >= expected).then_some(())
        },
    )
    .await;
    wait_settled(&hub).await;
    let mut failures = Vec::new();
    for f in files() {
        failures.extend(run_file(&hub, &f).await);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
