//! A table provider over one [`TableSnapshot`]: the committed Parquet files and the
//! live batches, scanned as one union. The snapshot is taken once per query, so a roll
//! happening meanwhile cannot show a row twice or lose one.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
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
use hub_model::source::TableSnapshot;

#[derive(Debug)]
pub struct SnapshotTable {
    schema: SchemaRef,
    archive: Option<Arc<ListingTable>>,
    live: Arc<MemTable>,
}

impl SnapshotTable {
    pub fn try_new(snapshot: TableSnapshot) -> Result<Self> {
        let schema = snapshot.schema.clone();
        let archive = if snapshot.files.is_empty() {
            None
        } else {
            let urls = snapshot
                .files
                .iter()
                .map(|p| {
                    let s = p.to_str().ok_or_else(|| {
                        DataFusionError::Execution(format!(
                            "archive path {} is not UTF-8",
                            p.display()
                        ))
                    })?;
                    ListingTableUrl::parse(s)
                })
                .collect::<Result<Vec<_>>>()?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            let config = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options)
                .with_schema(schema.clone());
            Some(Arc::new(ListingTable::try_new(config)?))
        };
        let live = Arc::new(MemTable::try_new(schema.clone(), vec![snapshot.batches])?);
        Ok(SnapshotTable {
            schema,
            archive,
            live,
        })
    }
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
        // Parquet uses the filters to prune; the union re-applies them above.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut inputs = vec![self.live.scan(state, projection, filters, limit).await?];
        if let Some(archive) = &self.archive {
            inputs.push(archive.scan(state, projection, filters, limit).await?);
        }
        UnionExec::try_new(inputs)
    }
}
