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
}

impl From<ProcessorError> for hub_model::ModelError {
    fn from(e: ProcessorError) -> Self {
        hub_model::ModelError::State(e.to_string())
    }
}
