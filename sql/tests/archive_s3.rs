//! The archive on an S3-compatible object store, against a real S3 server (moto's server
//! mode, `pip install 'moto[server]'`): committed files are copied after their roll, SQL
//! reads the copies (the local files are removed to prove it), day pruning still applies,
//! a restart uploads only what the store lacks, and the credentials never show.
//!
//! Skipped (loudly) when `moto_server` is not installed, except under CI (`CI` set), where
//! a missing server fails the test.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use arrow::util::pretty::pretty_format_batches;
use hub_ingest::archive::{recover, write_file, ArchiveStore, ArchivedFile};
use hub_ingest::metrics::IngestMetrics;
use hub_ingest::LiveTables;
use hub_model::schema::Table;
use hub_model::source::{FileLocation, TableSource};
use hub_sql::{Catalog, SqlConfig, SqlEngine};
use object_store::ObjectStoreExt;
use tokio_util::sync::CancellationToken;

use crate::kiosk;
use crate::moto;
use kiosk::{kiosk_rows, DAY0, DAY_US};
use moto::{moto_or_skip, start_moto, BUCKET};

const SECRET: &str = "s3cr3t-never-shown";

/// A roll: one file of `rows` rows on each of `days`.
fn roll(dir: &Path, epoch: u64, days: &[i32], rows: i64) -> Vec<ArchivedFile> {
    days.iter()
        .map(|&day| {
            let times: Vec<i64> = (0..rows)
                .map(|i| i64::from(day) * DAY_US + i * (DAY_US / rows))
                .collect();
            write_file(dir, Table::KioskResults, day, epoch, &[kiosk_rows(&times)]).unwrap()
        })
        .collect()
}

/// Waits (polling, 30 s at most) until every committed file is named by its copy.
/// Waits until `files` kiosk files name their copy and the pending gauge shows none left.
fn wait_uploaded(tables: &LiveTables, metrics: &IngestMetrics, files: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let snapshot = tables.snapshot(Table::KioskResults);
        let uploaded = snapshot
            .files
            .iter()
            .filter(|f| matches!(f.location, FileLocation::Url(_)))
            .count();
        let pending = metrics.archive_upload_pending.get();
        if snapshot.files.len() == files && uploaded == files && pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{uploaded} of {files} files uploaded after 30 s, {pending} pending"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn count(engine: &SqlEngine, sql: &str) -> i64 {
    let r = engine.query(sql).await.unwrap();
    r.batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[test]
fn the_archive_lives_on_an_s3_compatible_store() {
    if !moto_or_skip("archive_s3") {
        return;
    }
    let moto = start_moto();
    // The standard AWS variables, set before any thread of this process starts.
    for (k, v) in [
        (
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", moto.port),
        ),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "hub-test".into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
    ] {
        std::env::set_var(k, v);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{BUCKET}/prod/archive");
    let days = [DAY0, DAY0 + 1, DAY0 + 2];

    // Files committed before the store is configured, then mirrored: all uploaded.
    let first = roll(dir.path(), 1, &days, 1_000);
    let tables = Arc::new(LiveTables::with_files(first));
    let store = ArchiveStore::new(&url).unwrap();
    let shown = format!("{store:?}");
    assert!(shown.contains(&url) && !shown.contains(SECRET), "{shown}");
    let cancel = CancellationToken::new();
    let metrics = IngestMetrics::new(&prometheus::Registry::new()).unwrap();
    let uploads_ok = metrics.archive_uploads.with_label_values(&["ok"]);
    let task = {
        let _runtime = rt.enter();
        tables.mirror_to(store, &metrics, cancel.clone())
    };
    wait_uploaded(&tables, &metrics, 3);
    assert_eq!(uploads_ok.get(), 3);

    // A roll committed while mirroring: uploaded after its commit.
    tables.commit_roll(roll(dir.path(), 2, &days[1..], 500));
    wait_uploaded(&tables, &metrics, 5);
    assert_eq!(uploads_ok.get(), 5);

    // The objects: same keys as the local layout, same sizes.
    let check = ArchiveStore::new(&url).unwrap();
    let objects: HashMap<String, u64> = rt.block_on(check.list()).unwrap();
    assert_eq!(objects.len(), 5, "{objects:?}");
    for f in recover(dir.path(), 2).unwrap() {
        let key = format!(
            "prod/archive/{}",
            f.path.strip_prefix(dir.path()).unwrap().display()
        );
        assert_eq!(objects.get(&key), Some(&f.bytes), "{key} in {objects:?}");
    }

    // SQL reads the copies: with the local files gone, the answers are unchanged.
    for f in recover(dir.path(), 2).unwrap() {
        std::fs::remove_file(&f.path).unwrap();
    }
    let engine = SqlEngine::new(
        Catalog::new(tables.clone() as Arc<dyn TableSource>),
        SqlConfig::default(),
        &prometheus::Registry::new(),
    )
    .unwrap();
    rt.block_on(async {
        assert_eq!(
            count(&engine, "SELECT count(*) FROM kiosk_results").await,
            3_000 + 1_000
        );
        let one_day = "SELECT count(*) FROM kiosk_results \
            WHERE tested_at >= TIMESTAMP '2026-10-02T00:00:00Z' AND tested_at < TIMESTAMP '2026-10-03T00:00:00Z'";
        assert_eq!(count(&engine, one_day).await, 1_500);
        let plan = engine
            .query(&format!("EXPLAIN ANALYZE {one_day}"))
            .await
            .unwrap();
        let plan = pretty_format_batches(&plan.batches).unwrap().to_string();
        let mut scanned: Vec<&str> = plan
            .split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == ',')
            .filter_map(|w| w.split_once(".parquet").map(|(file, _)| file))
            .collect();
        scanned.sort();
        scanned.dedup();
        assert_eq!(
            scanned,
            [
                "prod/archive/kiosk_results/date=2026-10-02/part-0000000001",
                "prod/archive/kiosk_results/date=2026-10-02/part-0000000002"
            ],
            "the object store's copies of that day only:\n{plan}"
        );
        assert!(!plan.contains(SECRET));
    });
    cancel.cancel();
    rt.block_on(task).unwrap();

    // A restart: the store already holds the first file (same key and size) and lacks
    // the second (committed while the store was down); only the second is sent.
    let dir2 = tempfile::tempdir().unwrap();
    let mut files = roll(dir2.path(), 1, &days[..1], 200);
    files.extend(roll(dir2.path(), 2, &days[..1], 300));
    let store = ArchiveStore::new(&format!("s3://{BUCKET}/other")).unwrap();
    let first_key = store.key(&files[0]);
    // A stand-in of the same size, so that a second upload would show.
    let s3 = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(BUCKET)
        .build()
        .unwrap();
    let stand_in = vec![b'x'; files[0].bytes as usize];
    let key = object_store::path::Path::from(first_key.as_str());
    rt.block_on(s3.put(&key, stand_in.clone().into())).unwrap();
    let restarted = Arc::new(LiveTables::with_files(files));
    let cancel = CancellationToken::new();
    let metrics = IngestMetrics::new(&prometheus::Registry::new()).unwrap();
    let task = {
        let _runtime = rt.enter();
        restarted.mirror_to(store, &metrics, cancel.clone())
    };
    wait_uploaded(&restarted, &metrics, 2);
    assert_eq!(
        metrics.archive_uploads.with_label_values(&["ok"]).get(),
        1,
        "only the file the store lacked is sent"
    );
    let objects = rt
        .block_on(
            ArchiveStore::new(&format!("s3://{BUCKET}/other"))
                .unwrap()
                .list(),
        )
        .unwrap();
    assert_eq!(objects.len(), 2, "{objects:?}");
    let got = rt
        .block_on(async { s3.get(&key).await.unwrap().bytes().await })
        .unwrap();
    assert_eq!(got, stand_in, "the object already there was sent again");
    cancel.cancel();
    rt.block_on(task).unwrap();
    drop(moto);
}
