//! Archive compaction: a partition's small files merged into one.
//!
//! A roll writes one file per (table, day) it has rows for, every `storage.roll_interval`
//! (10 s) while data flows: up to 8 640 files a day per table, most of them small (an
//! `alerts` or `dead_letters` file holds a few rows). A query pays per file it opens
//! (footer, page index, pruning), so a month of those would make every archive query
//! slow. The compactor merges runs of a partition's small files into one
//! `compacted-<first>-<last>.parquet` (sorted by event time, like every archive file):
//!
//! 1. [`plan`] picks, per partition, runs of consecutive files (by epoch) each smaller
//!    than `target_bytes` and together at most that: every run of a closed day (older
//!    than yesterday, UTC), and a run of an open day once it has `min_files` files.
//! 2. [`merge`] reads the run and writes the compacted file (temporary name, sync,
//!    rename) on a blocking thread; the pipeline keeps rolling meanwhile (new rolls have
//!    later epochs, so they never fall inside a run).
//! 3. `LiveTables::replace_files` swaps the run for the compacted file in one step: a
//!    snapshot names either.
//! 4. The replaced files (and their object-store copies) are deleted `grace` later: a
//!    query reads its snapshot's files within `sql.query_timeout`, and the hub refuses a
//!    `grace` shorter than that.
//!
//! A crash anywhere leaves either the run (no compacted file yet) or the compacted file
//! plus leftovers it covers, which start-up deletes (`archive::recover`): no row is lost
//! or counted twice. Compaction changes no row, so checkpoints do not record it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::archive::{self, ArchiveStore, ArchivedFile};
use crate::metrics::IngestMetrics;
use crate::tables::LiveTables;
use crate::IngestError;

/// `[storage.compaction]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompactionConfig {
    /// Merge small archive files at all.
    pub enabled: bool,
    /// How often the compactor looks for work.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Files of today's or yesterday's partition (still receiving rows) merged once this
    /// many small ones have accumulated; older days are merged whatever their count.
    pub min_files: usize,
    /// Size of a compacted file (Parquet bytes). Larger files are left alone. Merging
    /// holds a run in memory as Arrow: several times this.
    pub target_bytes: u64,
    /// How long replaced files stay on disk (and on the object store) for the queries
    /// that may still read them: longer than `sql.query_timeout`.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            enabled: true,
            interval: Duration::from_secs(60),
            min_files: 32,
            target_bytes: 32 << 20,
            grace: Duration::from_secs(300),
        }
    }
}

impl CompactionConfig {
    pub fn validate(&self) -> Result<(), IngestError> {
        let bad = |key: &str, what: &str| {
            Err(IngestError::Config(format!(
                "storage.compaction.{key}: {what}"
            )))
        };
        if self.interval.is_zero() {
            return bad("interval", "must be above 0");
        }
        if self.min_files < 2 {
            return bad("min_files", "must be at least 2 (a merge needs two files)");
        }
        if self.target_bytes < 1 << 20 {
            return bad("target_bytes", "must be at least 1 MiB");
        }
        Ok(())
    }
}

/// The runs of files to merge, each of one partition, in epoch order (see the module
/// documentation). `files` are the committed files; `today` is the current UTC day.
///
/// Files of the newest epoch are left for later: start-up falls back to the previous
/// checkpoint when the newest is unreadable (`Checkpoint::load_latest`), and that one
/// must commit every file a compacted file holds — otherwise start-up would delete the
/// compacted file as uncommitted after the files it replaced were gone.
pub fn plan(
    files: &[ArchivedFile],
    today: i32,
    config: &CompactionConfig,
) -> Vec<Vec<ArchivedFile>> {
    let newest = files.iter().map(|f| f.epoch).max();
    let mut partitions: BTreeMap<_, Vec<&ArchivedFile>> = BTreeMap::new();
    for f in files.iter().filter(|f| Some(f.epoch) != newest) {
        partitions.entry((f.table, f.day)).or_default().push(f);
    }
    let mut runs = Vec::new();
    for ((_, day), mut files) in partitions {
        files.sort_by_key(|f| f.epoch);
        let closed = day < today - 1;
        let min_files = if closed { 2 } else { config.min_files };
        let mut run: Vec<ArchivedFile> = Vec::new();
        let mut run_bytes = 0;
        let mut finish = |run: &mut Vec<ArchivedFile>| {
            if run.len() >= min_files {
                runs.push(std::mem::take(run));
            }
            run.clear();
        };
        for f in files {
            if f.bytes >= config.target_bytes {
                // Big enough: ends the run (a run is consecutive, so it holds every
                // file of its epoch range).
                finish(&mut run);
                run_bytes = 0;
                continue;
            }
            if run_bytes + f.bytes > config.target_bytes {
                finish(&mut run);
                run_bytes = 0;
            }
            run_bytes += f.bytes;
            run.push(f.clone());
        }
        finish(&mut run);
    }
    runs
}

/// Reads a run of one partition's files and writes them as one compacted file.
pub fn merge(archive_dir: &Path, run: &[ArchivedFile]) -> Result<ArchivedFile, IngestError> {
    let (first, last) = (&run[0], &run[run.len() - 1]);
    let mut batches = Vec::new();
    for f in run {
        batches.extend(archive::read_file(f)?);
    }
    archive::write_compacted(
        archive_dir,
        first.table,
        first.day,
        (first.first_epoch, last.epoch),
        &batches,
    )
}

/// Files replaced by a compaction, deleted once no query can read them any more.
struct Retired {
    files: Vec<ArchivedFile>,
    due: Instant,
}

/// Compacts the archive of `tables` every `config.interval` until `cancel` fires.
/// With a `store`, replaced files' copies are deleted there too (the compacted file is
/// copied by the mirror like any committed file).
pub async fn run(
    tables: Arc<LiveTables>,
    archive_dir: PathBuf,
    config: CompactionConfig,
    store: Option<ArchiveStore>,
    metrics: IngestMetrics,
    cancel: CancellationToken,
) {
    let mut retired: Vec<Retired> = Vec::new();
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        delete_due(&mut retired, store.as_ref(), &metrics).await;
        let today = (chrono::Utc::now().timestamp().div_euclid(86_400)) as i32;
        for run in plan(&tables.files(), today, &config) {
            if cancel.is_cancelled() {
                return;
            }
            let span = tracing::info_span!(
                "compaction",
                table = run[0].table.name(),
                day = %archive::day_string(run[0].day),
                files = run.len()
            );
            let dir = archive_dir.clone();
            let merged = {
                let run = run.clone();
                tokio::task::spawn_blocking(move || merge(&dir, &run)).await
            };
            let _entered = span.enter();
            let compacted = match merged {
                Ok(Ok(f)) => f,
                Ok(Err(e)) => {
                    metrics.compactions.with_label_values(&["error"]).inc();
                    tracing::error!(error = %e, "archive compaction failed; the files stay as they are and it is tried again");
                    continue;
                }
                Err(e) => {
                    metrics.compactions.with_label_values(&["error"]).inc();
                    tracing::error!(error = %e, "archive compaction task failed");
                    continue;
                }
            };
            let path = compacted.path.clone();
            match tables.replace_files(&run, compacted) {
                Some(replaced) => {
                    metrics.compactions.with_label_values(&["ok"]).inc();
                    metrics.compacted_files.inc_by(replaced.len() as u64);
                    tracing::debug!(file = %path.display(), "archive files compacted");
                    retired.push(Retired {
                        files: replaced,
                        due: Instant::now() + config.grace,
                    });
                }
                None => {
                    // Cannot happen with one compactor; the file would double rows.
                    tracing::error!(file = %path.display(), "compacted files changed meanwhile; dropping the compacted file");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
}

/// Deletes the retired files whose grace has passed; a failed deletion is tried again.
async fn delete_due(
    retired: &mut Vec<Retired>,
    store: Option<&ArchiveStore>,
    metrics: &IngestMetrics,
) {
    let now = Instant::now();
    let mut still = Vec::new();
    for mut r in retired.drain(..) {
        if r.due > now {
            still.push(r);
            continue;
        }
        let mut left = Vec::new();
        for f in r.files {
            let local = match std::fs::remove_file(&f.path) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => {
                    tracing::warn!(file = %f.path.display(), error = %e, "could not delete a replaced archive file; trying again later");
                    false
                }
            };
            let remote = match store {
                Some(store) => match store.delete(&f).await {
                    Ok(()) => true,
                    Err(e) => {
                        metrics.archive_uploads.with_label_values(&["error"]).inc();
                        tracing::warn!(key = %store.key(&f), error = %e, "could not delete a replaced file's copy; trying again later");
                        false
                    }
                },
                None => true,
            };
            if !(local && remote) {
                left.push(f);
            }
        }
        if !left.is_empty() {
            r.files = left;
            still.push(r);
        }
    }
    *retired = still;
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_model::schema::Table;
    use proptest::prelude::*;

    fn file(table: Table, day: i32, epoch: u64, bytes: u64) -> ArchivedFile {
        ArchivedFile {
            table,
            day,
            first_epoch: epoch,
            epoch,
            path: PathBuf::from(archive::relative_key(table, day, epoch, epoch)),
            rows: 0,
            bytes,
            url: None,
        }
    }

    const TODAY: i32 = 20_789;

    fn config() -> CompactionConfig {
        CompactionConfig {
            min_files: 4,
            target_bytes: 100,
            ..CompactionConfig::default()
        }
    }

    fn epochs(runs: &[Vec<ArchivedFile>]) -> Vec<Vec<u64>> {
        runs.iter()
            .map(|r| r.iter().map(|f| f.epoch).collect())
            .collect()
    }

    #[test]
    fn closed_days_merge_from_two_files_open_days_from_min_files() {
        let t = Table::Alerts;
        let files = [
            // A closed day: two files are enough.
            file(t, TODAY - 2, 1, 10),
            file(t, TODAY - 2, 2, 10),
            // Yesterday and today: only once `min_files` (4) accumulated.
            file(t, TODAY - 1, 1, 10),
            file(t, TODAY - 1, 2, 10),
            file(t, TODAY - 1, 3, 10),
            file(t, TODAY, 4, 10),
            file(t, TODAY, 5, 10),
            file(t, TODAY, 6, 10),
            file(t, TODAY, 7, 10),
        ];
        // The newest epoch's files wait (see `plan`): an epoch 8 elsewhere lets 7 in.
        let runs = plan(&files, TODAY, &config());
        assert_eq!(epochs(&runs), [vec![1, 2]]);
        let mut files = files.to_vec();
        files.push(file(Table::KioskResults, TODAY, 8, 10));
        let runs = plan(&files, TODAY, &config());
        assert_eq!(epochs(&runs), [vec![1, 2], vec![4, 5, 6, 7]]);
    }

    #[test]
    fn big_files_split_runs_and_runs_stop_at_the_target() {
        let t = Table::KioskResults;
        let d = TODAY - 10;
        let files = [
            file(t, d, 1, 40),
            file(t, d, 2, 40),
            file(t, d, 3, 40),  // 120 > 100: a new run starts here
            file(t, d, 4, 100), // big: left alone
            file(t, d, 5, 30),
            file(t, d, 6, 30),
            file(t, d, 7, 90),    // alone after 5–6 (150 > 100): no run of one
            file(t, d + 1, 8, 1), // the newest epoch: not merged yet
        ];
        let runs = plan(&files, TODAY, &config());
        assert_eq!(epochs(&runs), [vec![1, 2], vec![5, 6]]);
    }

    #[test]
    fn a_compacted_file_merges_again_with_later_files() {
        let t = Table::DeadLetters;
        let d = TODAY - 3;
        let mut compacted = file(t, d, 5, 20);
        compacted.first_epoch = 1;
        let newest = file(t, d + 1, 10, 5);
        let runs = plan(&[compacted, file(t, d, 9, 5), newest], TODAY, &config());
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0][0].first_epoch, runs[0][1].epoch), (1, 9));
    }

    #[test]
    fn bad_settings_are_named() {
        for (c, key) in [
            (
                CompactionConfig {
                    min_files: 1,
                    ..config()
                },
                "min_files",
            ),
            (
                CompactionConfig {
                    target_bytes: 5,
                    ..config()
                },
                "target_bytes",
            ),
            (
                CompactionConfig {
                    interval: Duration::ZERO,
                    ..config()
                },
                "interval",
            ),
        ] {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(&format!("storage.compaction.{key}")), "{e}");
        }
    }

    proptest! {
        /// Runs are consecutive files of one partition (so a compacted file holds every
        /// file of its epoch range), of at least two small files within the target, and
        /// a file is in at most one run.
        #[test]
        fn runs_are_whole_consecutive_and_bounded(
            files in proptest::collection::vec((0usize..3, 0i32..4, 1u64..150), 0..60),
            min_files in 2usize..6,
        ) {
            let config = CompactionConfig { min_files, target_bytes: 100, ..CompactionConfig::default() };
            let files: Vec<ArchivedFile> = files
                .iter()
                .enumerate()
                .map(|(i, (t, d, bytes))| file(Table::ALL[*t], TODAY - d, i as u64 + 1, *bytes))
                .collect();
            let runs = plan(&files, TODAY, &config);
            let newest = files.iter().map(|f| f.epoch).max();
            prop_assert!(runs.iter().flatten().all(|f| Some(f.epoch) != newest));
            let mut seen = std::collections::HashSet::new();
            for run in &runs {
                let (t, d) = (run[0].table, run[0].day);
                let least = if d < TODAY - 1 { 2 } else { min_files };
                prop_assert!(run.len() >= least);
                prop_assert!(run.iter().map(|f| f.bytes).sum::<u64>() <= 100);
                prop_assert!(run.iter().all(|f| f.table == t && f.day == d && f.bytes < 100));
                for f in run {
                    prop_assert!(seen.insert(f.path.clone()), "{} in two runs", f.path.display());
                }
                // Consecutive: no other file of the partition lies inside the run's range.
                let (lo, hi) = (run[0].epoch, run[run.len() - 1].epoch);
                let inside = files
                    .iter()
                    .filter(|f| f.table == t && f.day == d && (lo..=hi).contains(&f.epoch))
                    .count();
                prop_assert_eq!(inside, run.len());
            }
        }
    }
}
