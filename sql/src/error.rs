use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SqlError {
    /// Not a single read-only query.
    #[error("{0}")]
    Refused(String),
    /// The query does not parse or plan (unknown table, column, function …).
    #[error("{0}")]
    Invalid(String),
    #[error("the query ran longer than the {0:?} limit (sql.query_timeout); narrow it with WHERE or LIMIT")]
    Timeout(Duration),
    #[error("the query needs more memory than the {limit} bytes allowed (sql.query_memory_limit): {detail}")]
    MemoryLimit { limit: usize, detail: String },
    #[error("the result has more than {0} rows (sql.max_result_rows); add a LIMIT or aggregate")]
    TooManyRows(usize),
    #[error("query execution failed: {0}")]
    Execution(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("registering metric {name}: {source}")]
    Metric {
        name: &'static str,
        source: prometheus::Error,
    },
}

impl SqlError {
    /// True when the caller's query is at fault (a 4xx), false for the hub's own faults.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            SqlError::Execution(_) | SqlError::Config(_) | SqlError::Metric { .. }
        )
    }

    pub(crate) fn from_datafusion(
        e: datafusion::error::DataFusionError,
        memory_limit: usize,
    ) -> Self {
        use datafusion::error::DataFusionError as D;
        match e.find_root() {
            D::ResourcesExhausted(detail) => SqlError::MemoryLimit {
                limit: memory_limit,
                detail: detail.clone(),
            },
            D::SQL(..) | D::NotImplemented(_) | D::Plan(_) | D::SchemaError(..) => {
                SqlError::Invalid(e.strip_backtrace())
            }
            _ => SqlError::Execution(e.strip_backtrace()),
        }
    }
}
