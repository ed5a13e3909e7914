use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::SqlError;

/// `[sql]`: the analyst SQL surface.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqlConfig {
    /// PostgreSQL wire protocol address.
    pub pg_listen: String,
    /// Wall-clock limit per query.
    #[serde(with = "humantime_serde")]
    pub query_timeout: Duration,
    /// Memory limit per query for DataFusion's operators (sorts, joins, aggregates).
    pub query_memory_limit: usize,
    /// Results larger than this are refused (add a LIMIT).
    pub max_result_rows: usize,
    /// Threads of the query pool, separate from ingest.
    pub threads: usize,
    /// Queries running at once; more wait (within their time limit) for a slot.
    pub max_concurrent_queries: usize,
    /// The scheduling niceness of the query threads (0–19, Linux): above 0, ingest's
    /// threads get the CPU first when both want it, so a heavy query slows down
    /// rather than ingest.
    pub thread_niceness: i32,
}

impl Default for SqlConfig {
    fn default() -> Self {
        SqlConfig {
            pg_listen: "127.0.0.1:5433".into(),
            query_timeout: Duration::from_secs(30),
            query_memory_limit: 512 << 20,
            max_result_rows: 100_000,
            threads: 2,
            max_concurrent_queries: 4,
            thread_niceness: 10,
        }
    }
}

impl SqlConfig {
    pub fn validate(&self) -> Result<(), SqlError> {
        let bad = |m: &str| Err(SqlError::Config(m.to_string()));
        if self.query_timeout.is_zero() {
            return bad("sql.query_timeout: must be above 0");
        }
        if self.query_memory_limit < 16 << 20 {
            return bad("sql.query_memory_limit: must be at least 16 MiB");
        }
        if self.max_result_rows == 0 {
            return bad("sql.max_result_rows: must be at least 1");
        }
        if self.max_concurrent_queries == 0 {
            return bad("sql.max_concurrent_queries: must be at least 1");
        }
        if !(0..=19).contains(&self.thread_niceness) {
            return bad("sql.thread_niceness: must be between 0 and 19");
        }
        if self.threads == 0 {
            return bad("sql.threads: must be at least 1");
        }
        Ok(())
    }
}
