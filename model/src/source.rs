//! What the SQL layer reads: for each table, the committed archive files plus the rows
//! accepted since the last roll, taken together in one consistent snapshot.

use std::path::PathBuf;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::schema::Table;

/// One consistent view of a table: every row is in exactly one of `files` or `batches`.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    pub schema: SchemaRef,
    pub files: Vec<PathBuf>,
    pub batches: Vec<RecordBatch>,
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
