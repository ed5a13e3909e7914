use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum IngestError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("Kafka client error: {0} (check kafka.brokers and that the broker is reachable)")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing Parquet file {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error(
        "checkpoint {path} is unreadable: {reason}; move it away to rebuild state from the topics"
    )]
    CorruptCheckpoint { path: PathBuf, reason: String },
    #[error("stage state: {0}")]
    Stage(#[from] hub_model::ModelError),
    #[error("registering metric {name}: {source}")]
    Metric {
        name: &'static str,
        source: prometheus::Error,
    },
    #[error("the dead-letter topic did not confirm delivery: {0}")]
    DeadLetterDelivery(String),
    #[error("the ingest pipeline stopped: {0}")]
    Stopped(String),
}

impl IngestError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IngestError::Io {
            path: path.into(),
            source,
        }
    }
}
