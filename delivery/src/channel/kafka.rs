//! The `kafka` channel: the same CloudEvent JSON as the webhook body, produced to the
//! hub's alerts topic (`kafka.topics.alerts`, default `hub.alerts`) keyed by alert id,
//! so one alert's notifications stay in order on one partition. Headers carry the
//! CloudEvents binary-mode attributes a consumer may route on (`ce_id`, `ce_type`,
//! `ce_subject`) and `content-type`.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::channel::Attempt;
use crate::cloudevent::CONTENT_TYPE;
use crate::notification::Notification;
use crate::outbox::Delivery;

pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
}

impl KafkaSink {
    /// `producer` should be made with `acks=all`; the binary builds it from the
    /// `kafka` config section, so it reaches the same cluster as ingest.
    pub fn new(producer: FutureProducer, topic: impl Into<String>) -> Self {
        KafkaSink {
            producer,
            topic: topic.into(),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Produces every delivery of `batch`, in order; the first failure stops the
    /// batch (the outbox retries the whole batch; consumers drop repeats by `ce_id`).
    pub async fn send(&self, batch: &[Delivery], timeout: Duration) -> Attempt {
        for d in batch {
            let event_type = Notification::parse(&d.body)
                .map(|n| n.event_type)
                .unwrap_or_default();
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "ce_id",
                    value: Some(d.notification_id.as_bytes()),
                })
                .insert(Header {
                    key: "ce_type",
                    value: Some(event_type.as_bytes()),
                })
                .insert(Header {
                    key: "ce_subject",
                    value: Some(d.alert_id.as_bytes()),
                })
                .insert(Header {
                    key: "content-type",
                    value: Some(CONTENT_TYPE.as_bytes()),
                });
            let record = FutureRecord::to(&self.topic)
                .key(&d.alert_id)
                .payload(&d.body)
                .headers(headers);
            if let Err((e, _)) = self.producer.send(record, timeout).await {
                return match e {
                    // Only what no retry can fix; an authorisation error is the hub's
                    // configuration (an ACL), fixed without losing what waits.
                    KafkaError::MessageProduction(
                        RDKafkaErrorCode::MessageSizeTooLarge
                        | RDKafkaErrorCode::InvalidMessageSize,
                    ) => Attempt::refused(format!("{}: {e}", self.topic)),
                    e => Attempt::retry(format!("{}: {e}", self.topic)),
                };
            }
        }
        Attempt::delivered()
    }
}
