use thiserror::Error;

#[derive(Debug, Error)]
pub enum DeliveryError {
    /// A subscription field that cannot work; `field` is its path (`channel.url`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The subscription store or the outbox in the data directory.
    #[error("delivery store: {0}")]
    Store(String),
    #[error("registering metric {0}")]
    Metric(String),
    /// No subscription or silence with this id.
    #[error("no {what} with id `{id}`")]
    NotFound { what: &'static str, id: String },
}

impl DeliveryError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DeliveryError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
