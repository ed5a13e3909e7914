//! The Parquet archive: `archive/<table>/date=<YYYY-MM-DD>/part-<epoch>.parquet`.
//!
//! Hive-style partitions by table (feed) and event date (UTC), readable as they are by
//! DuckDB (`read_parquet('archive/kiosk_results/*/*.parquet', hive_partitioning=true)`)
//! or pandas (`pd.read_parquet('archive/kiosk_results')`). Each roll writes at most one
//! file per (table, date); a file is written under a temporary name, synced and renamed,
//! so a reader never sees half a file. A file belongs to the epoch in its name and counts
//! only once a checkpoint of that epoch exists: on start-up, files of later epochs (a
//! crash between the rename and the checkpoint) are deleted, and their rows are replayed
//! from Kafka.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate};
use hub_model::schema::Table;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::IngestError;

/// A committed archive file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedFile {
    pub table: Table,
    pub day: i32,
    pub epoch: u64,
    pub path: PathBuf,
    pub rows: usize,
    pub bytes: u64,
}

pub fn day_string(day: i32) -> String {
    DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|t| t.date_naive().format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("day{day}"))
}

fn parse_day(s: &str) -> Option<i32> {
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

pub fn file_path(archive_dir: &Path, table: Table, day: i32, epoch: u64) -> PathBuf {
    archive_dir
        .join(table.name())
        .join(format!("date={}", day_string(day)))
        .join(format!("part-{epoch:010}.parquet"))
}

fn parse_epoch(file_name: &str) -> Option<u64> {
    file_name
        .strip_prefix("part-")?
        .strip_suffix(".parquet")?
        .parse()
        .ok()
}

fn sync_dir(dir: &Path) -> Result<(), IngestError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| IngestError::io(dir, e))
}

/// Writes `batches` as one Parquet file, atomically (temporary name, fsync, rename).
pub fn write_file(
    archive_dir: &Path,
    table: Table,
    day: i32,
    epoch: u64,
    batches: &[RecordBatch],
) -> Result<ArchivedFile, IngestError> {
    let path = file_path(archive_dir, table, day, epoch);
    let dir = path
        .parent()
        .expect("archive files live in a partition directory");
    fs::create_dir_all(dir).map_err(|e| IngestError::io(dir, e))?;
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| IngestError::io(&tmp, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("level 3 is valid"),
        ))
        .set_max_row_group_row_count(Some(128 * 1024))
        .build();
    let parquet_err = |source| IngestError::Parquet {
        path: tmp.clone(),
        source,
    };
    let mut writer =
        ArrowWriter::try_new(file, table.schema(), Some(props)).map_err(parquet_err)?;
    let mut rows = 0;
    for b in batches {
        rows += b.num_rows();
        writer.write(b).map_err(parquet_err)?;
    }
    let file = writer.into_inner().map_err(parquet_err)?;
    file.sync_all().map_err(|e| IngestError::io(&tmp, e))?;
    let bytes = file.metadata().map_err(|e| IngestError::io(&tmp, e))?.len();
    drop(file);
    fs::rename(&tmp, &path).map_err(|e| IngestError::io(&path, e))?;
    sync_dir(dir)?;
    Ok(ArchivedFile {
        table,
        day,
        epoch,
        path,
        rows,
        bytes,
    })
}

/// Lists the committed files (epoch ≤ `committed_epoch`) and deletes everything else:
/// temporary files and files of epochs whose checkpoint was never written.
pub fn recover(archive_dir: &Path, committed_epoch: u64) -> Result<Vec<ArchivedFile>, IngestError> {
    let mut files = Vec::new();
    for table in Table::ALL {
        let table_dir = archive_dir.join(table.name());
        let Ok(partitions) = fs::read_dir(&table_dir) else {
            continue;
        };
        for partition in partitions {
            let partition = partition
                .map_err(|e| IngestError::io(&table_dir, e))?
                .path();
            let Some(day) = partition
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("date="))
                .and_then(parse_day)
            else {
                continue;
            };
            for entry in fs::read_dir(&partition).map_err(|e| IngestError::io(&partition, e))? {
                let path = entry.map_err(|e| IngestError::io(&partition, e))?.path();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                match parse_epoch(&name) {
                    Some(epoch) if epoch <= committed_epoch => {
                        let bytes = fs::metadata(&path)
                            .map_err(|e| IngestError::io(&path, e))?
                            .len();
                        files.push(ArchivedFile {
                            table,
                            day,
                            epoch,
                            path,
                            rows: 0,
                            bytes,
                        });
                    }
                    Some(_) | None if name.starts_with("part-") => {
                        tracing::info!(file = %path.display(), committed_epoch, "removing archive file of an uncommitted roll; its rows will be replayed");
                        fs::remove_file(&path).map_err(|e| IngestError::io(&path, e))?;
                    }
                    _ => {}
                }
            }
        }
    }
    files.sort_by_key(|f| (f.table, f.day, f.epoch));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_strings_round_trip() {
        for day in [-1, 0, 20_413, 20_778] {
            assert_eq!(parse_day(&day_string(day)), Some(day));
        }
        assert_eq!(day_string(20_778), "2026-11-21");
    }

    #[test]
    fn recover_keeps_committed_and_deletes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let batch = RecordBatch::new_empty(Table::KioskResults.schema());
        let a = write_file(
            dir.path(),
            Table::KioskResults,
            20_778,
            1,
            std::slice::from_ref(&batch),
        )
        .unwrap();
        let b = write_file(dir.path(), Table::KioskResults, 20_778, 2, &[batch]).unwrap();
        let tmp = a.path.with_file_name("part-0000000003.parquet.tmp");
        fs::write(&tmp, b"half").unwrap();
        let files = recover(dir.path(), 1).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, a.path);
        assert!(!b.path.exists(), "epoch 2 was never checkpointed");
        assert!(!tmp.exists());
    }
}
