use thiserror::Error;

/// Errors of the model crate. Invalid *input* is not an error here: it is a
/// [`crate::Rejection`] and goes to the dead-letter topic.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("building an Arrow batch failed: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("stage state could not be restored: {0}")]
    State(String),
}
