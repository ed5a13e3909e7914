//! Creating the topics the hub owns (`hub.dlq`, `hub.alerts`) when they are missing.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use tokio_util::sync::CancellationToken;

use crate::config::KafkaConfig;
use crate::consumer::client_config;
use crate::IngestError;

/// Creates `names` if they do not exist, retrying while the broker is unreachable.
/// Returns early (Ok) on cancellation.
pub async fn ensure_topics(
    kafka: &KafkaConfig,
    names: &[&str],
    cancel: &CancellationToken,
) -> Result<(), IngestError> {
    let admin: AdminClient<DefaultClientContext> = client_config(kafka).create()?;
    let mut backoff = Duration::from_millis(500);
    // Only create what is missing: a cluster may refuse CreateTopics to the hub's user.
    let missing: Vec<&str> = loop {
        match admin.inner().fetch_metadata(None, Duration::from_secs(10)) {
            Ok(md) => {
                break names
                    .iter()
                    .copied()
                    .filter(|n| {
                        !md.topics()
                            .iter()
                            .any(|t| t.name() == *n && t.error().is_none())
                    })
                    .collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, brokers = %kafka.brokers, retry_in = ?backoff, "Kafka broker unreachable; retrying");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    };
    if missing.is_empty() {
        return Ok(());
    }
    let topics: Vec<NewTopic> = missing
        .iter()
        .map(|n| {
            NewTopic::new(
                n,
                kafka.created_topic_partitions,
                TopicReplication::Fixed(kafka.created_topic_replication),
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    loop {
        match admin.create_topics(&topics, &opts).await {
            Ok(results) => {
                let mut retry = false;
                for r in results {
                    match r {
                        Ok(name) => tracing::info!(topic = %name, "created topic"),
                        Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((name, code)) if is_transient(code) => {
                            tracing::warn!(topic = %name, error = %code, brokers = %kafka.brokers, "cannot create topic yet; retrying");
                            retry = true;
                        }
                        Err((name, code)) => {
                            return Err(IngestError::Config(format!(
                                "creating topic {name} failed: {code}; create it by hand or fix kafka.created_topic_*"
                            )))
                        }
                    }
                }
                if !retry {
                    return Ok(());
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, brokers = %kafka.brokers, retry_in = ?backoff, "Kafka broker unreachable while creating topics; retrying");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

fn is_transient(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::NotController
            | RDKafkaErrorCode::LeaderNotAvailable
    )
}
