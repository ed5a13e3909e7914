//! Time predicates read only the archive files and row groups they need: real Parquet
//! files written by the archive's `write_file`, read through the real `SqlEngine`; and
//! pruning never changes a result (property test against an in-memory copy).

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use datafusion::catalog::MemTable;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use hub_ingest::archive::{write_file, ArchivedFile};
use hub_ingest::LiveTables;
use hub_model::schema::Table;
use hub_model::source::TableSource;
use hub_sql::table::SnapshotTable;
use hub_sql::{Catalog, SqlConfig, SqlEngine};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::kiosk;
use kiosk::{kiosk_rows, DAY0, DAY_US};

/// `n` instants spread over `day`, in scrambled order, plus both ends of the day.
fn day_times(day: i32, n: usize, seed: u64) -> Vec<i64> {
    let start = i64::from(day) * DAY_US;
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out: Vec<i64> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            start + (x % DAY_US as u64) as i64
        })
        .collect();
    out.extend([start, start + DAY_US - 1]);
    out
}

fn write(dir: &std::path::Path, day: i32, epoch: u64, times: &[i64]) -> ArchivedFile {
    write_file(dir, Table::KioskResults, day, epoch, &[kiosk_rows(times)]).unwrap()
}

fn plan_text(batches: &[RecordBatch]) -> String {
    pretty_format_batches(batches).unwrap().to_string()
}

/// The `name=…` metric of the plan's Parquet scan, summed if it shows up more than once
/// (pruning metrics read `name=N total → M matched`; the number of pruned is N - M).
fn pruned(plan: &str, name: &str) -> Option<(u64, u64)> {
    let mut found = None;
    for part in plan.split(&format!("{name}=")).skip(1) {
        let nums: Vec<u64> = part
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .take(2)
            .map(|s| s.parse().unwrap())
            .collect();
        let (total, matched) = found.unwrap_or((0, 0));
        found = Some((total + nums[0], matched + nums[1]));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_predicate_reads_only_its_days_files_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    // Two rolls over four days: eight small files.
    for epoch in 1..=2 {
        for d in 0..4 {
            let day = DAY0 + d;
            files.push(write(
                dir.path(),
                day,
                epoch,
                &day_times(day, 2_000, epoch * 10 + d as u64),
            ));
        }
    }
    // A big roll of day 2 (a replay): 300k rows in scrambled order → three row groups.
    let big_day = DAY0 + 1;
    files.push(write(
        dir.path(),
        big_day,
        3,
        &day_times(big_day, 300_000, 99),
    ));
    let day2_files: Vec<String> = files
        .iter()
        .filter(|f| f.day == big_day)
        .map(|f| f.path.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(day2_files.len(), 3);

    let tables = Arc::new(LiveTables::with_files(files));
    let engine = SqlEngine::new(
        Catalog::new(tables as Arc<dyn TableSource>),
        SqlConfig::default(),
        &prometheus::Registry::new(),
    )
    .unwrap();

    // One day: only that day's three files are in the scan.
    let day_query = "SELECT count(*) AS n FROM kiosk_results \
        WHERE tested_at >= TIMESTAMP '2026-10-02T00:00:00Z' AND tested_at < TIMESTAMP '2026-10-03T00:00:00Z'";
    let n = engine.query(day_query).await.unwrap();
    assert_eq!(
        n.batches[0].column(0).as_primitive::<Int64Type>().value(0),
        2 * 2_002 + 300_002
    );
    let plan = plan_text(
        &engine
            .query(&format!("EXPLAIN ANALYZE {day_query}"))
            .await
            .unwrap()
            .batches,
    );
    // `file_groups={N groups: [[dir/kiosk_results/date=…/part-….parquet(:0..123), …]]}`
    let mut scanned: Vec<&str> = plan
        .split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == ',')
        .filter_map(|w| w.split_once(".parquet").map(|(file, _)| file))
        .collect();
    scanned.sort();
    scanned.dedup();
    assert_eq!(
        scanned.len(),
        3,
        "only the 2026-10-02 files are scanned:\n{plan}"
    );
    for s in &scanned {
        assert!(
            s.contains("date=2026-10-02/"),
            "{s} is not a 2026-10-02 file:\n{plan}"
        );
    }

    // Two hours of that day: the sorted big file's row groups and pages outside those
    // hours are skipped by their statistics.
    let hours = "EXPLAIN ANALYZE SELECT count(*) FROM kiosk_results \
        WHERE tested_at BETWEEN TIMESTAMP '2026-10-02T06:00:00Z' AND TIMESTAMP '2026-10-02T08:00:00Z'";
    let plan = plan_text(&engine.query(hours).await.unwrap().batches);
    let (total, matched) = pruned(&plan, "row_groups_pruned_statistics")
        .unwrap_or_else(|| panic!("no row group statistics in\n{plan}"));
    assert_eq!(
        total, 5,
        "three row groups in the big file, one in each small file"
    );
    assert!(
        matched <= 3,
        "the big file's row groups outside 06:00-08:00 are pruned: {matched} of {total} read\n{plan}"
    );
    let (pages, pages_read) = pruned(&plan, "page_index_pages_pruned")
        .unwrap_or_else(|| panic!("no page index metrics in\n{plan}"));
    assert!(
        pages >= pages_read + 4,
        "pages outside 06:00-08:00 are pruned: {pages_read} of {pages} read\n{plan}"
    );
}

/// A SQL timestamp literal for `us`, in one of the forms analysts write.
fn literal(us: i64, form: u8) -> String {
    let t = chrono::DateTime::from_timestamp_micros(us).unwrap();
    match form % 4 {
        0 => format!("TIMESTAMP '{}'", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
        1 => format!("'{}'", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
        2 => format!(
            "TIMESTAMP '{}'",
            (t + chrono::Duration::hours(8)).format("%Y-%m-%d %H:%M:%S%.6f+08:00")
        ),
        _ => format!("CAST('{}' AS TIMESTAMP)", t.format("%Y-%m-%d %H:%M:%S%.6f")),
    }
}

fn predicate() -> impl Strategy<Value = String> {
    let span = (i64::from(DAY0) - 1) * DAY_US..(i64::from(DAY0) + 6) * DAY_US;
    // Instants near day boundaries matter most.
    let instant = prop_oneof![
        span.clone(),
        (DAY0 - 1..DAY0 + 6, -1i64..=1).prop_map(|(d, e)| i64::from(d) * DAY_US + e),
    ];
    let op = prop_oneof![Just(">="), Just(">"), Just("<"), Just("<="), Just("=")];
    let day = (DAY0 - 1..DAY0 + 6).prop_map(|d| {
        chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string()
    });
    prop_oneof![
        (
            op.clone(),
            instant.clone(),
            any::<u8>(),
            op.clone(),
            instant.clone(),
            any::<u8>()
        )
            .prop_map(|(o1, a, f1, o2, b, f2)| format!(
                "tested_at {o1} {} AND tested_at {o2} {}",
                literal(a, f1),
                literal(b, f2)
            )),
        (instant.clone(), instant.clone(), any::<u8>()).prop_map(|(a, b, f)| format!(
            "tested_at BETWEEN {} AND {}",
            literal(a, f),
            literal(b, f)
        )),
        (op.clone(), instant.clone(), any::<u8>())
            .prop_map(|(o, a, f)| format!("{} {o} tested_at", literal(a, f))),
        (op.clone(), day.clone())
            .prop_map(|(o, d)| format!("CAST(tested_at AS DATE) {o} DATE '{d}'")),
        (instant.clone(), instant.clone(), any::<u8>()).prop_map(|(a, b, f)| format!(
            "(tested_at < {} OR tested_at >= {})",
            literal(a, f),
            literal(b, f)
        )),
        (op.clone(), instant.clone(), any::<u8>())
            .prop_map(|(o, a, f)| format!("(tested_at {o} {} OR value > 90)", literal(a, f))),
        (op, instant, any::<u8>(), day).prop_map(|(o, a, f, d)| format!(
            "tested_at {o} {} AND NOT (CAST(tested_at AS DATE) = DATE '{d}')",
            literal(a, f)
        )),
    ]
}

#[test]
fn pruning_never_changes_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut all = Vec::new();
    for epoch in 1..=2u64 {
        for d in 0..5 {
            let day = DAY0 + d;
            let times = day_times(day, 300, epoch * 10 + d as u64);
            let f = write(dir.path(), day, epoch, &times);
            files.push(f);
            all.push(kiosk_rows(&times));
        }
    }
    // Live rows (not yet rolled) on two of the days.
    let tables = LiveTables::with_files(files);
    for (d, seed) in [(2, 7), (5, 8)] {
        let batch = kiosk_rows(&day_times(DAY0 + d, 50, seed));
        tables.append(Table::KioskResults, DAY0 + d, batch.clone());
        all.push(batch);
    }
    let snapshot = tables.snapshot(Table::KioskResults);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ctx = SessionContext::new();
    ctx.register_table(
        "kiosk_results",
        Arc::new(SnapshotTable::try_new(snapshot).unwrap()),
    )
    .unwrap();
    ctx.register_table(
        "truth",
        Arc::new(MemTable::try_new(Table::KioskResults.schema(), vec![all]).unwrap()),
    )
    .unwrap();
    let run = |sql: String| {
        rt.block_on(async {
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            plan_text(&batches)
        })
    };
    // The days the scan's pushed-down filters allow, as `SnapshotTable::scan` sees them.
    let table = SnapshotTable::try_new(tables.snapshot(Table::KioskResults)).unwrap();
    let days_of = |sql: &str| {
        let plan = rt
            .block_on(async { ctx.sql(sql).await.unwrap().into_optimized_plan() })
            .unwrap();
        let mut filters = Vec::new();
        plan.apply(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                filters.extend(scan.filters.iter().cloned());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        table.days(&filters)
    };
    let file_days = (DAY0..DAY0 + 5).collect::<Vec<_>>();
    let narrowed = std::cell::Cell::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 128,
        ..Config::default()
    });
    runner
        .run(&predicate(), |p| {
            let q = |t: &str| {
                format!(
                    "SELECT count(*) AS n, sum(value) AS s, min(tested_at) AS lo, \
                     max(tested_at) AS hi FROM {t} WHERE {p}"
                )
            };
            let (pruned, truth) = (run(q("kiosk_results")), run(q("truth")));
            prop_assert_eq!(pruned, truth, "{}", p);
            let days = days_of(&q("kiosk_results"));
            if file_days.iter().any(|d| !days.contains(*d)) {
                narrowed.set(narrowed.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    // Most predicates skip files (else the property would say little).
    assert!(
        narrowed.get() >= 128 / 3,
        "only {} of 128 predicates skipped a file",
        narrowed.get()
    );
    let days = days_of(
        "SELECT * FROM kiosk_results WHERE tested_at >= TIMESTAMP '2026-10-02T00:00:00Z' \
         AND tested_at < '2026-10-03T00:00:00Z'",
    );
    assert_eq!(
        (days.first, days.last),
        (i64::from(DAY0) + 1, i64::from(DAY0) + 1)
    );
}
