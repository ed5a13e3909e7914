//! What the SQL layer reads: for each table, the committed archive files plus the rows
//! accepted since the last roll, taken together in one consistent snapshot.

use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;

use crate::schema::Table;

/// One consistent view of a table: every row is in exactly one of `files` or `batches`.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    pub schema: SchemaRef,
    /// The column whose UTC date is each file's `date=` partition wherever the column is
    /// not null (see [`day_columns`]); `None`: files are never skipped by their day.
    pub day_column: Option<&'static str>,
    pub files: Vec<SnapshotFile>,
    pub batches: Vec<RecordBatch>,
}

impl TableSnapshot {
    /// A snapshot of archive files only (benchmarks, tools): each file's day is read from
    /// its `date=YYYY-MM-DD` directory, where there is one.
    pub fn from_files(table: Table, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        TableSnapshot {
            schema: table.schema(),
            day_column: Some(day_columns(table)[0]),
            files: paths.into_iter().map(SnapshotFile::local).collect(),
            batches: Vec::new(),
        }
    }
}

/// One committed archive file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    pub location: FileLocation,
    /// The file's partition: days since 1970-01-01 (UTC) of the `date=` directory. Every
    /// row of the file has its [`day_columns`] date on this day. `None`: unknown.
    pub day: Option<i32>,
}

impl SnapshotFile {
    /// A local file, its day parsed from its `date=YYYY-MM-DD` directory.
    pub fn local(path: PathBuf) -> Self {
        let day = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("date="))
            .and_then(parse_day);
        SnapshotFile {
            location: FileLocation::Local(path),
            day,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileLocation {
    /// A file in the local data directory.
    Local(PathBuf),
    /// An object in an object store, as a URL
    /// (`s3://bucket/prefix/<table>/date=YYYY-MM-DD/part-<epoch>.parquet`).
    Url(String),
}

/// The columns that decide a row's archive partition: the UTC date of the first of them
/// that is not null (`export_declarations`: `inspected_at`, else `declared_at`;
/// `dead_letters`: when the message was refused). The archive's files are sorted by the
/// same value. A comparison on the first column is true only where it is not null, so a
/// time predicate on it tells which days' files can hold matching rows.
pub fn day_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::KioskResults => &["tested_at"],
        Table::SlaughterReports => &["period_end"],
        Table::ExportDeclarations => &["inspected_at", "declared_at"],
        Table::DeadLetters => &["ingested_at"],
        Table::Alerts => &["at"],
    }
}

/// `YYYY-MM-DD` → days since 1970-01-01.
pub fn parse_day(s: &str) -> Option<i32> {
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// Implemented by the ingest layer's live tables; read by the SQL layer.
pub trait TableSource: Send + Sync {
    fn snapshot(&self, table: Table) -> TableSnapshot;
}

/// A table computed on demand rather than archived (e.g. `rates`): its rows as of now.
pub trait CurrentTable: Send + Sync {
    fn name(&self) -> &'static str;
    fn schema(&self) -> SchemaRef;
    fn batch(&self) -> RecordBatch;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_file_knows_its_day() {
        let f = SnapshotFile::local(PathBuf::from(
            "/d/archive/kiosk_results/date=2026-11-21/part-0000000001.parquet",
        ));
        assert_eq!(f.day, Some(20_778));
        assert_eq!(SnapshotFile::local(PathBuf::from("/x/y.parquet")).day, None);
        assert_eq!(parse_day("1969-12-31"), Some(-1));
    }

    #[test]
    fn day_columns_exist_in_their_schemas() {
        for table in Table::ALL {
            for c in day_columns(table) {
                let f = table.schema().field_with_name(c).cloned().unwrap();
                assert_eq!(f.data_type(), &crate::schema::timestamp_type());
            }
        }
    }
}
