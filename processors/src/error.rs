use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProcessorError {
    #[error("the {stage} snapshot in the checkpoint is unreadable ({source}); delete the checkpoint directory to rebuild state from the topics")]
    Snapshot {
        stage: &'static str,
        source: postcard::Error,
    },
    #[error("registering metric {name} failed: {source}")]
    Metric {
        name: &'static str,
        source: prometheus::Error,
    },
    /// A rule or evaluation setting that cannot work; `key` is the config path.
    #[error("{key}: {message}")]
    Config { key: String, message: String },
    #[error("evaluating {key} over a {table} batch failed: {message}")]
    Evaluate {
        key: String,
        table: &'static str,
        message: String,
    },
    #[error("{missing} alert transitions were not in the delivery outbox after 30 s; the checkpoint waits for them (is the data directory's disk full or the delivery task stuck?)")]
    Handoff { missing: u64 },
    #[error("alert delivery has stopped (see the error before this one); stopping the pipeline so that no checkpoint passes alerts that were not queued for delivery")]
    DeliveryStopped,
    #[error("building the {table} rows failed: {source}")]
    Arrow {
        table: &'static str,
        source: arrow::error::ArrowError,
    },
}

impl ProcessorError {
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        ProcessorError::Config {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl From<ProcessorError> for hub_model::ModelError {
    fn from(e: ProcessorError) -> Self {
        hub_model::ModelError::State(e.to_string())
    }
}
