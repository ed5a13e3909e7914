//! Runs analyst queries: guard, plan, execute on the SQL thread pool within the time,
//! memory and row limits.

use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::execution::context::SQLOptions;
use futures::StreamExt;
use prometheus::Registry;

use crate::catalog::Catalog;
use crate::config::SqlConfig;
use crate::guard::check_read_only;
use crate::metrics::{outcome, SqlMetrics};
use crate::SqlError;

#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// The SQL engine: owns its own runtime so queries never run on ingest's threads.
pub struct SqlEngine {
    catalog: Catalog,
    config: SqlConfig,
    /// Always `Some` until drop.
    runtime: Option<tokio::runtime::Runtime>,
    metrics: SqlMetrics,
    slots: Arc<tokio::sync::Semaphore>,
}

impl SqlEngine {
    pub fn new(catalog: Catalog, config: SqlConfig, registry: &Registry) -> Result<Self, SqlError> {
        config.validate()?;
        let slots = config.max_concurrent_queries;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .thread_name("hub-sql")
            .enable_all()
            .build()
            .map_err(|e| SqlError::Config(format!("cannot start the SQL thread pool: {e}")))?;
        Ok(SqlEngine {
            catalog,
            config,
            runtime: Some(runtime),
            metrics: SqlMetrics::new(registry)?,
            slots: Arc::new(tokio::sync::Semaphore::new(slots)),
        })
    }

    /// Runs one read-only query.
    pub async fn query(&self, sql: &str) -> Result<QueryResult, SqlError> {
        let started = Instant::now();
        let result = self.run(sql).await;
        self.metrics
            .duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .queries
            .with_label_values(&[outcome(&result)])
            .inc();
        if let Err(e) = &result {
            tracing::info!(error = %e, "SQL query failed");
        }
        result
    }

    async fn run(&self, sql: &str) -> Result<QueryResult, SqlError> {
        check_read_only(sql)?;
        let started = Instant::now();
        let _slot = tokio::time::timeout(
            self.config.query_timeout,
            self.slots.clone().acquire_owned(),
        )
        .await
        .map_err(|_| SqlError::Timeout(self.config.query_timeout))?
        .map_err(|_| SqlError::Execution("the SQL engine is shutting down".into()))?;
        let timeout = self.config.query_timeout.saturating_sub(started.elapsed());
        let catalog = self.catalog.clone();
        let sql = sql.to_string();
        let limit = self.config.query_memory_limit;
        let max_rows = self.config.max_result_rows;
        let runtime = self
            .runtime
            .as_ref()
            .expect("the SQL runtime lives until drop");
        let task = runtime.spawn(async move {
            let work = async {
                let ctx = catalog
                    .session(limit)
                    .await
                    .map_err(|e| SqlError::from_datafusion(e, limit))?;
                let options = SQLOptions::new()
                    .with_allow_ddl(false)
                    .with_allow_dml(false)
                    .with_allow_statements(false);
                let df = ctx
                    .sql_with_options(&sql, options)
                    .await
                    .map_err(|e| SqlError::from_datafusion(e, limit))?;
                let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                let mut stream = df
                    .execute_stream()
                    .await
                    .map_err(|e| SqlError::from_datafusion(e, limit))?;
                let mut batches = Vec::new();
                let mut rows = 0;
                let mut bytes = 0;
                while let Some(b) = stream.next().await {
                    let b = b.map_err(|e| SqlError::from_datafusion(e, limit))?;
                    rows += b.num_rows();
                    if rows > max_rows {
                        return Err(SqlError::TooManyRows(max_rows));
                    }
                    // The result itself counts against the memory limit.
                    bytes += b.get_array_memory_size();
                    if bytes > limit {
                        return Err(SqlError::MemoryLimit {
                            limit,
                            detail: format!("the result holds more than {limit} bytes"),
                        });
                    }
                    batches.push(b);
                }
                Ok(QueryResult { schema, batches })
            };
            match tokio::time::timeout(timeout, work).await {
                Ok(r) => r,
                Err(_) => Err(SqlError::Timeout(timeout)),
            }
        });
        task.await
            .map_err(|e| SqlError::Execution(format!("the query task failed: {e}")))?
    }
}

impl Drop for SqlEngine {
    fn drop(&mut self) {
        // A runtime cannot be dropped (blocking) inside another runtime; let it go.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
