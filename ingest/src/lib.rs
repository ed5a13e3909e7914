//! Kafka → validated, deduplicated, archived, queryable records, exactly once.
//!
//! The consumer task reads the three feed topics into bounded micro-batches; the
//! pipeline thread decodes, validates, deduplicates, builds Arrow batches, feeds the
//! stateful stages, sends dead letters, and at each roll writes the Parquet archive and
//! the checkpoint that ties offsets to the state they produced.

pub mod archive;
pub mod checkpoint;
pub mod compaction;
pub mod config;
pub mod consumer;
pub mod dead_letters;
pub mod dedup;
pub mod error;
pub mod metrics;
pub mod pipeline;
pub mod progress;
pub mod tables;
pub mod topics;

pub use compaction::CompactionConfig;
pub use config::{IngestConfig, KafkaConfig, StorageConfig, TopicsConfig};
pub use error::IngestError;
pub use pipeline::{Ingest, IngestHandle};
pub use progress::Progress;
pub use tables::LiveTables;
