//! A running hub with `storage.archive_url`: the archive files its rolls commit are
//! copied to a real S3-compatible server (moto's server mode) under the configured
//! prefix, with the same layout; the upload metrics say so; SQL then reads the copies
//! (the local files deleted, the answers unchanged, EXPLAIN names the objects); the
//! secret key never reaches the log.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::feeds::{event, feed_counts};
use common::moto::{list_keys, moto_or_skip, start_moto, BUCKET};
use common::{produce_all, producer, wait_for, Broker, Hub};

const EVENTS: usize = 3_000;
const SECRET: &str = "s3cr3t-kept-out-of-logs";

/// `name value` of an unlabelled metric, or the sum over a labelled one's series
/// matching `labels`.
fn metric(text: &str, name: &str, labels: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if series == name || (series.starts_with(&format!("{name}{{")) && series.contains(labels)) {
            *found.get_or_insert(0.0) += value.parse::<f64>().unwrap();
        }
    }
    found
}

/// The archive's Parquet files, as paths relative to the archive directory.
fn local_files(archive: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(tables) = std::fs::read_dir(archive) else {
        return out;
    };
    for table in tables.flatten() {
        for day in std::fs::read_dir(table.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            for f in std::fs::read_dir(day.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let p = f.path();
                if p.extension().is_some_and(|e| e == "parquet") {
                    out.insert(p.strip_prefix(archive).unwrap().display().to_string());
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_hub_copies_its_archive_to_the_object_store() {
    if !moto_or_skip("archive_object_store") {
        return;
    }
    let moto = start_moto();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(3);
    let data = dir.path().join("data");
    let mut hub = Hub::new(&broker.bootstrap(), &data, "s3hub")
        .env("HUB__STORAGE__ARCHIVE_URL", &format!("s3://{BUCKET}/hub-a"))
        .env(
            "AWS_ENDPOINT_URL",
            &format!("http://127.0.0.1:{}", moto.port),
        )
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "hub-test")
        .env("AWS_SECRET_ACCESS_KEY", SECRET);
    hub.start().await;

    let stream: Vec<_> = (0..EVENTS).map(|i| event("s3", i)).collect();
    produce_all(&producer(&broker.bootstrap()), &stream).await;
    let counts = feed_counts(EVENTS);
    hub.wait_feed_counts(counts, Duration::from_secs(120)).await;

    // Every file rolled so far is in the bucket under the prefix, and the snapshot names
    // its copy (the `ok` count moves after that).
    let archive = data.join("archive");
    let h = &hub;
    let copied = wait_for(
        "the archive files copied to the object store",
        Duration::from_secs(60),
        || {
            let archive = archive.clone();
            let port = moto.port;
            async move {
                let local = local_files(&archive);
                let m = h.metrics().await;
                let ok = metric(&m, "hub_archive_uploads_total", "outcome=\"ok\"")?;
                let pending = metric(&m, "hub_archive_upload_pending_files", "")?;
                let keys: BTreeSet<String> = list_keys(port, "hub-a/")
                    .into_iter()
                    .map(|k| k.strip_prefix("hub-a/").unwrap().to_string())
                    .collect();
                (!local.is_empty()
                    && local.iter().any(|f| f.starts_with("kiosk_results/date="))
                    && keys == local
                    && ok as usize == local.len()
                    && pending == 0.0)
                    .then_some(local)
            }
        },
    )
    .await;

    // SQL reads the copies: the local files of those rolls deleted, nothing is missing.
    for f in &copied {
        std::fs::remove_file(archive.join(f)).unwrap();
    }
    for (table, n) in [
        ("kiosk_results", counts.0),
        ("slaughter_reports", counts.1),
        ("export_declarations", counts.2),
    ] {
        assert_eq!(
            hub.count(&format!("SELECT count(*) FROM {table}")).await,
            n,
            "{table} read from the object store"
        );
    }
    // A query that reads the column data, not only the files' statistics.
    let fails = "SELECT count(*) FROM kiosk_results WHERE result = 'fail'";
    let expected = (0..EVENTS).filter(|i| i % 20 >= 2 && i % 33 == 0).count();
    assert_eq!(hub.count(fails).await, expected as i64);
    let plan = hub
        .sql(&format!("EXPLAIN ANALYZE {fails}"))
        .await
        .to_string();
    assert!(
        plan.contains("hub-a/kiosk_results/date="),
        "the plan scans the bucket's objects: {plan}"
    );
    assert!(
        !hub.log_text().contains(SECRET),
        "the secret key reached the log"
    );
}
