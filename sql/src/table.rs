//! A table provider over one [`TableSnapshot`]: the committed Parquet files and the
//! live batches, scanned as one union. The snapshot is taken once per query, so a roll
//! happening meanwhile cannot show a row twice or lose one.
//!
//! A query reads only the files it can need: the pushed-down filters give the range of
//! days allowed on the table's day column ([`crate::pruning`]), and files of other
//! `date=` partitions are left out of the scan. Within the files read, Parquet row-group
//! and page statistics (tight, since the archive sorts each file by event time) skip
//! the rest.
//!
//! Files may be local or on an object store (`s3://…`, see [`crate::archive_store`]);
//! each store's files are scanned by one listing table.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::ExecutionPlan;
use hub_model::source::{FileLocation, TableSnapshot};

use crate::archive_store;
use crate::pruning::{day_range, DayRange};

#[derive(Debug)]
pub struct SnapshotTable {
    schema: SchemaRef,
    /// The column whose UTC date is each file's partition, and its type.
    day_column: Option<(&'static str, DataType)>,
    /// Each committed file and its day (`None`: unknown, always read).
    files: Vec<(ListingTableUrl, Option<i32>)>,
    live: Arc<MemTable>,
}

impl SnapshotTable {
    pub fn try_new(snapshot: TableSnapshot) -> Result<Self> {
        let schema = with_string_views(&snapshot.schema);
        let day_column = snapshot.day_column.and_then(|name| {
            let field = schema.field_with_name(name).ok()?;
            Some((name, field.data_type().clone()))
        });
        // Relative data directories (the default `./data`) resolve against the working
        // directory, read once rather than per file.
        let mut cwd = None;
        let files = snapshot
            .files
            .iter()
            .map(|f| {
                let url = match &f.location {
                    FileLocation::Local(p) => local_file_url(p, &mut cwd)?,
                    FileLocation::Url(u) => ListingTableUrl::parse(u)?,
                };
                Ok((url, f.day))
            })
            .collect::<Result<Vec<_>>>()?;
        let live = snapshot
            .batches
            .iter()
            .map(|b| as_schema(b, &schema))
            .collect::<Result<Vec<_>>>()?;
        let live = Arc::new(MemTable::try_new(schema.clone(), vec![live])?);
        Ok(SnapshotTable {
            schema,
            day_column,
            files,
            live,
        })
    }

    /// The days `filters` allow (every day when the table has no day column).
    pub fn days(&self, filters: &[Expr]) -> DayRange {
        match &self.day_column {
            Some((name, data_type)) => day_range(filters, name, data_type),
            None => DayRange::ALL,
        }
    }

    /// A listing table over `urls` (all on one object store), Parquet statistics and page
    /// index pruning on.
    fn listing(&self, state: &dyn Session, urls: Vec<ListingTableUrl>) -> Result<ListingTable> {
        let mut parquet = state.table_options().parquet.clone();
        parquet.global.pruning = true;
        parquet.global.enable_page_index = true;
        // Row-level filter pushdown (late materialisation) stays off, as in DataFusion's
        // default: on the analyst queries it cost 15–30 % (BENCHMARKS.md (g)); the
        // statistics and page index above skip what the filters exclude anyway.
        parquet.global.pushdown_filters = false;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default().with_options(parquet)))
            .with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(self.schema.clone());
        // Statistics (footers read while planning) cached across queries: see
        // `Catalog`'s shared caches.
        Ok(ListingTable::try_new(config)?
            .with_cache(state.runtime_env().cache_manager.get_file_statistic_cache()))
    }
}

/// The table's schema as SQL sees it: text columns as `Utf8View`, DataFusion's native
/// string type. The Parquet reader then decodes text into views of its pages instead of
/// copying every value into a new buffer, and the string kernels work on the views:
/// 25–30 % faster on the kiosk analyst queries (BENCHMARKS.md (g)). Clients see no
/// difference (PostgreSQL `text`, JSON strings, Arrow `Utf8View` in IPC).
pub fn with_string_views(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View)),
            _ => f.clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// A live batch in the SQL schema (text to views: no string is copied).
fn as_schema(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// The URL of a committed archive file, built without touching the file system
/// (`ListingTableUrl::parse` stats each path to tell files from directories: two
/// system calls per file per query, 4 ms per query over 850 files).
fn local_file_url(
    path: &std::path::Path,
    cwd: &mut Option<std::path::PathBuf>,
) -> Result<ListingTableUrl> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        if cwd.is_none() {
            *cwd = Some(std::env::current_dir()?);
        }
        cwd.as_ref().expect("set above").join(path)
    };
    let url = url::Url::from_file_path(&absolute).map_err(|()| {
        DataFusionError::Execution(format!(
            "archive path {} cannot be a file URL",
            absolute.display()
        ))
    })?;
    ListingTableUrl::try_new(url, None)
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Files and row groups are pruned with the filters; the union re-applies them.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let days = self.days(filters);
        // One listing table per object store (a listing table reads from one).
        let mut stores: BTreeMap<String, Vec<ListingTableUrl>> = BTreeMap::new();
        for (url, day) in &self.files {
            if day.is_none_or(|d| days.contains(d)) {
                stores
                    .entry(url.object_store().as_str().to_string())
                    .or_default()
                    .push(url.clone());
            }
        }
        let read: usize = stores.values().map(Vec::len).sum();
        tracing::debug!(
            files = self.files.len(),
            read,
            first_day = days.first,
            last_day = days.last,
            "archive files selected by day"
        );
        let mut inputs = vec![self.live.scan(state, projection, filters, limit).await?];
        for urls in stores.into_values() {
            archive_store::register(state.runtime_env(), &urls[0].object_store())?;
            let archive = self.listing(state, urls)?;
            inputs.push(archive.scan(state, projection, filters, limit).await?);
        }
        UnionExec::try_new(inputs)
    }
}
