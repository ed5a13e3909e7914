//! Benchmark (g): the golden analyst queries (`tests/sql/analyst.slt`) over one Parquet
//! archive of ≥ 10 million kiosk rows, safety-hub's `SqlEngine` vs DuckDB (PyPI), in the
//! same run, on the same files, with the same number of threads (2).
//! Run: `cargo bench --bench analyst_vs_duckdb` (needs `python3 -c 'import duckdb'`).
//!
//! Archive (generated once, then reused from `target/bench-archive/kiosk-<N>/` while its
//! `complete.json` is there): the golden test's traffic scaled up — the simulator's
//! `incidents` history (seed 7) plus the `bad` stream (seed 8, a fifth of the rate,
//! 5 % of it invalid) from 2026-09-01 to 2026-11-21 UTC, merged in event-time order —
//! taken in the way the pipeline does: `Validator::decode` against a clock that follows
//! the messages' event time, the hub's dedup set, `TableBuilder`s per (table, event day)
//! finished every 2 048 messages (one micro-batch), dead letters for refused messages,
//! the rule stage with every built-in rule on each micro-batch's rows (its `alerts`
//! rows), `LiveTables`, and a roll whenever the live rows reach 64 MiB (the hub's
//! `storage.roll_max_bytes`; the 10 s roll interval is not simulated, i.e. a backfill
//! ingested flat out) that writes one file per (table, day) with the hub's own
//! `archive::write_file` (zstd 3, row groups ≤ 128 Ki rows) into
//! `archive/<table>/date=YYYY-MM-DD/part-<epoch>.parquet`. Then what the running hub's
//! compactor makes of it (every day being closed by now): its own `compaction::plan`
//! and `merge` with the default `[storage.compaction]`, replaced files deleted.
//!
//! Queries: the six golden queries verbatim (the archive covers their fixed October
//! dates). safety-hub: a `SqlEngine` (`Catalog` → `SnapshotTable` over a `TableSource`
//! that lists the archive's files, no live rows), 2 threads, limits raised (600 s,
//! 4 GiB, 1 M rows) — the path of `POST /api/v1/sql`, session set-up included.
//! DuckDB: `benches/duckdb_queries.py`, `SET threads = 2`, one view per table over
//! `read_parquet('<archive>/<table>/*/*.parquet', hive_partitioning = false)`, the hub's
//! `export_declarations_latest` view text as is, `to_unixtime` as a macro over `epoch`.
//! Per query: one warm-up run of each engine, then 5 runs alternating hub, DuckDB (so
//! load from elsewhere hits both alike); medians reported. The row counts (and, loosely,
//! the values) of both results are compared.
//!
//! Options (after `--`): `--explain` prints EXPLAIN ANALYZE of each query from both
//! engines; `--query <name>` runs one golden query; `--sql <text>` runs that query
//! instead (for experiments; `--duckdb-sql <text>`: DuckDB's spelling of it, where the
//! dialects differ). Environment: `BENCH_KIOSK_ROWS` (default
//! 10 000 000), `BENCH_RUNS` (5), `PYTHON` (python3).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, TimeZone, Utc};
use hub_ingest::archive::{write_file, ArchivedFile};
use hub_ingest::compaction::{self, CompactionConfig};
use hub_ingest::dedup::DedupSet;
use hub_ingest::{IngestConfig, LiveTables, StorageConfig};
use hub_model::batch::TableBuilder;
use hub_model::schema::Table;
use hub_model::source::{TableSnapshot, TableSource};
use hub_model::{DeadLetter, KafkaMeta, StatefulStage, Tick, Timestamp, Validator};
use hub_processors::rules::config::{default_rules, EvaluationConfig};
use hub_processors::rules::rule::CompiledRule;
use hub_processors::rules::stage::RuleStage;
use hub_simulator::{history, Scenario, SimConfig, SimMessage, KIOSK_SHARE};
use hub_sql::catalog::EXPORT_LATEST_VIEW;
use hub_sql::{Catalog, SqlConfig, SqlEngine};
use serde_json::{json, Value};

#[path = "../tests/common/golden_file.rs"]
mod golden_file;
use golden_file::Query;

/// Bump when the generated archive changes, so a cached one is rebuilt.
const ARCHIVE_VERSION: u64 = 3;
const MICRO_BATCH: usize = 2_048;
const PARTITIONS: u64 = 3;
const THREADS: usize = 2;

fn span() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap(),
    )
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name}={v}"))
        })
        .unwrap_or(default)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

// ---------------------------------------------------------------------------------
// The archive
// ---------------------------------------------------------------------------------

/// Kafka's partitioner is murmur2; any stable hash of the key spreads regions alike.
fn partition_of(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % PARTITIONS
}

/// The two streams of the golden test, merged by event time.
struct Merged<A: Iterator<Item = SimMessage>, B: Iterator<Item = SimMessage>> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<A: Iterator<Item = SimMessage>, B: Iterator<Item = SimMessage>> Iterator for Merged<A, B> {
    type Item = SimMessage;
    fn next(&mut self) -> Option<SimMessage> {
        let take_b = match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) => y.event_time < x.event_time,
            (None, Some(_)) => true,
            _ => false,
        };
        if take_b {
            self.b.next()
        } else {
            self.a.next()
        }
    }
}

struct Generator {
    archive: PathBuf,
    tables: LiveTables,
    roll_max_bytes: usize,
    epoch: u64,
    rows: BTreeMap<&'static str, usize>,
    files: usize,
    bytes: u64,
}

impl Generator {
    fn roll(&mut self) {
        self.epoch += 1;
        let mut written: Vec<ArchivedFile> = Vec::new();
        for p in self.tables.pending() {
            let f = write_file(&self.archive, p.table, p.day, self.epoch, &p.batches)
                .expect("archive file");
            *self.rows.entry(p.table.name()).or_default() += f.rows;
            self.files += 1;
            self.bytes += f.bytes;
            written.push(f);
        }
        self.tables.commit_roll(written);
    }
}

fn generate(dir: &Path, kiosk_target: usize) -> Value {
    let started = Instant::now();
    let archive = dir.join("archive");
    let (start, end) = span();
    let seconds = (end - start).num_seconds() as f64;
    // Golden mix: incidents at r, the bad stream at r / 5; 3 % over the target.
    let rate = kiosk_target as f64 * 1.03 / (KIOSK_SHARE * 1.2 * seconds);
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
    let messages = Merged {
        a: history(&incidents, start, end, rate).unwrap().peekable(),
        b: history(&bad, start, end, rate / 5.0).unwrap().peekable(),
    };
    println!(
        "generating the archive in {} ({start} .. {end}, incidents at {rate:.3} msg/s + bad at {:.3} msg/s)",
        archive.display(),
        rate / 5.0
    );

    let validator = Validator::default();
    let mut dedup = DedupSet::new(IngestConfig::default().dedup_capacity);
    let rules = CompiledRule::compile_all(&default_rules()).expect("built-in rules");
    let mut stage = RuleStage::new(rules, EvaluationConfig::default(), None);
    let mut gen = Generator {
        archive,
        tables: LiveTables::default(),
        roll_max_bytes: StorageConfig::default().roll_max_bytes,
        epoch: 0,
        rows: BTreeMap::new(),
        files: 0,
        bytes: 0,
    };
    let mut builders: HashMap<(Table, i32), TableBuilder> = HashMap::new();
    let mut offsets = [[0i64; PARTITIONS as usize]; 3];
    let mut clock = i64::MIN;
    let (mut n, mut in_batch, mut kiosk_rows) = (0usize, 0usize, 0usize);
    let mut last_report = Instant::now();

    let flush = |builders: &mut HashMap<(Table, i32), TableBuilder>,
                 stage: &mut RuleStage,
                 gen: &mut Generator| {
        let mut rows: Vec<(Table, i32, RecordBatch)> = builders
            .drain()
            .filter(|(_, b)| !b.is_empty())
            .map(|((t, d), mut b)| (t, d, b.finish().expect("batch")))
            .collect();
        rows.sort_by_key(|(t, d, _)| (*t, *d));
        let feed_rows: Vec<(Table, RecordBatch)> = rows
            .iter()
            .filter(|(t, _, _)| *t != Table::DeadLetters)
            .map(|(t, _, b)| (*t, b.clone()))
            .collect();
        let tick = Tick {
            wall: Timestamp::now(),
            quiet_for: Some(Duration::ZERO),
            partitions: None,
        };
        for out in stage.on_rows(&feed_rows, &tick).expect("rule stage") {
            if out.batch.num_rows() > 0 {
                gen.tables.append(out.table, out.day, out.batch);
            }
        }
        for (t, d, b) in rows {
            gen.tables.append(t, d, b);
        }
        if gen.tables.live_bytes() >= gen.roll_max_bytes {
            gen.roll();
        }
    };

    for m in messages {
        clock = clock.max(m.event_time.timestamp_micros());
        let now = Timestamp(clock);
        let feed = m.feed;
        let partition = partition_of(&m.key);
        let offset = &mut offsets[feed.index()][partition as usize];
        let meta = KafkaMeta {
            topic: feed.default_topic(),
            partition: partition as i32,
            offset: *offset,
            kafka_timestamp: Some(now),
            ingested_at: now,
        };
        *offset += 1;
        match validator.decode(feed, &m.payload, now) {
            Ok(event) => {
                if dedup.insert(feed, event.event_id()) {
                    let table = Table::of_feed(feed);
                    if table == Table::KioskResults {
                        kiosk_rows += 1;
                    }
                    builders
                        .entry((table, event.event_time().epoch_day()))
                        .or_insert_with(|| TableBuilder::new(table))
                        .append_event(&event, &meta);
                }
            }
            Err(rejection) => {
                let dead = DeadLetter {
                    feed,
                    topic: meta.topic.to_string(),
                    partition: meta.partition,
                    offset: meta.offset,
                    kafka_timestamp: meta.kafka_timestamp,
                    rejection,
                    payload: m.payload.clone(),
                    received_at: now,
                };
                builders
                    .entry((Table::DeadLetters, now.epoch_day()))
                    .or_insert_with(|| TableBuilder::new(Table::DeadLetters))
                    .append_dead_letter(&dead);
            }
        }
        n += 1;
        in_batch += 1;
        if in_batch == MICRO_BATCH {
            flush(&mut builders, &mut stage, &mut gen);
            in_batch = 0;
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "  {:>5.0} s  {n:>11} messages  {kiosk_rows:>11} kiosk rows  {:>7.0} msg/s  at {}  {} files",
                secs,
                n as f64 / secs,
                m.event_time.format("%Y-%m-%d"),
                gen.files
            );
        }
    }
    flush(&mut builders, &mut stage, &mut gen);
    gen.roll();
    let (compacted, replaced) = compact(&gen.archive, &gen.tables);
    println!("compacted {replaced} files into {compacted}");
    let took = started.elapsed().as_secs_f64();
    assert!(
        kiosk_rows >= kiosk_target,
        "only {kiosk_rows} kiosk rows for a target of {kiosk_target}: raise the rate margin"
    );
    let manifest = json!({
        "version": ARCHIVE_VERSION,
        "kiosk_target": kiosk_target,
        "messages": n,
        "rows": gen.rows,
        "files_written": gen.files,
        "files": gen.tables.files().len(),
        "bytes_written": gen.bytes,
        "bytes": gen.tables.files().iter().map(|f| f.bytes).sum::<u64>(),
        "rolls": gen.epoch,
        "generated_in_s": took,
        "span": [start.to_rfc3339(), end.to_rfc3339()],
    });
    std::fs::write(
        dir.join("complete.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    println!("generated in {took:.0} s");
    manifest
}

/// What the hub's compactor makes of the archive: runs of small files merged until
/// none is left to merge, the replaced files deleted. Returns (compacted files, files
/// they replaced).
fn compact(archive: &Path, tables: &LiveTables) -> (usize, usize) {
    let config = CompactionConfig::default();
    let today = Utc::now().timestamp().div_euclid(86_400) as i32;
    let (mut compacted, mut replaced) = (0, 0);
    loop {
        let runs = compaction::plan(&tables.files(), today, &config);
        if runs.is_empty() {
            return (compacted, replaced);
        }
        for run in runs {
            let merged = compaction::merge(archive, &run).expect("compacted file");
            for gone in tables
                .replace_files(&run, merged)
                .expect("the run is committed")
            {
                std::fs::remove_file(&gone.path).expect("delete a replaced file");
                replaced += 1;
            }
            compacted += 1;
        }
    }
}

/// The cached archive for `kiosk_target` rows, generated when missing or incomplete.
fn archive(kiosk_target: usize) -> (PathBuf, Value) {
    let dir = target_dir()
        .join("bench-archive")
        .join(format!("kiosk-{kiosk_target}"));
    let done = dir.join("complete.json");
    if let Some(manifest) = std::fs::read(&done)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(|m| m["version"] == ARCHIVE_VERSION)
    {
        println!("reusing the archive in {}", dir.display());
        return (dir.join("archive"), manifest);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove the incomplete archive");
    }
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = generate(&dir, kiosk_target);
    (dir.join("archive"), manifest)
}

/// The archive's committed files, as the hub's `TableSource` would list them.
struct ArchiveSource {
    files: HashMap<Table, Vec<PathBuf>>,
}

impl ArchiveSource {
    fn scan(archive: &Path) -> Self {
        let mut files = HashMap::new();
        for table in Table::ALL {
            let mut list = Vec::new();
            if let Ok(days) = std::fs::read_dir(archive.join(table.name())) {
                for day in days {
                    let day = day.unwrap().path();
                    for f in std::fs::read_dir(&day).unwrap() {
                        let p = f.unwrap().path();
                        if p.extension().is_some_and(|e| e == "parquet") {
                            list.push(p);
                        }
                    }
                }
            }
            list.sort();
            files.insert(table, list);
        }
        ArchiveSource { files }
    }
}

impl TableSource for ArchiveSource {
    fn snapshot(&self, table: Table) -> TableSnapshot {
        TableSnapshot::from_files(table, self.files.get(&table).cloned().unwrap_or_default())
    }
}

// ---------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------

/// The golden queries, verbatim.
fn golden_queries() -> Vec<Query> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql/analyst.slt");
    golden_file::parse(&std::fs::read_to_string(file).unwrap())
}

struct DuckDb {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl DuckDb {
    fn start(archive: &Path) -> (Self, String) {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_queries.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python} {}: {e}", script.display()));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut duck = DuckDb {
            child,
            stdin,
            stdout,
        };
        let reply = duck.call(json!({
            "op": "setup",
            "archive": archive.to_str().expect("UTF-8 path"),
            "threads": THREADS,
            "latest_view": EXPORT_LATEST_VIEW,
        }));
        let version = reply["version"].as_str().unwrap_or("?").to_string();
        (duck, version)
    }

    fn call(&mut self, msg: Value) -> Value {
        writeln!(self.stdin, "{msg}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("DuckDB helper replied {line:?}: {e}"));
        if let Some(e) = reply.get("error") {
            panic!("DuckDB: {e}");
        }
        reply
    }

    /// (milliseconds, rows)
    fn run(&mut self, sql: &str) -> (f64, usize) {
        let r = self.call(json!({"op": "run", "sql": sql}));
        (
            r["ms"].as_f64().unwrap(),
            r["rows"].as_u64().unwrap() as usize,
        )
    }
}

impl Drop for DuckDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A value as both engines print it, loosely: numbers to 4 decimals, timestamps
/// without the `T`/`Z`/`+00` spelling differences.
fn normalise(v: Option<&str>) -> String {
    let Some(v) = v else {
        return "NULL".into();
    };
    if v == "NULL" {
        return v.into();
    }
    if let Ok(f) = v.parse::<f64>() {
        return format!("{f:.4}");
    }
    let b = v.as_bytes();
    if b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && (b[10] == b'T' || b[10] == b' ') {
        let s = v.replacen('T', " ", 1);
        let s = s
            .trim_end_matches('Z')
            .trim_end_matches("+00:00")
            .trim_end_matches("+00");
        return s.to_string();
    }
    v.to_string()
}

fn hub_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let formatters: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| normalise(Some(&f.value(i).to_string())))
                    .collect(),
            );
        }
    }
    out
}

fn duck_rows(duck: &mut DuckDb, sql: &str) -> Vec<Vec<String>> {
    let r = duck.call(json!({"op": "rows", "sql": sql}));
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| normalise(v.as_str()))
                .collect()
        })
        .collect()
}

/// What DuckDB runs for `q`: its own spelling of an ad-hoc query (`--duckdb-sql`), else
/// the query as is.
fn duck_sql<'a>(q: &'a Query, adhoc_duck: &'a Option<String>) -> &'a str {
    match adhoc_duck {
        Some(sql) if q.name == "adhoc" => sql,
        _ => &q.sql,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

struct Outcome {
    name: String,
    hub_rows: usize,
    duck_rows: usize,
    values_equal: bool,
    hub_ms: f64,
    duck_ms: f64,
    hub_all: Vec<f64>,
    duck_all: Vec<f64>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let explain = args.iter().any(|a| a == "--explain");
    let only = args
        .iter()
        .position(|a| a == "--query")
        .and_then(|i| args.get(i + 1).cloned());
    let kiosk_target = env_usize("BENCH_KIOSK_ROWS", 10_000_000);
    let runs = env_usize("BENCH_RUNS", 5).max(1);

    let (archive, manifest) = archive(kiosk_target);
    println!(
        "archive: {} messages -> rows {} in {} files, {:.0} MiB",
        manifest["messages"],
        manifest["rows"],
        manifest["files"],
        manifest["bytes"].as_f64().unwrap_or(0.0) / (1u64 << 20) as f64
    );

    let source = ArchiveSource::scan(&archive);
    let catalog = Catalog::new(Arc::new(source));
    let config = SqlConfig {
        query_timeout: Duration::from_secs(600),
        query_memory_limit: 4 << 30,
        max_result_rows: 1_000_000,
        threads: THREADS,
        max_concurrent_queries: 1,
        ..SqlConfig::default()
    };
    let engine =
        SqlEngine::new(catalog.clone(), config, &prometheus::Registry::new()).expect("SQL engine");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(THREADS)
        .enable_all()
        .build()
        .unwrap();
    let (mut duck, duck_version) = DuckDb::start(&archive);

    let adhoc = args
        .iter()
        .position(|a| a == "--sql")
        .and_then(|i| args.get(i + 1).cloned());
    // DuckDB's own spelling of an ad-hoc query, where its dialect differs.
    let adhoc_duck = args
        .iter()
        .position(|a| a == "--duckdb-sql")
        .and_then(|i| args.get(i + 1).cloned());
    let queries: Vec<Query> = match adhoc {
        Some(sql) => vec![Query {
            name: "adhoc".into(),
            sql,
            expected: Vec::new(),
        }],
        None => golden_queries()
            .into_iter()
            .filter(|q| only.as_ref().is_none_or(|o| *o == q.name))
            .collect(),
    };
    assert!(!queries.is_empty(), "no such query: {only:?}");

    if explain {
        for q in &queries {
            println!("\n=== {} — safety-hub EXPLAIN ANALYZE ===", q.name);
            let text = rt.block_on(async {
                let ctx = catalog.session(4 << 30).await.unwrap();
                let b = ctx
                    .sql(&format!("EXPLAIN ANALYZE {}", q.sql))
                    .await
                    .unwrap()
                    .collect()
                    .await
                    .unwrap();
                arrow::util::pretty::pretty_format_batches(&b)
                    .unwrap()
                    .to_string()
            });
            println!("{text}");
            println!("\n=== {} — DuckDB EXPLAIN ANALYZE ===", q.name);
            let r = duck.call(json!({"op": "explain", "sql": duck_sql(q, &adhoc_duck)}));
            println!("{}", r["text"].as_str().unwrap_or_default());
        }
        return;
    }

    println!(
        "DuckDB {duck_version}; {THREADS} threads each; warm-up + {runs} alternating runs per query; load before: {}",
        loadavg()
    );
    let hub_run = |sql: &str| -> (f64, Vec<RecordBatch>) {
        let started = Instant::now();
        let r = rt
            .block_on(engine.query(sql))
            .unwrap_or_else(|e| panic!("safety-hub: {e}"));
        (started.elapsed().as_secs_f64() * 1000.0, r.batches)
    };
    // The fixed cost of a query: session set-up (catalog, views, pg_catalog), parsing,
    // planning, an empty plan's execution.
    {
        hub_run("SELECT 1");
        duck.run("SELECT 1");
        let hub: Vec<f64> = (0..20).map(|_| hub_run("SELECT 1").0).collect();
        let duck: Vec<f64> = (0..20).map(|_| duck.run("SELECT 1").0).collect();
        let session: Vec<f64> = (0..20)
            .map(|_| {
                let started = Instant::now();
                rt.block_on(catalog.session(1 << 30)).unwrap();
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        println!(
            "  SELECT 1 (fixed cost per query): safety-hub {:.2} ms (of which session set-up {:.2} ms), DuckDB {:.2} ms (medians of 20)",
            median(hub),
            median(session),
            median(duck)
        );
    }
    let mut outcomes = Vec::new();
    for q in &queries {
        let (_, batches) = hub_run(&q.sql);
        let hub_n: usize = batches.iter().map(|b| b.num_rows()).sum();
        let values_equal = hub_rows(&batches) == duck_rows(&mut duck, duck_sql(q, &adhoc_duck));
        duck.run(duck_sql(q, &adhoc_duck));
        let (mut hub_all, mut duck_all) = (Vec::new(), Vec::new());
        let mut duck_n = 0;
        for _ in 0..runs {
            hub_all.push(hub_run(&q.sql).0);
            let (ms, n) = duck.run(duck_sql(q, &adhoc_duck));
            duck_all.push(ms);
            duck_n = n;
        }
        let o = Outcome {
            name: q.name.clone(),
            hub_rows: hub_n,
            duck_rows: duck_n,
            values_equal,
            hub_ms: median(hub_all.clone()),
            duck_ms: median(duck_all.clone()),
            hub_all,
            duck_all,
        };
        println!(
            "  {}: safety-hub {:.1} ms, DuckDB {:.1} ms (runs {:?} / {:?})",
            o.name,
            o.hub_ms,
            o.duck_ms,
            o.hub_all.iter().map(|v| v.round()).collect::<Vec<_>>(),
            o.duck_all.iter().map(|v| v.round()).collect::<Vec<_>>()
        );
        outcomes.push(o);
    }
    println!("load after: {}", loadavg());

    let differing: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.hub_rows != o.duck_rows || !o.values_equal)
        .collect();
    if !differing.is_empty() {
        println!("\nWARNING: the engines' results differ; the comparison is invalid for:");
        println!("| query | safety-hub rows | DuckDB rows | values |");
        println!("|---|---|---|---|");
        for o in &differing {
            println!(
                "| {} | {} | {} | {} |",
                o.name,
                o.hub_rows,
                o.duck_rows,
                if o.values_equal { "same" } else { "differ" }
            );
        }
    }
    println!("\n| query | rows | safety-hub ms | DuckDB ms | ratio hub / DuckDB |");
    println!("|---|---|---|---|---|");
    let mut log_sum = 0.0;
    for o in &outcomes {
        let ratio = o.hub_ms / o.duck_ms;
        log_sum += ratio.ln();
        println!(
            "| `{}` | {} | {:.1} | {:.1} | {:.2}{} |",
            o.name,
            o.hub_rows,
            o.hub_ms,
            o.duck_ms,
            ratio,
            if ratio <= 1.5 { "" } else { " (> 1.5)" }
        );
    }
    println!(
        "| geometric mean | | | | {:.2} |",
        (log_sum / outcomes.len() as f64).exp()
    );
}
