//! The dead-letter topic: each refused message as JSON with its reason, where it came
//! from, and the raw bytes (base64). Keyed by `<topic>/<partition>/<offset>`, which is
//! unique per source message, so a consumer of `hub.dlq` can drop the repeats that a
//! replay after a crash may produce (the topic is at-least-once; the `dead_letters`
//! table, written with the checkpoint, is exactly-once).

use std::time::Duration;

use base64::Engine;
use hub_model::DeadLetter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use serde::Serialize;
use tokio::runtime::Handle;

use crate::config::KafkaConfig;
use crate::consumer::client_config;
use crate::metrics::IngestMetrics;
use crate::IngestError;

#[derive(Debug, Serialize)]
pub struct DeadLetterRecord<'a> {
    pub reason: String,
    pub reason_class: &'static str,
    pub feed: &'static str,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// The source message's Kafka timestamp (RFC 3339), if it had one.
    pub timestamp: Option<String>,
    pub received_at: String,
    /// The raw bytes, base64; at most the first [`MAX_DLQ_PAYLOAD`] bytes.
    pub payload_base64: String,
    /// The raw message's length in bytes.
    pub payload_bytes: usize,
    /// True when `payload_base64` holds only the first [`MAX_DLQ_PAYLOAD`] bytes (the
    /// `dead_letters` table keeps them all).
    pub payload_truncated: bool,
}

/// Raw bytes kept in a `hub.dlq` record: well under Kafka's default 1 MB message limit.
pub const MAX_DLQ_PAYLOAD: usize = 64 * 1024;

impl<'a> DeadLetterRecord<'a> {
    pub fn of(d: &'a DeadLetter) -> Self {
        DeadLetterRecord {
            reason: d.rejection.reason(),
            reason_class: d.rejection.class.as_str(),
            feed: d.feed.as_str(),
            topic: &d.topic,
            partition: d.partition,
            offset: d.offset,
            timestamp: d.kafka_timestamp.map(|t| t.to_rfc3339()),
            received_at: d.received_at.to_rfc3339(),
            payload_base64: base64::engine::general_purpose::STANDARD
                .encode(&d.payload[..d.payload.len().min(MAX_DLQ_PAYLOAD)]),
            payload_bytes: d.payload.len(),
            payload_truncated: d.payload.len() > MAX_DLQ_PAYLOAD,
        }
    }

    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.topic, self.partition, self.offset)
    }
}

struct Pending {
    key: String,
    body: Vec<u8>,
    delivery: Option<DeliveryFuture>,
}

/// Sends dead letters and, before each checkpoint, makes sure all of them arrived.
pub struct DeadLetterSender {
    producer: FutureProducer,
    topic: String,
    pending: Vec<Pending>,
    runtime: Handle,
    metrics: IngestMetrics,
}

impl DeadLetterSender {
    pub fn new(
        kafka: &KafkaConfig,
        runtime: Handle,
        metrics: IngestMetrics,
    ) -> Result<Self, IngestError> {
        let producer: FutureProducer = client_config(kafka)
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .set("enable.idempotence", "false")
            .create()?;
        Ok(DeadLetterSender {
            producer,
            topic: kafka.topics.dlq.clone(),
            pending: Vec::new(),
            runtime,
            metrics,
        })
    }

    pub fn send(&mut self, d: &DeadLetter) {
        let record = DeadLetterRecord::of(d);
        let key = record.key();
        let body = serde_json::to_vec(&record).expect("a dead-letter record always serializes");
        let mut p = Pending {
            key,
            body,
            delivery: None,
        };
        self.enqueue(&mut p);
        self.pending.push(p);
    }

    fn enqueue(&self, p: &mut Pending) {
        loop {
            let record = FutureRecord::to(&self.topic).key(&p.key).payload(&p.body);
            match self.producer.send_result(record) {
                Ok(f) => {
                    p.delivery = Some(f);
                    return;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => {
                    self.metrics
                        .kafka_errors
                        .with_label_values(&["dlq_produce"])
                        .inc();
                    tracing::warn!(error = %e, topic = %self.topic, "queueing a dead letter failed; will retry at the next checkpoint");
                    p.delivery = None;
                    return;
                }
            }
        }
    }

    /// Waits until every dead letter sent since the last call is acknowledged,
    /// re-sending failures, for at most `timeout`.
    pub fn confirm_all(&mut self, timeout: Duration) -> Result<(), IngestError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut round = std::mem::take(&mut self.pending);
        while !round.is_empty() {
            let mut failed = Vec::new();
            for mut p in round {
                let ok = match p.delivery.take() {
                    Some(f) => matches!(self.runtime.block_on(f), Ok(Ok(_))),
                    None => false,
                };
                if !ok {
                    failed.push(p);
                }
            }
            if failed.is_empty() {
                break;
            }
            self.metrics
                .kafka_errors
                .with_label_values(&["dlq_produce"])
                .inc_by(failed.len() as u64);
            if std::time::Instant::now() >= deadline {
                let n = failed.len();
                self.pending = failed;
                return Err(IngestError::DeadLetterDelivery(format!(
                    "{n} dead letters to {} unacknowledged; the checkpoint waits for them",
                    self.topic
                )));
            }
            tracing::warn!(count = failed.len(), topic = %self.topic, "re-sending unacknowledged dead letters");
            std::thread::sleep(Duration::from_millis(200));
            for p in &mut failed {
                self.enqueue(p);
            }
            round = failed;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_model::{Feed, ReasonClass, Rejection, Timestamp};

    #[test]
    fn record_carries_reason_position_and_raw_bytes() {
        let d = DeadLetter {
            feed: Feed::Kiosk,
            topic: "kiosk.results".into(),
            partition: 2,
            offset: 17,
            kafka_timestamp: Some(Timestamp(1_763_700_000_000_000)),
            rejection: Rejection::new(ReasonClass::NotJson, None, "EOF"),
            payload: vec![0xff, 0xfe, 0x00],
            received_at: Timestamp(1_763_700_001_000_000),
        };
        let r = DeadLetterRecord::of(&d);
        let json: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(json["reason"], "not JSON: EOF");
        assert_eq!(json["reason_class"], "not_json");
        assert_eq!(json["partition"], 2);
        assert_eq!(json["offset"], 17);
        assert_eq!(json["payload_base64"], "//4A");
        assert_eq!(r.key(), "kiosk.results/2/17");
    }
}
