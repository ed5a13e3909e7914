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
use hub_ingest::archive::parse_relative_key;
use hub_model::schema::Table;

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

/// A hub whose archive is mirrored to `s3://<BUCKET>/<prefix>` on moto's server.
fn s3_hub(broker: &Broker, data: &Path, group: &str, prefix: &str, moto_port: u16) -> Hub {
    Hub::new(&broker.bootstrap(), data, group)
        .env(
            "HUB__STORAGE__ARCHIVE_URL",
            &format!("s3://{BUCKET}/{prefix}"),
        )
        .env("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{moto_port}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "hub-test")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
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
    let mut hub = s3_hub(&broker, &data, "s3hub", "hub-a", moto.port);
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

/// Files a compacted file of the same partition holds the rows of (replaced files not
/// deleted yet).
fn covered(files: &BTreeSet<String>) -> usize {
    let parsed: Vec<(Table, i32, u64, u64)> =
        files.iter().filter_map(|f| parse_relative_key(f)).collect();
    parsed
        .iter()
        .filter(|&&(table, day, first, last)| {
            parsed.iter().any(|c| {
                c.2 < c.3
                    && (c.2, c.3) != (first, last)
                    && c.0 == table
                    && c.1 == day
                    && c.2 <= first
                    && last <= c.3
            })
        })
        .count()
}

/// Produces the `n`th burst of 1 000 events and waits for the hub to count all `n`;
/// returns the kiosk rows expected.
async fn burst(hub: &Hub, bootstrap: &str, n: i64) -> i64 {
    let stream: Vec<_> = (0..1_000)
        .map(|i| event(&format!("compact{n}"), i))
        .collect();
    produce_all(&producer(bootstrap), &stream).await;
    let (k, s, x) = feed_counts(1_000);
    hub.wait_feed_counts((k * n, s * n, x * n), Duration::from_secs(120))
        .await;
    // Rolled into files before the next burst arrives.
    wait_for("the burst rolled", Duration::from_secs(30), || async {
        let m = hub.metrics().await;
        (metric(&m, "hub_live_buffer_bytes", "")? == 0.0).then_some(())
    })
    .await;
    k * n
}

/// Compaction with an object store: the compacted file is copied like any other, and
/// the copies of the files it replaced are deleted — after `grace` while the hub runs,
/// or at the next start when the hub stopped before that. The answers never change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_replaces_copies_on_the_object_store() {
    if !moto_or_skip("archive_object_store") {
        return;
    }
    let moto = start_moto();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(3);
    let data = dir.path().join("data");
    let mut hub = s3_hub(&broker, &data, "s3compact", "hub-c", moto.port)
        .env("HUB__SQL__QUERY_TIMEOUT", "2s")
        .env("HUB__STORAGE__COMPACTION__INTERVAL", "1s")
        // First run: replaced files outlive the hub.
        .env("HUB__STORAGE__COMPACTION__GRACE", "1h");
    hub.start().await;

    let archive = data.join("archive");
    let port = moto.port;
    let keys = move || -> BTreeSet<String> {
        list_keys(port, "hub-c/")
            .into_iter()
            .map(|k| k.strip_prefix("hub-c/").unwrap().to_string())
            .collect()
    };
    let kiosk = |files: &BTreeSet<String>| -> Vec<String> {
        files
            .iter()
            .filter(|f| f.starts_with("kiosk_results/"))
            .cloned()
            .collect()
    };
    // Each burst rolls into files of its own: several files per (table, day).
    let bootstrap = broker.bootstrap();
    // (Three: the newest roll's files are never merged yet.)
    burst(&hub, &bootstrap, 1).await;
    burst(&hub, &bootstrap, 2).await;
    let kiosk_rows = burst(&hub, &bootstrap, 3).await;

    // 1. The compacted file is copied; the replaced files and copies stay (grace 1 h).
    let h = &hub;
    wait_for(
        "a compacted kiosk file copied to the object store",
        Duration::from_secs(60),
        || {
            let archive = archive.clone();
            async move {
                let m = h.metrics().await;
                let pending = metric(&m, "hub_archive_upload_pending_files", "")?;
                let remote = keys();
                (pending == 0.0
                    && kiosk(&remote).iter().any(|k| k.contains("/compacted-"))
                    && covered(&remote) > 0
                    && remote == local_files(&archive))
                .then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        hub.count("SELECT count(*) FROM kiosk_results").await,
        kiosk_rows,
        "a compacted file and the files it replaced, both present, count once"
    );
    assert!(hub.terminate().success());

    // 2. Restarted (grace now 3 s): start-up deletes the replaced files, the mirror
    //    their copies.
    let mut hub = hub.env("HUB__STORAGE__COMPACTION__GRACE", "3s");
    hub.start().await;
    let compacted_only = |files: &BTreeSet<String>| {
        kiosk(files).iter().any(|f| f.contains("/compacted-")) && covered(files) == 0
    };
    wait_for(
        "the replaced copies deleted after the restart",
        Duration::from_secs(60),
        || {
            let archive = archive.clone();
            async move {
                let local = local_files(&archive);
                (compacted_only(&local) && keys() == local).then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        hub.count("SELECT count(*) FROM kiosk_results").await,
        kiosk_rows
    );

    // 3. More rows: merged with the compacted file; the replaced file and its copy go
    //    3 s later, while the hub runs.
    burst(&hub, &bootstrap, 4).await;
    let kiosk_rows = burst(&hub, &bootstrap, 5).await;
    let h = &hub;
    wait_for(
        "later bursts compacted, the replaced copies deleted",
        Duration::from_secs(60),
        || {
            let archive = archive.clone();
            async move {
                let m = h.metrics().await;
                let pending = metric(&m, "hub_archive_upload_pending_files", "")?;
                let local = local_files(&archive);
                (pending == 0.0
                    && compacted_only(&local)
                    && keys() == local
                    && metric(&m, "hub_archive_compacted_files_total", "")? >= 2.0)
                    .then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        hub.count("SELECT count(*) FROM kiosk_results").await,
        kiosk_rows
    );
    let plan = hub
        .sql("EXPLAIN ANALYZE SELECT count(*) FROM kiosk_results WHERE result = 'fail'")
        .await
        .to_string();
    assert!(
        plan.contains("hub-c/kiosk_results/date=") && plan.contains("compacted-"),
        "the plan scans the compacted objects: {plan}"
    );
}
