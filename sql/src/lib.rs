//! SQL over the hub's tables: one DataFusion catalog over live rows and the Parquet
//! archive, read-only, with a time and a memory limit per query, executed on its own
//! thread pool so a heavy query cannot starve ingest.

pub mod archive_store;
pub mod bounded_functions;
pub mod catalog;
pub mod config;
pub mod engine;
pub mod error;
pub mod fronted_function;
pub mod guard;
pub mod information_schema;
pub mod latest_table;
pub mod metrics;
pub mod pg;
pub mod pg_catalog;
pub mod pruning;
pub mod table;
pub mod utc_date_trunc;

pub use catalog::Catalog;
pub use config::SqlConfig;
pub use engine::{Described, QueryResult, SqlEngine};
pub use error::SqlError;
