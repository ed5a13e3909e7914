//! The archive on an S3-compatible object store, against a real S3 server (moto's server
//! mode, `pip install 'moto[server]'`): committed files are copied after their roll, SQL
//! reads the copies (the local files are removed to prove it), day pruning still applies,
//! a restart uploads only what the store lacks, and the credentials never show.
//!
//! Skipped (loudly) when `moto_server` is not installed, except under CI (`CI` set), where
//! a missing server fails the test.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use hub_ingest::archive::{recover, write_file, ArchiveStore, ArchivedFile};
use hub_ingest::LiveTables;
use hub_model::schema::Table;
use hub_model::source::{FileLocation, TableSource};
use hub_sql::{Catalog, SqlConfig, SqlEngine};
use object_store::ObjectStoreExt;
use tokio_util::sync::CancellationToken;

const DAY_US: i64 = 86_400_000_000;
/// 2026-10-01.
const DAY0: i32 = 20_727;
const BUCKET: &str = "hub-archive";
const SECRET: &str = "s3cr3t-never-shown";

/// moto's S3 server on a free port, stopped (killed by its pid) on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_installed() -> bool {
    Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One unsigned HTTP request to the server (moto does not check signatures); the whole
/// answer, or `None` if the server is not answering.
fn http(port: u16, request_line: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{request_line} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .ok()?;
    s.write_all(body).ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    Some(answer)
}

fn status(answer: &[u8]) -> String {
    String::from_utf8_lossy(answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Starts moto and creates the bucket, polling until the server answers (30 s at most).
fn start_moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // S3 CreateBucket (moto does not check signatures).
        match http(port, &format!("PUT /{BUCKET}"), b"").map(|a| status(&a)) {
            Some(status) if status.contains(" 200") => return moto,
            Some(status) => panic!("moto refused to create the bucket: {status}"),
            None if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            None => panic!("moto_server did not answer on port {port} within 30 s"),
        }
    }
}

fn kiosk_rows(times: &[i64]) -> RecordBatch {
    let schema = Table::KioskResults.schema();
    let n = times.len();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match f.data_type() {
                DataType::Utf8 => Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("{}-{}", f.name(), i % 7)),
                )),
                DataType::Timestamp(TimeUnit::Microsecond, tz) => Arc::new(
                    TimestampMicrosecondArray::from(times.to_vec()).with_timezone_opt(tz.clone()),
                ),
                DataType::Float64 => Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|i| (i % 100) as f64),
                )),
                DataType::Int32 => {
                    Arc::new(Int32Array::from_iter_values((0..n).map(|i| (i % 3) as i32)))
                }
                DataType::Int64 => Arc::new(Int64Array::from_iter_values((0..n).map(|i| i as i64))),
                other => panic!("no test data for {other}"),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

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
fn wait_uploaded(tables: &LiveTables, files: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let snapshot = tables.snapshot(Table::KioskResults);
        let uploaded = snapshot
            .files
            .iter()
            .filter(|f| matches!(f.location, FileLocation::Url(_)))
            .count();
        if snapshot.files.len() == files && uploaded == files {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{uploaded} of {files} files uploaded after 30 s"
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
    if !moto_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "moto_server is not installed (pip install 'moto[server]'): the object-store test cannot run"
        );
        eprintln!(
            "\n\n*** SKIPPED archive_s3: moto_server is not installed; run \
             `python3 -m pip install 'moto[server]'` to test the object-store archive ***\n\n"
        );
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
    let task = {
        let _runtime = rt.enter();
        tables.mirror_to(store, cancel.clone())
    };
    wait_uploaded(&tables, 3);

    // A roll committed while mirroring: uploaded after its commit.
    tables.commit_roll(roll(dir.path(), 2, &days[1..], 500));
    wait_uploaded(&tables, 5);

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
    let task = {
        let _runtime = rt.enter();
        restarted.mirror_to(store, cancel.clone())
    };
    wait_uploaded(&restarted, 2);
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
