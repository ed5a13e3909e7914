//! Metric names of the SQL layer.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry};

use crate::SqlError;

pub const QUERIES: &str = "hub_sql_queries_total";
pub const QUERY_DURATION: &str = "hub_sql_query_duration_seconds";

#[derive(Clone)]
pub struct SqlMetrics {
    /// By `outcome`: ok, refused, invalid, timeout, memory, too_many_rows, error.
    pub queries: IntCounterVec,
    pub duration: Histogram,
}

impl SqlMetrics {
    pub fn new(r: &Registry) -> Result<Self, SqlError> {
        let queries =
            IntCounterVec::new(Opts::new(QUERIES, "SQL queries by outcome."), &["outcome"])
                .map_err(|source| SqlError::Metric {
                    name: QUERIES,
                    source,
                })?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(QUERY_DURATION, "SQL query wall-clock time.")
                .buckets(vec![0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0]),
        )
        .map_err(|source| SqlError::Metric {
            name: QUERY_DURATION,
            source,
        })?;
        r.register(Box::new(queries.clone()))
            .map_err(|source| SqlError::Metric {
                name: QUERIES,
                source,
            })?;
        r.register(Box::new(duration.clone()))
            .map_err(|source| SqlError::Metric {
                name: QUERY_DURATION,
                source,
            })?;
        Ok(SqlMetrics { queries, duration })
    }
}

pub(crate) fn outcome(r: &Result<impl Sized, SqlError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(SqlError::Refused(_)) => "refused",
        Err(SqlError::Invalid(_)) => "invalid",
        Err(SqlError::Timeout(_)) => "timeout",
        Err(SqlError::MemoryLimit { .. }) => "memory",
        Err(SqlError::TooManyRows(_)) => "too_many_rows",
        Err(_) => "error",
    }
}
