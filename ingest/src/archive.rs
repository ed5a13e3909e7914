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
//!
//! Compaction ([`crate::compaction`]) later merges a partition's small files into one
//! `compacted-<first>-<last>.parquet`, holding the rows of every file of that partition
//! whose epoch lies in `first..=last`. It is written the same way (temporary name, sync,
//! rename) before the files it replaces are retired; on start-up a file covered by a
//! compacted one is a leftover of that step and is deleted, so no row counts twice.
//!
//! With `storage.archive_url` (`s3://bucket/prefix`), committed files are also copied to
//! an S3-compatible object store, under the same `<table>/date=…/part-….parquet` keys,
//! and SQL reads them there ([`ArchiveStore`], `LiveTables::mirror_to`). The copy is
//! made after the file's epoch is checkpointed, so the store never holds a file that does
//! not count; the local file stays the durable one (a restart uploads what is missing).
//!
//! Sized and sorted for scans: a file's rows are sorted by the table's event time (the
//! value its `date=` partition is the day of, [`day_columns`]), written in zstd row
//! groups of at most 128 Ki rows and data pages of at most 20 Ki rows, with min/max
//! statistics per row group and per page (the page index). A time predicate therefore
//! skips whole days by the directory, then row groups and pages by their statistics.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::kernels::zip::zip;
use arrow::compute::{
    concat_batches, is_not_null, lexsort_to_indices, take_record_batch, SortColumn,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::DateTime;
use futures::TryStreamExt;
use hub_model::schema::Table;
use hub_model::source::{day_columns, parse_day};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::IngestError;

/// A committed archive file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedFile {
    pub table: Table,
    pub day: i32,
    /// The rolls whose rows the file holds are `first_epoch..=epoch`: one roll's own file
    /// has `first_epoch == epoch`, a compacted file covers a run of them.
    pub first_epoch: u64,
    /// The file counts once a checkpoint of this epoch exists.
    pub epoch: u64,
    pub path: PathBuf,
    pub rows: usize,
    pub bytes: u64,
    /// The file's copy on the object store (`s3://…`), once uploaded.
    pub url: Option<String>,
}

impl ArchivedFile {
    /// Whether this file holds the rows of `other` (a compacted file and one of the files
    /// it replaced): same partition, `other`'s rolls within this file's.
    pub fn covers(&self, other: &ArchivedFile) -> bool {
        self.path != other.path
            && self.covers_rolls(other.table, other.day, other.first_epoch, other.epoch)
    }

    /// Whether this file holds the rows of the rolls `first..=last` of a partition (a
    /// file's own rolls included).
    pub fn covers_rolls(&self, table: Table, day: i32, first: u64, last: u64) -> bool {
        self.table == table && self.day == day && self.first_epoch <= first && last <= self.epoch
    }
}

pub fn day_string(day: i32) -> String {
    DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|t| t.date_naive().format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("day{day}"))
}

/// A file's name: `part-<epoch>.parquet` for one roll's file,
/// `compacted-<first>-<last>.parquet` for a compacted one.
fn file_name(first_epoch: u64, epoch: u64) -> String {
    if first_epoch == epoch {
        format!("part-{epoch:010}.parquet")
    } else {
        format!("compacted-{first_epoch:010}-{epoch:010}.parquet")
    }
}

/// The epochs a file name stands for (see [`file_name`]).
fn parse_file_name(name: &str) -> Option<(u64, u64)> {
    if let Some(epoch) = name.strip_prefix("part-") {
        let epoch = epoch.strip_suffix(".parquet")?.parse().ok()?;
        return Some((epoch, epoch));
    }
    let (first, last) = name
        .strip_prefix("compacted-")?
        .strip_suffix(".parquet")?
        .split_once('-')?;
    let (first, last) = (first.parse().ok()?, last.parse().ok()?);
    (first < last).then_some((first, last))
}

/// Whether a name is one the archive writes (a file, or its temporary name).
fn is_archive_name(name: &str) -> bool {
    name.starts_with("part-") || name.starts_with("compacted-")
}

pub fn file_path(archive_dir: &Path, table: Table, day: i32, epoch: u64) -> PathBuf {
    archive_dir.join(relative_key(table, day, epoch, epoch))
}

/// A file's key below the archive root: `<table>/date=YYYY-MM-DD/<file name>`.
pub fn relative_key(table: Table, day: i32, first_epoch: u64, epoch: u64) -> String {
    format!(
        "{}/date={}/{}",
        table.name(),
        day_string(day),
        file_name(first_epoch, epoch)
    )
}

/// The partition and epochs of a key below the archive root (see [`relative_key`]).
pub fn parse_relative_key(key: &str) -> Option<(Table, i32, u64, u64)> {
    let mut parts = key.split('/');
    let name = parts.next()?;
    let table = Table::ALL.into_iter().find(|t| t.name() == name)?;
    let day = parse_day(parts.next()?.strip_prefix("date=")?)?;
    let (first, last) = parse_file_name(parts.next()?)?;
    parts.next().is_none().then_some((table, day, first, last))
}

fn sync_dir(dir: &Path) -> Result<(), IngestError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| IngestError::io(dir, e))
}

/// Row group and data page sizes of archive files (rows).
const ROW_GROUP_ROWS: usize = 128 * 1024;
const PAGE_ROWS: usize = 20 * 1024;

/// A row's event time: the first non-null of the table's [`day_columns`].
fn event_time(table: Table, batch: &RecordBatch) -> Result<ArrayRef, ArrowError> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| ArrowError::SchemaError(format!("{}: no column {name}", table.name())))
    };
    let names = day_columns(table);
    let mut key = column(names[names.len() - 1])?;
    for name in names[..names.len() - 1].iter().rev() {
        let c = column(name)?;
        key = zip(&is_not_null(&c)?, &c, &key)?;
    }
    Ok(key)
}

/// The rows of `batches` as one batch sorted by event time (ties keep their order), so
/// that row groups and pages cover narrow, mostly disjoint time ranges. The copy is of
/// one roll's rows of one (table, day): bounded by `storage.roll_max_bytes`.
fn sort_by_event_time(table: Table, batches: &[RecordBatch]) -> Result<RecordBatch, ArrowError> {
    let batch = concat_batches(&table.schema(), batches)?;
    let rows = u32::try_from(batch.num_rows())
        .map_err(|_| ArrowError::ComputeError("more than 2^32 rows in one roll".into()))?;
    let key = event_time(table, &batch)?;
    let arrival: ArrayRef = std::sync::Arc::new(UInt32Array::from_iter_values(0..rows));
    let indices = lexsort_to_indices(
        &[
            SortColumn {
                values: key,
                options: None,
            },
            SortColumn {
                values: arrival,
                options: None,
            },
        ],
        None,
    )?;
    take_record_batch(&batch, &indices)
}

/// Whether every row's event time falls on `day` (what pruning by `date=` relies on).
fn all_on_day(table: Table, batch: &RecordBatch, day: i32) -> bool {
    let Ok(key) = event_time(table, batch) else {
        return false;
    };
    let Some(key) = key
        .as_any()
        .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
    else {
        return false;
    };
    key.iter()
        .all(|t| t.is_some_and(|t| t.div_euclid(86_400_000_000) == i64::from(day)))
}

/// Writes `batches` (one roll's rows of a partition) as one Parquet file, atomically
/// (temporary name, fsync, rename), its rows sorted by event time.
pub fn write_file(
    archive_dir: &Path,
    table: Table,
    day: i32,
    epoch: u64,
    batches: &[RecordBatch],
) -> Result<ArchivedFile, IngestError> {
    write_partition_file(archive_dir, table, day, (epoch, epoch), batches)
}

/// Writes the rows of the rolls `first..=last` of a partition as one compacted file,
/// the same way as [`write_file`]. `batches` must hold every row of every file of the
/// partition in that range, in epoch order (ties in event time keep that order).
pub fn write_compacted(
    archive_dir: &Path,
    table: Table,
    day: i32,
    (first, last): (u64, u64),
    batches: &[RecordBatch],
) -> Result<ArchivedFile, IngestError> {
    assert!(first < last, "a compacted file covers at least two rolls");
    write_partition_file(archive_dir, table, day, (first, last), batches)
}

fn write_partition_file(
    archive_dir: &Path,
    table: Table,
    day: i32,
    (first_epoch, epoch): (u64, u64),
    batches: &[RecordBatch],
) -> Result<ArchivedFile, IngestError> {
    let path = archive_dir.join(relative_key(table, day, first_epoch, epoch));
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
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let parquet_err = |source| IngestError::Parquet {
        path: tmp.clone(),
        source,
    };
    let sorted = sort_by_event_time(table, batches)
        .map_err(|e| parquet_err(parquet::errors::ParquetError::from(e)))?;
    debug_assert!(
        all_on_day(table, &sorted, day),
        "{} rows outside their partition {}",
        table.name(),
        day_string(day)
    );
    let rows = sorted.num_rows();
    let mut writer =
        ArrowWriter::try_new(file, table.schema(), Some(props)).map_err(parquet_err)?;
    writer.write(&sorted).map_err(parquet_err)?;
    drop(sorted);
    let file = writer.into_inner().map_err(parquet_err)?;
    file.sync_all().map_err(|e| IngestError::io(&tmp, e))?;
    let bytes = file.metadata().map_err(|e| IngestError::io(&tmp, e))?.len();
    drop(file);
    fs::rename(&tmp, &path).map_err(|e| IngestError::io(&path, e))?;
    sync_dir(dir)?;
    Ok(ArchivedFile {
        table,
        day,
        first_epoch,
        epoch,
        path,
        rows,
        bytes,
        url: None,
    })
}

/// Lists the committed files (epoch ≤ `committed_epoch`) and deletes everything else:
/// temporary files, files of epochs whose checkpoint was never written, and files a
/// compacted file holds the rows of (a compaction that stopped before retiring them).
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
            let mut kept = Vec::new();
            for entry in fs::read_dir(&partition).map_err(|e| IngestError::io(&partition, e))? {
                let path = entry.map_err(|e| IngestError::io(&partition, e))?.path();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                match parse_file_name(&name) {
                    Some((first_epoch, epoch)) if epoch <= committed_epoch => {
                        let bytes = fs::metadata(&path)
                            .map_err(|e| IngestError::io(&path, e))?
                            .len();
                        kept.push(ArchivedFile {
                            table,
                            day,
                            first_epoch,
                            epoch,
                            path,
                            rows: 0,
                            bytes,
                            url: None,
                        });
                    }
                    _ if is_archive_name(&name) => {
                        tracing::info!(file = %path.display(), committed_epoch, "removing archive file of an uncommitted roll; its rows will be replayed");
                        fs::remove_file(&path).map_err(|e| IngestError::io(&path, e))?;
                    }
                    _ => {}
                }
            }
            let (covered, kept): (Vec<_>, Vec<_>) = kept
                .iter()
                .cloned()
                .partition(|f| kept.iter().any(|c| c.covers(f)));
            for f in covered {
                tracing::info!(file = %f.path.display(), "removing archive file a compacted file holds the rows of");
                fs::remove_file(&f.path).map_err(|e| IngestError::io(&f.path, e))?;
            }
            files.extend(kept);
        }
    }
    files.sort_by_key(|f| (f.table, f.day, f.epoch));
    Ok(files)
}

/// Reads an archive file back, in the table's schema.
pub fn read_file(file: &ArchivedFile) -> Result<Vec<RecordBatch>, IngestError> {
    let parquet_err = |source| IngestError::Parquet {
        path: file.path.clone(),
        source,
    };
    let reader = File::open(&file.path).map_err(|e| IngestError::io(&file.path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(reader)
        .and_then(|b| b.with_batch_size(64 * 1024).build())
        .map_err(parquet_err)?;
    let schema = file.table.schema();
    reader
        .map(|batch| {
            let batch = batch.map_err(|e| parquet_err(e.into()))?;
            RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
                .map_err(|e| parquet_err(e.into()))
        })
        .collect()
}

/// `s3://bucket/prefix` (or `s3a://`) → (bucket, prefix without surrounding slashes).
/// Refuses anything that could carry a credential (user info, a query) or be ambiguous.
pub fn parse_archive_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("s3://")
        .or_else(|| url.strip_prefix("s3a://"))
        .ok_or("must be an s3:// URL (s3://bucket/prefix)")?;
    if rest.contains(['@', '?', '#', '\\']) || rest.chars().any(char::is_whitespace) {
        return Err(
            "must be s3://bucket/prefix, without credentials, query or spaces (the credentials \
             come from the AWS_* environment variables)"
                .into(),
        );
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !bucket_ok {
        return Err("the bucket must be 3-63 characters of a-z, 0-9, '-' and '.'".into());
    }
    let prefix = prefix.trim_matches('/');
    if prefix
        .split('/')
        .any(|s| (s.is_empty() && !prefix.is_empty()) || s == "." || s == "..")
    {
        return Err("the prefix must not have empty, '.' or '..' segments".into());
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// The archive's copy on an S3-compatible object store (`storage.archive_url`). Its
/// `Debug` shows the URL only: the store's configuration holds credentials.
#[derive(Clone)]
pub struct ArchiveStore {
    bucket: String,
    prefix: String,
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for ArchiveStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveStore")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

/// Why a copy to the object store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
}

impl ArchiveStore {
    /// The store of `storage.archive_url`, if set.
    pub fn from_config(storage: &crate::StorageConfig) -> Result<Option<Self>, IngestError> {
        storage.archive_url.as_deref().map(Self::new).transpose()
    }

    /// The store at `url` (`s3://bucket/prefix`). Endpoint, region and credentials come
    /// from the standard AWS environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_ALLOW_HTTP` for a plain-HTTP endpoint, …) or the instance's role. Nothing is
    /// contacted yet.
    pub fn new(url: &str) -> Result<Self, IngestError> {
        let (bucket, prefix) = parse_archive_url(url)
            .map_err(|e| IngestError::Config(format!("storage.archive_url: {e}")))?;
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .build()
            .map_err(|e| {
                IngestError::Config(format!(
                    "storage.archive_url: cannot configure the object store: {e}"
                ))
            })?;
        Ok(ArchiveStore {
            bucket,
            prefix,
            store: Arc::new(store),
        })
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The object key of a file: `prefix/<table>/date=…/part-….parquet`.
    pub fn key(&self, file: &ArchivedFile) -> String {
        let relative = relative_key(file.table, file.day, file.first_epoch, file.epoch);
        if self.prefix.is_empty() {
            relative
        } else {
            format!("{}/{relative}", self.prefix)
        }
    }

    /// The URL SQL reads a file's copy at.
    pub fn object_url(&self, file: &ArchivedFile) -> String {
        format!("s3://{}/{}", self.bucket, self.key(file))
    }

    /// Every object under the prefix: key → size.
    pub async fn list(&self) -> Result<HashMap<String, u64>, StoreError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let objects: Vec<_> = self.store.list(prefix.as_ref()).try_collect().await?;
        Ok(objects
            .into_iter()
            .map(|o| (o.location.to_string(), o.size))
            .collect())
    }

    /// Copies a committed file (one PUT: the object appears whole or not at all) and
    /// returns the copy's URL.
    pub async fn upload(&self, file: &ArchivedFile) -> Result<String, StoreError> {
        let bytes = tokio::fs::read(&file.path)
            .await
            .map_err(|source| StoreError::Read {
                path: file.path.clone(),
                source,
            })?;
        self.store
            .put(&ObjectPath::from(self.key(file)), PutPayload::from(bytes))
            .await?;
        Ok(self.object_url(file))
    }

    /// Deletes a file's copy (one a compaction replaced); an absent one is no error.
    pub async fn delete(&self, file: &ArchivedFile) -> Result<(), StoreError> {
        self.delete_key(&self.key(file)).await
    }

    /// Deletes the object at `key` (a key from [`ArchiveStore::list`]); absent: no error.
    pub async fn delete_key(&self, key: &str) -> Result<(), StoreError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The partition and epochs of an object key under the prefix, if it names an
    /// archive file.
    pub fn parse_key(&self, key: &str) -> Option<(Table, i32, u64, u64)> {
        let relative = if self.prefix.is_empty() {
            key
        } else {
            key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?
        };
        parse_relative_key(relative)
    }
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

    /// `table` rows with the given event-time columns, every other column filled in.
    fn rows(table: Table, times: &[(&str, Vec<Option<i64>>)]) -> RecordBatch {
        use arrow::array::{new_null_array, BooleanArray, Float64Array, Int32Array, Int64Array};
        use arrow::array::{StringArray, TimestampMicrosecondArray};
        use arrow::datatypes::DataType;
        let schema = table.schema();
        let n = times[0].1.len();
        let columns = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                if let Some((_, t)) = times.iter().find(|(name, _)| name == f.name()) {
                    return std::sync::Arc::new(
                        TimestampMicrosecondArray::from(t.clone()).with_timezone("UTC"),
                    );
                }
                if f.is_nullable() {
                    return new_null_array(f.data_type(), n);
                }
                match f.data_type() {
                    DataType::Utf8 => std::sync::Arc::new(StringArray::from_iter_values(
                        (0..n).map(|i| i.to_string()),
                    )),
                    DataType::Int32 => std::sync::Arc::new(Int32Array::from(vec![0; n])),
                    DataType::Int64 => {
                        std::sync::Arc::new(Int64Array::from_iter_values(0..n as i64))
                    }
                    DataType::Float64 => std::sync::Arc::new(Float64Array::from(vec![0.0; n])),
                    DataType::Boolean => std::sync::Arc::new(BooleanArray::from(vec![false; n])),
                    DataType::Timestamp(..) => std::sync::Arc::new(
                        TimestampMicrosecondArray::from(vec![0; n]).with_timezone("UTC"),
                    ),
                    other => panic!("no test data for {other}"),
                }
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn read_back(path: &Path) -> RecordBatch {
        let file = File::open(path).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        concat_batches(&batches[0].schema(), &batches).unwrap()
    }

    #[test]
    fn files_are_sorted_by_event_time() {
        let dir = tempfile::tempdir().unwrap();
        let day = 20_778;
        let at = |s: i64| Some(i64::from(day) * 86_400_000_000 + s * 1_000_000);
        // Export: inspected_at when present, else declared_at; in two batches.
        let a = rows(
            Table::ExportDeclarations,
            &[
                ("inspected_at", vec![None, at(50), None]),
                ("declared_at", vec![at(40), at(10), at(5)]),
            ],
        );
        let b = rows(
            Table::ExportDeclarations,
            &[
                ("inspected_at", vec![at(45), None]),
                ("declared_at", vec![at(1), at(40)]),
            ],
        );
        let f = write_file(dir.path(), Table::ExportDeclarations, day, 1, &[a, b]).unwrap();
        assert_eq!(f.rows, 5);
        let back = read_back(&f.path);
        let key = event_time(Table::ExportDeclarations, &back).unwrap();
        let key = key
            .as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
            .unwrap();
        let secs: Vec<i64> = key
            .iter()
            .map(|t| (t.unwrap() - at(0).unwrap()) / 1_000_000)
            .collect();
        assert_eq!(secs, [5, 40, 40, 45, 50]);
        // Ties keep their arrival order (the `offset` column numbers rows per batch).
        let offsets = back
            .column_by_name("offset")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .values()
            .to_vec();
        assert_eq!(offsets, [2, 0, 1, 0, 1]);
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

    #[test]
    fn file_names_round_trip() {
        for (first, last) in [(7, 7), (3, 9), (0, 1)] {
            let key = relative_key(Table::Alerts, 20_778, first, last);
            assert_eq!(
                parse_relative_key(&key),
                Some((Table::Alerts, 20_778, first, last)),
                "{key}"
            );
        }
        assert_eq!(
            relative_key(Table::Alerts, 20_778, 3, 9),
            "alerts/date=2026-11-21/compacted-0000000003-0000000009.parquet"
        );
        for bad in [
            "alerts/date=2026-11-21/compacted-0000000009-0000000003.parquet",
            "alerts/date=2026-11-21/compacted-0000000003.parquet",
            "alerts/date=2026-11-21/part-0000000003.parquet.tmp",
            "nope/date=2026-11-21/part-0000000003.parquet",
            "alerts/2026-11-21/part-0000000003.parquet",
        ] {
            assert_eq!(parse_relative_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn recover_deletes_what_a_compacted_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let day = 20_778;
        let batch = rows(
            Table::ExportDeclarations,
            &[("declared_at", vec![Some(i64::from(day) * 86_400_000_000)])],
        );
        let write = |epoch| {
            write_file(
                dir.path(),
                Table::ExportDeclarations,
                day,
                epoch,
                std::slice::from_ref(&batch),
            )
            .unwrap()
        };
        let (a, b, c, d) = (write(1), write(2), write(3), write(5));
        let mut all = read_file(&a).unwrap();
        all.extend(read_file(&b).unwrap());
        all.extend(read_file(&c).unwrap());
        let compacted =
            write_compacted(dir.path(), Table::ExportDeclarations, day, (1, 3), &all).unwrap();
        assert_eq!(compacted.rows, 3);
        assert!(compacted.covers(&b) && !compacted.covers(&d) && !b.covers(&compacted));
        // A newer compaction of the compacted file and `d` replaces both.
        let mut all = read_file(&compacted).unwrap();
        all.extend(read_file(&d).unwrap());
        let newer =
            write_compacted(dir.path(), Table::ExportDeclarations, day, (1, 5), &all).unwrap();
        // Epoch 6 was written but never checkpointed, nor was the compaction up to 6.
        let e = write(6);
        let uncommitted =
            write_compacted(dir.path(), Table::ExportDeclarations, day, (5, 6), &all).unwrap();

        let files = recover(dir.path(), 5).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths, std::slice::from_ref(&newer.path));
        assert_eq!((files[0].first_epoch, files[0].epoch), (1, 5));
        for gone in [&a, &b, &c, &d, &compacted, &e, &uncommitted] {
            assert!(!gone.path.exists(), "{} was left", gone.path.display());
        }
        let back: usize = read_file(&files[0])
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(back, 4);
    }
}
