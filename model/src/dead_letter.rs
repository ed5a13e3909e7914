use crate::feed::Feed;
use crate::rejection::Rejection;
use crate::time::Timestamp;

/// A refused message with everything needed to find and replay it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub feed: Feed,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// The Kafka message timestamp, when the broker gave one.
    pub kafka_timestamp: Option<Timestamp>,
    pub rejection: Rejection,
    /// The raw bytes as received.
    pub payload: Vec<u8>,
    /// When the hub refused it.
    pub received_at: Timestamp,
}
