//! The live tables: committed archive files plus the Arrow batches accepted since the
//! last roll. The pipeline thread is the only writer; SQL queries take snapshots.
//!
//! Invariant: a row is either in a live batch or in a committed file, never both and
//! never neither. A roll moves rows from batches to files in one step under the lock.

use std::collections::BTreeMap;
use std::sync::RwLock;

use arrow::record_batch::RecordBatch;
use hub_model::schema::Table;
use hub_model::source::{day_columns, FileLocation, SnapshotFile, TableSnapshot, TableSource};

use crate::archive::ArchivedFile;

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
                    location: FileLocation::Local(f.path.clone()),
                    day: Some(f.day),
                })
                .collect(),
            batches: state.live.values().flatten().cloned().collect(),
        }
    }
}
