//! The one error type of the simulator. Each message says what to fix.

use rdkafka::error::KafkaError;
use thiserror::Error;

/// What can stop the simulator. Invalid *messages* are not errors: the `bad` scenario
/// produces them on purpose.
#[derive(Debug, Error)]
pub enum SimError {
    /// A setting is out of range (rate, population size, interval…).
    #[error("invalid simulator configuration: {0}")]
    InvalidConfig(String),

    /// A scenario name that is not one of the three.
    #[error("unknown scenario `{0}`: expected steady, incidents or bad")]
    UnknownScenario(String),

    /// librdkafka refused the client configuration.
    #[error(
        "could not create the Kafka producer: {source}; check the broker list and the extra \
         client properties given to the simulator"
    )]
    Producer {
        #[source]
        source: KafkaError,
    },

    /// No broker answered a metadata request in time.
    #[error(
        "no Kafka broker answered at `{brokers}` within {timeout_secs} s ({source}); check the \
         address (kafka.brokers / --brokers), that the broker is running, and that this host \
         can reach it"
    )]
    BrokerUnreachable {
        brokers: String,
        timeout_secs: u64,
        #[source]
        source: KafkaError,
    },

    /// A background task of the producer panicked or was cancelled by the runtime.
    #[error("a background task of the simulator failed: {0}")]
    Task(String),
}
