//! Exactly once across crashes: `kill -9` the hub twice in the middle of a 20 000-event
//! stream (with duplicates and invalid messages mixed in); after the last restart the
//! tables hold every event exactly once and every dead letter exactly once. Archive
//! compaction runs every second throughout (the events' days are closed), so the kills
//! also land around compactions: no row may be lost or counted twice by them either.

use crate::common;

use std::time::Duration;

use common::feeds::{event, feed_counts, invalid_messages};
use common::{produce_all, producer, wait_for, Broker, Hub};

const EVENTS: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_twice_mid_stream_then_identical_counts() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(3);
    let mut hub = Hub::new(&broker.bootstrap(), &dir.path().join("data"), "crash")
        .env("HUB__STORAGE__COMPACTION__INTERVAL", "1s")
        .env("HUB__STORAGE__COMPACTION__GRACE", "3s")
        .env("HUB__SQL__QUERY_TIMEOUT", "2s");
    hub.start().await;

    // The stream: 20 000 unique events, every 50th re-sent (a duplicate), and the
    // invalid cases every 2 000 events.
    let invalid = invalid_messages();
    let mut stream = Vec::new();
    let mut dead = 0i64;
    for i in 0..EVENTS {
        stream.push(event("crash", i));
        if i % 50 == 49 {
            stream.push(event("crash", i - 7));
        }
        if i % 2000 == 1999 {
            let (topic, bytes, _) = &invalid[(i / 2000) % invalid.len()];
            stream.push((topic.clone(), bytes.clone()));
            dead += 1;
        }
    }
    let bootstrap = broker.bootstrap();
    let producing = tokio::spawn(async move {
        let p = producer(&bootstrap);
        for chunk in stream.chunks(500) {
            produce_all(&p, chunk).await;
            // Pace the stream so that the kills land in its middle.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    for (round, threshold) in [(1, 4_000i64), (2, 11_000)] {
        let h = &hub;
        wait_for(
            &format!("{threshold} kiosk rows before kill {round}"),
            Duration::from_secs(120),
            || async move {
                let (status, v) = h.sql_raw("SELECT count(*) FROM kiosk_results").await;
                (status.is_success() && v["rows"][0][0].as_i64().unwrap_or(0) >= threshold)
                    .then_some(())
            },
        )
        .await;
        hub.kill9();
        hub.start().await;
    }
    producing.await.unwrap();

    let (kiosk, slaughter, export) = feed_counts(EVENTS);
    let t = Duration::from_secs(120);
    hub.wait_feed_counts((kiosk, slaughter, export), t).await;
    hub.wait_count("SELECT count(*) FROM dead_letters", dead, t)
        .await;
    for table in ["kiosk_results", "slaughter_reports", "export_declarations"] {
        assert_eq!(
            hub.count(&format!(
                "SELECT count(*) - count(DISTINCT event_id) FROM {table}"
            ))
            .await,
            0,
            "{table} holds an event twice"
        );
    }
    assert_eq!(
        hub.count("SELECT count(*) - count(DISTINCT concat(topic, '/', \"partition\", '/', \"offset\")) FROM dead_letters").await,
        0,
        "a dead letter was recorded twice"
    );
    // Both restarts resumed from a checkpoint rather than from scratch.
    let log = hub.log_text();
    assert!(
        log.matches("recovered from checkpoint").count() >= 3,
        "{}",
        common::tail(&log, 30)
    );

    // Compaction merged the 1-second rolls' files (dozens per day), and the replaced
    // ones are deleted after their grace.
    let archive = dir.path().join("data/archive/kiosk_results");
    let files = || {
        let mut names = Vec::new();
        for day in std::fs::read_dir(&archive).unwrap() {
            for f in std::fs::read_dir(day.unwrap().path()).unwrap() {
                names.push(f.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
        names
    };
    // Left: a compacted file per day, and the newest roll's files (never merged yet:
    // start-up may fall back to the checkpoint before them).
    wait_for(
        "kiosk_results compacted to a file per day",
        Duration::from_secs(60),
        || async {
            let names = files();
            let parts = names.iter().filter(|n| n.starts_with("part-")).count();
            (names.iter().any(|n| n.starts_with("compacted-")) && parts <= 2 && names.len() <= 4)
                .then_some(())
        },
    )
    .await;
    let metrics = hub.metrics().await;
    assert!(
        metrics.contains("hub_archive_compactions_total{outcome=\"ok\"}"),
        "{metrics}"
    );
    hub.wait_count("SELECT count(*) FROM kiosk_results", kiosk, t)
        .await;

    // And a graceful stop writes a final checkpoint: a restart has nothing to replay.
    assert!(hub.terminate().success());
    hub.start().await;
    hub.wait_count("SELECT count(*) FROM kiosk_results", kiosk, t)
        .await;
    let metrics = hub.metrics().await;
    assert!(
        !metrics.contains("hub_ingest_records_total{feed=\"kiosk\",outcome=\"accepted\"}"),
        "nothing is replayed after a graceful stop:\n{metrics}"
    );
}
