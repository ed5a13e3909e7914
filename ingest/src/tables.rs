//! The live tables: committed archive files plus the Arrow batches accepted since the
//! last roll. The pipeline thread is the only writer; SQL queries take snapshots.
//!
//! Invariant: a row is either in a live batch or in a committed file, never both and
//! never neither. A roll moves rows from batches to files in one step under the lock.
//!
//! With an object store ([`LiveTables::mirror_to`]), committed files are copied there in
//! the background and a snapshot names the copy once it exists (the local file until
//! then): the same rows either way, so the switch is invisible to a query.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use hub_model::schema::Table;
use hub_model::source::{day_columns, FileLocation, SnapshotFile, TableSnapshot, TableSource};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::archive::{ArchiveStore, ArchivedFile, StoreError};
use crate::metrics::IngestMetrics;

#[derive(Default)]
struct TableState {
    files: Vec<ArchivedFile>,
    /// Live batches, keyed by event day (the archive partition they will roll into).
    live: BTreeMap<i32, Vec<RecordBatch>>,
    live_bytes: usize,
}

#[derive(Default)]
pub struct LiveTables {
    tables: RwLock<[TableState; Table::ALL.len()]>,
    /// Woken by every roll: the object-store mirror, if any, looks for files to copy.
    committed: Notify,
    /// Set once `mirror_to` runs.
    mirrored: AtomicBool,
}

/// Rows waiting for the next roll: one entry per (table, day).
pub struct PendingPartition {
    pub table: Table,
    pub day: i32,
    pub batches: Vec<RecordBatch>,
}

impl LiveTables {
    pub fn with_files(files: Vec<ArchivedFile>) -> Self {
        let tables = LiveTables::default();
        {
            let mut t = tables.tables.write().unwrap_or_else(|e| e.into_inner());
            for f in files {
                t[f.table.index()].files.push(f);
            }
        }
        tables
    }

    pub fn append(&self, table: Table, day: i32, batch: RecordBatch) {
        let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
        let state = &mut t[table.index()];
        state.live_bytes += batch.get_array_memory_size();
        state.live.entry(day).or_default().push(batch);
    }

    pub fn live_bytes(&self) -> usize {
        let t = self.tables.read().unwrap_or_else(|e| e.into_inner());
        t.iter().map(|s| s.live_bytes).sum()
    }

    /// The live rows, grouped for writing, without removing them.
    pub fn pending(&self) -> Vec<PendingPartition> {
        let t = self.tables.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for table in Table::ALL {
            for (day, batches) in &t[table.index()].live {
                out.push(PendingPartition {
                    table,
                    day: *day,
                    batches: batches.clone(),
                });
            }
        }
        out
    }

    /// Makes the files of a roll visible and drops the live rows they hold, atomically.
    pub fn commit_roll(&self, files: Vec<ArchivedFile>) {
        let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
        for state in t.iter_mut() {
            state.live.clear();
            state.live_bytes = 0;
        }
        for f in files {
            t[f.table.index()].files.push(f);
        }
        drop(t);
        self.committed.notify_one();
    }

    /// Committed files without a copy on the object store yet (other than `skip`),
    /// oldest roll first.
    fn not_uploaded(&self, skip: &HashSet<PathBuf>) -> Vec<ArchivedFile> {
        let t = self.tables.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<ArchivedFile> = t
            .iter()
            .flat_map(|s| s.files.iter())
            .filter(|f| f.url.is_none() && !skip.contains(&f.path))
            .cloned()
            .collect();
        out.sort_by_key(|f| f.epoch);
        out
    }

    /// Copies every committed file to `store` in the background, and every file committed
    /// from now on right after its roll; snapshots name a file's copy once it is there.
    /// First lists what the store already holds (a file of the same key and size is not
    /// sent again), then uploads the rest, oldest first, retrying with backoff while the
    /// store is unreachable (SQL keeps reading the local files meanwhile). Stops when
    /// `cancel` fires; what was not copied yet is copied after the next start.
    /// Progress shows in `metrics` (`archive_uploads`, `archive_upload_pending`).
    ///
    /// There is no queue: what is left to copy is the committed files without a copy
    /// (`url` unset), read from the tables; a roll only wakes the uploader, so it never
    /// waits for the store and nothing grows while the store is down.
    pub fn mirror_to(
        self: &Arc<Self>,
        store: ArchiveStore,
        metrics: &IngestMetrics,
        cancel: CancellationToken,
    ) -> JoinHandle<()> {
        if self.mirrored.swap(true, Ordering::SeqCst) {
            tracing::error!("the archive is already mirrored to an object store");
        }
        tokio::spawn(upload_loop(self.clone(), store, metrics.clone(), cancel))
    }

    fn set_url(&self, file: &ArchivedFile, url: String) {
        let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = t[file.table.index()]
            .files
            .iter_mut()
            .find(|f| f.path == file.path)
        {
            f.url = Some(url);
        }
    }

    /// Every committed file, by table, day and epoch.
    pub fn files(&self) -> Vec<ArchivedFile> {
        let t = self.tables.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<ArchivedFile> = t.iter().flat_map(|s| s.files.iter().cloned()).collect();
        out.sort_by_key(|f| (f.table, f.day, f.epoch));
        out
    }

    /// Whether `file` is (still) one of the committed files.
    pub fn is_committed(&self, file: &ArchivedFile) -> bool {
        let t = self.tables.read().unwrap_or_else(|e| e.into_inner());
        t[file.table.index()]
            .files
            .iter()
            .any(|f| f.path == file.path)
    }

    /// Puts `compacted` in the place of the files it holds the rows of, in one step
    /// under the lock (a snapshot sees either those files or it, never both). Returns
    /// the files replaced (with their copies' URLs), or `None`, changing nothing, when
    /// one of `replaced` is no longer committed.
    pub fn replace_files(
        &self,
        replaced: &[ArchivedFile],
        compacted: ArchivedFile,
    ) -> Option<Vec<ArchivedFile>> {
        let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
        let files = &mut t[compacted.table.index()].files;
        if !replaced
            .iter()
            .all(|r| files.iter().any(|f| f.path == r.path))
        {
            return None;
        }
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(files)
            .into_iter()
            .partition(|f| replaced.iter().any(|r| r.path == f.path));
        *files = kept;
        files.push(compacted);
        files.sort_by_key(|f| (f.day, f.epoch));
        drop(t);
        self.committed.notify_one();
        Some(gone)
    }
}

/// Retries `op` with exponential backoff (1 s … 60 s) until it succeeds; `None` once
/// `cancel` fires.
async fn with_retry<T, F, Fut>(
    what: &str,
    cancel: &CancellationToken,
    errors: &prometheus::IntCounter,
    mut op: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_secs(1);
    loop {
        let result = tokio::select! {
            _ = cancel.cancelled() => return None,
            r = op() => r,
        };
        match result {
            Ok(v) => return Some(v),
            Err(e) => {
                errors.inc();
                tracing::warn!(error = %e, retry_in = ?delay, "archive object store: {what} failed");
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        }
    }
}

async fn upload_loop(
    tables: Arc<LiveTables>,
    store: ArchiveStore,
    metrics: IngestMetrics,
    cancel: CancellationToken,
) {
    let errors = metrics.archive_uploads.with_label_values(&["error"]);
    let uploaded = metrics.archive_uploads.with_label_values(&["ok"]);
    let pending = &metrics.archive_upload_pending;
    let mut vanished = HashSet::new();
    let committed = tables.not_uploaded(&vanished);
    pending.set(committed.len() as i64);
    let Some(present) = with_retry("listing", &cancel, &errors, || store.list()).await else {
        return;
    };
    let mut known = HashSet::new();
    let mut missing = 0;
    for f in committed {
        let key = store.key(&f);
        if present.get(&key) == Some(&f.bytes) {
            tables.set_url(&f, store.object_url(&f));
        } else {
            missing += 1;
        }
        known.insert(key);
    }
    let local = tables.files();
    let mut foreign = 0;
    for key in present.keys().filter(|k| !known.contains(*k)) {
        // The copy of a file a compaction replaced (the hub stopped before deleting it).
        let replaced = store
            .parse_key(key)
            .is_some_and(|(table, day, first, last)| {
                local
                    .iter()
                    .any(|f| f.covers_rolls(table, day, first, last))
            });
        if !replaced {
            foreign += 1;
        } else if let Some(()) = with_retry("deleting a replaced copy", &cancel, &errors, || {
            store.delete_key(key)
        })
        .await
        {
            tracing::info!(key = %key, "deleted the copy of an archive file a compacted file replaced");
        } else {
            return;
        }
    }
    if foreign > 0 {
        tracing::warn!(archive_url = %store.url(), objects = foreign, "the object store holds archive objects this hub's data directory does not know (another hub's, or an older data directory's); SQL ignores them, other readers of the prefix would not");
    }
    tracing::info!(archive_url = %store.url(), present = present.len() - foreign, to_upload = missing, "archive object store");
    loop {
        // The file in hand counts as pending until its copy is there.
        let waiting = tables.not_uploaded(&vanished);
        pending.set(waiting.len() as i64);
        let Some(f) = waiting.into_iter().next() else {
            tokio::select! {
                _ = cancel.cancelled() => return,
                // A roll committed meanwhile left a permit: no wake-up is lost.
                _ = tables.committed.notified() => continue,
            }
        };
        let upload = || async {
            // Replaced by a compacted file meanwhile: its rows are copied with that one.
            if !tables.is_committed(&f) {
                return Ok(None);
            }
            match store.upload(&f).await {
                // Deleted by hand: nothing left to copy, the snapshot keeps the path.
                Err(StoreError::Read { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    tracing::error!(file = %f.path.display(), "archive file vanished before its upload");
                    Ok(None)
                }
                r => r.map(Some),
            }
        };
        match with_retry("upload", &cancel, &errors, upload).await {
            Some(Some(url)) => {
                tracing::debug!(url = %url, bytes = f.bytes, "archive file uploaded");
                tables.set_url(&f, url);
                // After the snapshot names the copy: a count of `ok` means readable there.
                uploaded.inc();
            }
            Some(None) => {
                vanished.insert(f.path.clone());
            }
            None => return,
        }
    }
}

impl TableSource for LiveTables {
    fn snapshot(&self, table: Table) -> TableSnapshot {
        let t = self.tables.read().unwrap_or_else(|e| e.into_inner());
        let state = &t[table.index()];
        TableSnapshot {
            schema: table.schema(),
            day_column: Some(day_columns(table)[0]),
            files: state
                .files
                .iter()
                .map(|f| SnapshotFile {
                    location: match &f.url {
                        Some(url) => FileLocation::Url(url.clone()),
                        None => FileLocation::Local(f.path.clone()),
                    },
                    day: Some(f.day),
                })
                .collect(),
            batches: state.live.values().flatten().cloned().collect(),
        }
    }
}
