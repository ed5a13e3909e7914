//! The contract's examples through a real tansu broker and the real binary: valid ones
//! land in their tables, every invalid one lands in `dead_letters` and `hub.dlq` with
//! its reason, and the valid neighbours around them are all kept.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use common::feeds::{examples, invalid_messages};
use common::{produce_all, producer, Broker, Hub};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::ClientConfig;

fn valid_messages() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (file, topic) in [
        ("kiosk.valid.ndjson", "kiosk.results"),
        ("slaughter.valid.ndjson", "slaughter.reports"),
        ("export.valid.ndjson", "export.declarations"),
    ] {
        for v in examples(file) {
            out.push((topic.to_string(), serde_json::to_vec(&v).unwrap()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_valid_and_invalid_through_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(3);
    let mut hub = Hub::new(&broker.bootstrap(), &dir.path().join("data"), "examples");
    hub.start().await;

    // Invalid messages sandwiched between valid ones on the same topics.
    let valid = valid_messages();
    let invalid = invalid_messages();
    let mut stream: Vec<(String, Vec<u8>)> = valid[..4].to_vec();
    stream.extend(invalid.iter().map(|(t, b, _)| (t.clone(), b.clone())));
    stream.extend(valid[4..].iter().cloned());
    produce_all(&producer(&broker.bootstrap()), &stream).await;

    let t = Duration::from_secs(60);
    hub.wait_count("SELECT count(*) FROM kiosk_results", 4, t)
        .await;
    hub.wait_count("SELECT count(*) FROM slaughter_reports", 2, t)
        .await;
    hub.wait_count("SELECT count(*) FROM export_declarations", 2, t)
        .await;
    hub.wait_count("SELECT count(*) FROM dead_letters", invalid.len() as i64, t)
        .await;

    // The reason classes are exactly those of invalid.md.
    let rows = hub
        .sql("SELECT reason_class, count(*) AS n FROM dead_letters GROUP BY reason_class")
        .await;
    let got: BTreeMap<String, i64> = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
        .collect();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for (_, _, class) in &invalid {
        *expected.entry(class.to_string()).or_default() += 1;
    }
    assert_eq!(got, expected);

    // Named fields in the reasons.
    let reasons = hub
        .sql("SELECT reason FROM dead_letters ORDER BY reason")
        .await;
    let reasons: Vec<String> = reasons["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    for needle in [
        "missing field: market_id",
        "bad value: result",
        "bad value: region_code",
        "bad value: tested_at",
        "bad value: head_count",
        "invariant: quarantine_passed <= head_count",
        "invariant: period",
        "invariant: inspected_at required",
        "future timestamp",
        "not an object",
        "empty",
    ] {
        assert!(
            reasons.iter().any(|r| r.starts_with(needle)),
            "no reason starts with `{needle}`: {reasons:#?}"
        );
    }

    // Flattened columns with the contract's names, Kafka position on every row.
    let row = hub
        .sql("SELECT sample_category, sample_name, vendor_id, topic, \"partition\" >= 0, \"offset\" >= 0, ingested_at IS NOT NULL FROM kiosk_results WHERE event_id = 'kq-330102-017-000001'")
        .await;
    assert_eq!(
        row["rows"][0],
        serde_json::json!([
            "vegetable",
            "菠菜",
            "V-000381",
            "kiosk.results",
            true,
            true,
            true
        ])
    );
    let row = hub
        .sql("SELECT inspection_status, inspection_reasons, inspected_at FROM export_declarations WHERE event_id = 'ex-310020261121000123-v2'")
        .await;
    assert_eq!(row["rows"][0][0], "fail");
    assert_eq!(
        row["rows"][0][1],
        serde_json::json!(["veterinary_drug_residue"])
    );
    assert!(
        row["rows"][0][2]
            .as_str()
            .unwrap()
            .starts_with("2026-11-21T06:30:00"),
        "{row}"
    );

    // hub.dlq carries every dead letter with reason, position and the raw bytes.
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["hub.dlq"]).unwrap();
    let mut seen = Vec::new();
    while seen.len() < invalid.len() {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("hub.dlq delivers every dead letter")
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
        for key in [
            "reason",
            "reason_class",
            "topic",
            "partition",
            "offset",
            "timestamp",
            "payload_base64",
        ] {
            assert!(v.get(key).is_some(), "dead letter without {key}: {v}");
        }
        seen.push(
            base64::engine::general_purpose::STANDARD
                .decode(v["payload_base64"].as_str().unwrap())
                .unwrap(),
        );
    }
    for (_, bytes, _) in &invalid {
        assert!(
            seen.contains(bytes),
            "raw bytes of a dead letter not found in hub.dlq"
        );
    }

    // Metrics count the same.
    let metrics = hub.metrics().await;
    assert!(
        metrics.contains("hub_ingest_records_total{feed=\"kiosk\",outcome=\"accepted\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hub_dead_letters_total{feed=\"slaughter\",reason_class=\"invariant\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_count_once_and_declarations_supersede_by_event_time() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(3);
    let mut hub = Hub::new(&broker.bootstrap(), &dir.path().join("data"), "dups");
    hub.start().await;

    // Every kiosk example three times (producer retries, replays).
    let kiosk: Vec<(String, Vec<u8>)> = examples("kiosk.valid.ndjson")
        .iter()
        .map(|v| ("kiosk.results".to_string(), serde_json::to_vec(v).unwrap()))
        .collect();
    let mut stream = kiosk.clone();
    stream.extend(kiosk.clone());
    stream.extend(kiosk);

    // Declaration versions out of order: v3 (re-inspected, pass) first, then v1, v2.
    let ex = examples("export.valid.ndjson");
    let (v1, v2) = (ex[0].clone(), ex[1].clone());
    let mut v3 = v2.clone();
    v3["event_id"] = "ex-310020261121000123-v3".into();
    v3["inspection"] =
        serde_json::json!({"status": "pass", "inspected_at": "2026-11-21T18:00:00+08:00"});
    for v in [&v3, &v1, &v2] {
        stream.push((
            "export.declarations".to_string(),
            serde_json::to_vec(v).unwrap(),
        ));
    }
    produce_all(&producer(&broker.bootstrap()), &stream).await;

    let t = Duration::from_secs(60);
    hub.wait_count("SELECT count(*) FROM export_declarations", 3, t)
        .await;
    hub.wait_count("SELECT count(*) FROM kiosk_results", 4, t)
        .await;
    assert_eq!(
        hub.count("SELECT count(DISTINCT event_id) FROM kiosk_results")
            .await,
        4
    );
    let latest = hub
        .sql("SELECT event_id, inspection_status FROM export_declarations_latest")
        .await;
    assert_eq!(
        latest["rows"],
        serde_json::json!([["ex-310020261121000123-v3", "pass"]])
    );
    let metrics = hub.metrics().await;
    assert!(
        metrics.contains("hub_ingest_records_total{feed=\"kiosk\",outcome=\"duplicate\"} 8"),
        "{metrics}"
    );
    // v1 and v2 arrived after v3: history only, the ledger keeps v3.
    assert!(
        metrics.contains("hub_export_declaration_versions_total{outcome=\"superseded\"} 2"),
        "{metrics}"
    );
}
