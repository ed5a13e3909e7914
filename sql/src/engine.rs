//! Runs analyst queries: guard, plan, execute on the SQL thread pool within the time,
//! memory and row limits.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::dataframe::DataFrame;
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

/// A planned, not executed, query: what the PostgreSQL extended protocol's Describe
/// reports.
#[derive(Debug, Clone)]
pub struct Described {
    /// The type of `$1`, `$2` …; `None` where the query does not fix it.
    pub params: Vec<Option<DataType>>,
    pub schema: SchemaRef,
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
        let niceness = config.thread_niceness;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .thread_name("hub-sql")
            .on_thread_start(move || lower_priority(niceness))
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
        let result = self.execute(sql, None).await;
        self.observe(started, &result);
        result
    }

    /// Runs one read-only query with `$1`, `$2` … bound to `params` (the PostgreSQL
    /// extended protocol's prepared statements).
    pub async fn query_with_params(
        &self,
        sql: &str,
        params: ParamValues,
    ) -> Result<QueryResult, SqlError> {
        let started = Instant::now();
        let result = self.execute(sql, Some(params)).await;
        self.observe(started, &result);
        result
    }

    /// Plans a read-only query without running it: its parameters' types (in `$n`
    /// order; `None` where the plan does not fix one) and its result columns.
    pub async fn describe(&self, sql: &str) -> Result<Described, SqlError> {
        let limit = self.config.query_memory_limit;
        self.on_pool(sql, move |df| async move {
            let types = df
                .logical_plan()
                .get_parameter_types()
                .map_err(|e| SqlError::from_datafusion(e, limit))?;
            let mut numbered: Vec<(usize, Option<DataType>)> = types
                .into_iter()
                .map(|(name, ty)| {
                    let n = name
                        .strip_prefix('$')
                        .and_then(|n| n.parse::<usize>().ok())
                        .ok_or_else(|| {
                            SqlError::Invalid(format!(
                                "parameter {name} is not positional: use $1, $2, …"
                            ))
                        })?;
                    Ok((n, ty))
                })
                .collect::<Result<_, SqlError>>()?;
            numbered.sort_by_key(|(n, _)| *n);
            // `$3` alone still means three parameters.
            let count = numbered.last().map_or(0, |(n, _)| *n);
            let mut params = vec![None; count];
            for (n, ty) in numbered {
                if n == 0 {
                    return Err(SqlError::Invalid("parameters are numbered from $1".into()));
                }
                params[n - 1] = ty;
            }
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            Ok(Described { params, schema })
        })
        .await
    }

    fn observe<T>(&self, started: Instant, result: &Result<T, SqlError>) {
        self.metrics
            .duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .queries
            .with_label_values(&[outcome(result)])
            .inc();
        if let Err(e) = result {
            tracing::info!(error = %e, "SQL query failed");
        }
    }

    async fn execute(
        &self,
        sql: &str,
        params: Option<ParamValues>,
    ) -> Result<QueryResult, SqlError> {
        let limit = self.config.query_memory_limit;
        let max_rows = self.config.max_result_rows;
        self.on_pool(sql, move |df| async move {
            let df = match params {
                Some(p) => df
                    .with_param_values(p)
                    .map_err(|e| SqlError::from_datafusion(e, limit))?,
                None => df,
            };
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
        })
        .await
    }

    /// Checks that `sql` is one read-only query, waits (within the time limit) for a
    /// query slot, plans it in a fresh session on the SQL thread pool and hands the
    /// plan to `work`, all within the time limit.
    async fn on_pool<T, F, Fut>(&self, sql: &str, work: F) -> Result<T, SqlError>
    where
        T: Send + 'static,
        F: FnOnce(DataFrame) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, SqlError>> + Send + 'static,
    {
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
        let runtime = self
            .runtime
            .as_ref()
            .expect("the SQL runtime lives until drop");
        let task = runtime.spawn(async move {
            let planned = async {
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
                work(df).await
            };
            match tokio::time::timeout(timeout, planned).await {
                Ok(r) => r,
                Err(_) => Err(SqlError::Timeout(timeout)),
            }
        });
        task.await
            .map_err(|e| SqlError::Execution(format!("the query task failed: {e}")))?
    }
}

/// Gives the calling thread the scheduling niceness `niceness` (Linux: per thread).
fn lower_priority(niceness: i32) {
    #[cfg(target_os = "linux")]
    if niceness > 0 {
        // SAFETY: gettid has no preconditions; setpriority on our own thread id only
        // changes this thread's niceness.
        let rc = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, niceness)
        };
        if rc != 0 {
            tracing::warn!(
                niceness,
                error = %std::io::Error::last_os_error(),
                "could not lower the SQL threads' priority (sql.thread_niceness)"
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
}

impl Drop for SqlEngine {
    fn drop(&mut self) {
        // A runtime cannot be dropped (blocking) inside another runtime; let it go.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
