//! The Kafka side: client settings, the consumer context (checkpoint-driven
//! assignment, watermarks from statistics, errors to the log), and the receive loop
//! that turns messages into bounded micro-batches.

use std::sync::Arc;
use std::time::Instant;

use hub_model::Feed;
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{IngestConfig, KafkaConfig, StartFrom};
use crate::metrics::IngestMetrics;
use crate::progress::Progress;

/// Base client settings shared by every client the hub makes. Values of
/// `kafka.client` are passed through and never logged.
pub fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &kafka.brokers);
    for (k, v) in &kafka.client {
        c.set(k, v);
    }
    c.set_log_level(RDKafkaLogLevel::Warning);
    c
}

/// One raw message, copied out of librdkafka's buffers.
pub struct RawMessage {
    pub feed: Feed,
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// Broker or producer timestamp, milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
    pub payload: Vec<u8>,
}

/// A micro-batch: closed by size or by time since its first message.
pub struct RawBatch {
    pub first_received: Instant,
    pub messages: Vec<RawMessage>,
}

pub struct HubConsumerContext {
    progress: Arc<Progress>,
    start_from: StartFrom,
    metrics: IngestMetrics,
}

impl ClientContext for HubConsumerContext {
    fn stats(&self, stats: Statistics) {
        for (topic, t) in stats.topics {
            for (partition, p) in t.partitions {
                if partition >= 0 {
                    self.progress
                        .set_high_watermark(&topic, partition, p.hi_offset);
                }
            }
        }
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", facility = fac, "{log_message}")
            }
            _ => tracing::debug!(target: "librdkafka", facility = fac, "{log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let broker_down = matches!(
            error.rdkafka_error_code(),
            Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown)
        );
        if broker_down {
            self.metrics
                .kafka_errors
                .with_label_values(&["broker_down"])
                .inc();
            tracing::warn!(%reason, "all Kafka brokers are unreachable; the consumer keeps retrying");
        } else {
            self.metrics
                .kafka_errors
                .with_label_values(&["consume"])
                .inc();
            tracing::warn!(%error, %reason, "Kafka client error");
        }
    }
}

impl ConsumerContext for HubConsumerContext {
    /// Positions every assigned partition at the hub's own next offset (restored from
    /// the checkpoint), never at the group's committed offset: the group commit only
    /// feeds lag displays.
    fn rebalance(
        &self,
        base_consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut assigned = Vec::new();
                for e in tpl.elements() {
                    assigned.push((e.topic().to_string(), e.partition()));
                }
                for (topic, partition) in &assigned {
                    let offset = match self.progress.next_offset(topic, *partition) {
                        Some(o) => Offset::Offset(o),
                        None => match self.start_from {
                            StartFrom::Earliest => Offset::Beginning,
                            StartFrom::Latest => Offset::End,
                        },
                    };
                    tracing::info!(topic = %topic, partition, ?offset, "partition assigned");
                    if let Err(e) = tpl.set_partition_offset(topic, *partition, offset) {
                        tracing::error!(topic = %topic, partition, error = %e, "cannot set the start offset");
                    }
                }
                if let Err(e) = base_consumer.assign(tpl) {
                    tracing::error!(error = %e, "assigning partitions failed");
                }
                self.progress.set_assigned(assigned);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                if let Err(e) = base_consumer.unassign() {
                    tracing::error!(error = %e, "unassigning partitions failed");
                }
                self.progress.set_assigned(Vec::new());
            }
            other => {
                tracing::error!(error = ?other, "rebalance error; releasing the assignment");
                let _ = base_consumer.unassign();
                self.progress.set_assigned(Vec::new());
            }
        }
    }
}

pub type HubConsumer = StreamConsumer<HubConsumerContext>;

pub fn create_consumer(
    kafka: &KafkaConfig,
    progress: Arc<Progress>,
    metrics: IngestMetrics,
) -> Result<HubConsumer, KafkaError> {
    let context = HubConsumerContext {
        progress,
        start_from: kafka.start_from,
        metrics,
    };
    let consumer: HubConsumer = client_config(kafka)
        .set("group.id", &kafka.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range,roundrobin")
        .set("statistics.interval.ms", "1000")
        .set(
            "session.timeout.ms",
            kafka.session_timeout.as_millis().to_string(),
        )
        .set(
            "heartbeat.interval.ms",
            (kafka.session_timeout.as_millis() / 4).max(100).to_string(),
        )
        .set("enable.partition.eof", "false")
        .set("queued.max.messages.kbytes", "65536")
        // A broker that holds a fetch for its whole max wait when only some partitions
        // have data (tansu does) would add up to librdkafka's 500 ms to every alert.
        .set(
            "fetch.wait.max.ms",
            kafka
                .client
                .get("fetch.wait.max.ms")
                .map_or("50", String::as_str),
        )
        .create_with_context(context)?;
    let topics = kafka.topics.feeds();
    consumer.subscribe(&topics)?;
    Ok(consumer)
}

/// Reads messages into micro-batches until cancelled. A full queue blocks this loop,
/// which stops fetching: backpressure reaches the broker instead of memory.
pub async fn receive_loop(
    consumer: Arc<HubConsumer>,
    kafka: KafkaConfig,
    ingest: IngestConfig,
    tx: mpsc::Sender<RawBatch>,
    cancel: CancellationToken,
) {
    let topic_names: Vec<(Arc<str>, Feed)> = Feed::ALL
        .into_iter()
        .map(|f| (Arc::<str>::from(kafka.topics.of_feed(f)), f))
        .collect();
    let mut batch: Vec<RawMessage> = Vec::with_capacity(ingest.batch_max_messages);
    let mut first_received = Instant::now();
    let mut batch_bytes = 0usize;
    let mut deadline = tokio::time::Instant::now();
    let mut last_error_log: Option<Instant> = None;
    loop {
        let flush = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(deadline), if !batch.is_empty() => true,
            received = consumer.recv() => match received {
                Ok(m) => {
                    let Some((topic, feed)) = topic_names.iter().find(|(t, _)| &**t == m.topic()) else {
                        continue;
                    };
                    if batch.is_empty() {
                        first_received = Instant::now();
                        deadline = tokio::time::Instant::now() + ingest.batch_max_wait;
                    }
                    batch_bytes += m.payload_len();
                    batch.push(RawMessage {
                        feed: *feed,
                        topic: topic.clone(),
                        partition: m.partition(),
                        offset: m.offset(),
                        timestamp_ms: m.timestamp().to_millis(),
                        payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    });
                    batch.len() >= ingest.batch_max_messages || batch_bytes >= ingest.batch_max_bytes
                }
                Err(e) => {
                    if last_error_log.is_none_or(|t| t.elapsed().as_secs() >= 5) {
                        tracing::warn!(error = %e, brokers = %kafka.brokers, "receiving from Kafka failed; retrying");
                        last_error_log = Some(Instant::now());
                    }
                    false
                }
            },
        };
        if flush {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(ingest.batch_max_messages));
            batch_bytes = 0;
            let raw = RawBatch {
                first_received,
                messages: full,
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                sent = tx.send(raw) => if sent.is_err() { break },
            }
        }
    }
    // Hand over what was read: the pipeline processes it before its final checkpoint.
    if !batch.is_empty() {
        let _ = tx
            .send(RawBatch {
                first_received,
                messages: batch,
            })
            .await;
    }
}

/// Commits the checkpointed offsets to the consumer group, for lag displays only.
pub fn commit_for_display(consumer: &HubConsumer, offsets: &[(String, i32, i64)]) {
    let assigned = match consumer.assignment() {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in offsets {
        if assigned.find_partition(t, *p).is_some() {
            let _ = tpl.add_partition_offset(t, *p, Offset::Offset(*o));
        }
    }
    if tpl.count() > 0 {
        if let Err(e) = consumer.commit(&tpl, rdkafka::consumer::CommitMode::Async) {
            tracing::debug!(error = %e, "group offset commit failed (display only)");
        }
    }
}
