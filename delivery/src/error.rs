use thiserror::Error;

#[derive(Debug, Error)]
pub enum DeliveryError {
    /// A subscription field that cannot work; `field` is its path (`channel.url`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The subscription store in the data directory.
    #[error("subscription store: {0}")]
    Store(String),
}

impl DeliveryError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DeliveryError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
