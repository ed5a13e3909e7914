//! The ingest sections of the hub's configuration. Every field has a default; see
//! README.md "Configuration" for the table of keys.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use hub_model::Feed;
use serde::{Deserialize, Serialize};

use crate::IngestError;

/// `[kafka]`: how to reach the cluster and which topics to read and write.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma separated.
    pub brokers: String,
    /// Consumer group shared by every `run` instance.
    pub group_id: String,
    pub topics: TopicsConfig,
    /// Where to start on a partition the checkpoint does not know: `earliest` (rebuild
    /// everything the topic still holds) or `latest`.
    pub start_from: StartFrom,
    /// Partitions and replication factor for the topics the hub creates (`hub.dlq`,
    /// `hub.alerts`) when they do not exist.
    pub created_topic_partitions: i32,
    pub created_topic_replication: i32,
    /// How long the group waits for a silent member before giving its partitions to
    /// others (also how long a restarted hub may wait for its old partitions).
    #[serde(with = "humantime_serde")]
    pub session_timeout: Duration,
    /// Extra librdkafka properties (e.g. `security.protocol`, `sasl.username`). Values are
    /// never logged.
    pub client: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            group_id: "safety-hub".into(),
            topics: TopicsConfig::default(),
            start_from: StartFrom::Earliest,
            created_topic_partitions: 3,
            created_topic_replication: 1,
            session_timeout: Duration::from_secs(45),
            client: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for KafkaConfig {
    /// `kafka.client` may hold credentials: only its keys are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("group_id", &self.group_id)
            .field("topics", &self.topics)
            .field("start_from", &self.start_from)
            .field("created_topic_partitions", &self.created_topic_partitions)
            .field("created_topic_replication", &self.created_topic_replication)
            .field("session_timeout", &self.session_timeout)
            .field("client", &self.client.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFrom {
    Earliest,
    Latest,
}

/// `[kafka.topics]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    pub kiosk: String,
    pub slaughter: String,
    pub export: String,
    pub dlq: String,
    pub alerts: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            kiosk: Feed::Kiosk.default_topic().into(),
            slaughter: Feed::Slaughter.default_topic().into(),
            export: Feed::Export.default_topic().into(),
            dlq: "hub.dlq".into(),
            alerts: "hub.alerts".into(),
        }
    }
}

impl TopicsConfig {
    pub fn of_feed(&self, feed: Feed) -> &str {
        match feed {
            Feed::Kiosk => &self.kiosk,
            Feed::Slaughter => &self.slaughter,
            Feed::Export => &self.export,
        }
    }

    pub fn feed_of(&self, topic: &str) -> Option<Feed> {
        Feed::ALL.into_iter().find(|f| self.of_feed(*f) == topic)
    }

    pub fn feeds(&self) -> [&str; 3] {
        [&self.kiosk, &self.slaughter, &self.export]
    }
}

/// `[ingest]`: validation limits, micro-batching, deduplication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Messages larger than this go to the dead-letter topic as `too_large`.
    pub max_message_bytes: usize,
    /// How far ahead of the hub clock a timestamp may be.
    #[serde(with = "humantime_serde")]
    pub max_future: Duration,
    /// A micro-batch closes at this many messages…
    pub batch_max_messages: usize,
    /// …or this many payload bytes…
    pub batch_max_bytes: usize,
    /// …or this long after its first message.
    #[serde(with = "humantime_serde")]
    pub batch_max_wait: Duration,
    /// Micro-batches queued between the consumer and the pipeline (backpressure).
    pub queue_batches: usize,
    /// Distinct event ids remembered for deduplication (16 bytes each, about 40 bytes
    /// with the index): a duplicate arriving after this many newer distinct events is
    /// not recognised.
    pub dedup_capacity: usize,
    /// How long the export ledger remembers a declaration after its latest version.
    #[serde(with = "humantime_serde")]
    pub declaration_retention: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_message_bytes: 1 << 20,
            max_future: Duration::from_secs(600),
            batch_max_messages: 2048,
            batch_max_bytes: 8 << 20,
            batch_max_wait: Duration::from_millis(50),
            queue_batches: 8,
            dedup_capacity: 1_000_000,
            declaration_retention: Duration::from_secs(35 * 86_400),
        }
    }
}

/// `[storage]`: where checkpoints and the archive live, and when files roll.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// A roll (Parquet files + checkpoint) happens at least this often while data flows…
    #[serde(with = "humantime_serde")]
    pub roll_interval: Duration,
    /// …and whenever this many bytes of Arrow data are buffered.
    pub roll_max_bytes: usize,
    /// Also keep the archive on an S3-compatible object store, `s3://bucket/prefix`: each
    /// committed file is copied there and SQL reads it there. Endpoint, region and
    /// credentials come from the standard `AWS_*` environment variables, never from here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_url: Option<String>,
    /// `[storage.compaction]`: small archive files merged into one per partition.
    pub compaction: crate::CompactionConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./data"),
            roll_interval: Duration::from_secs(10),
            roll_max_bytes: 64 << 20,
            archive_url: None,
            compaction: crate::CompactionConfig::default(),
        }
    }
}

impl StorageConfig {
    pub fn archive_dir(&self) -> PathBuf {
        self.data_dir.join("archive")
    }
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.data_dir.join("checkpoints")
    }
}

fn require(ok: bool, key: &str, what: &str) -> Result<(), IngestError> {
    if ok {
        Ok(())
    } else {
        Err(IngestError::Config(format!("{key}: {what}")))
    }
}

impl KafkaConfig {
    pub fn validate(&self) -> Result<(), IngestError> {
        require(
            !self.brokers.trim().is_empty(),
            "kafka.brokers",
            "must name at least one host:port",
        )?;
        require(
            !self.group_id.trim().is_empty(),
            "kafka.group_id",
            "must not be empty",
        )?;
        let t = &self.topics;
        for (key, v) in [
            ("kafka.topics.kiosk", &t.kiosk),
            ("kafka.topics.slaughter", &t.slaughter),
            ("kafka.topics.export", &t.export),
            ("kafka.topics.dlq", &t.dlq),
            ("kafka.topics.alerts", &t.alerts),
        ] {
            require(!v.is_empty(), key, "must not be empty")?;
        }
        let mut all = vec![&t.kiosk, &t.slaughter, &t.export, &t.dlq, &t.alerts];
        all.sort();
        all.dedup();
        require(
            all.len() == 5,
            "kafka.topics",
            "the five topics must all differ",
        )?;
        require(
            self.created_topic_partitions >= 1,
            "kafka.created_topic_partitions",
            "must be at least 1",
        )?;
        require(
            (Duration::from_secs(1)..=Duration::from_secs(300)).contains(&self.session_timeout),
            "kafka.session_timeout",
            "must be between 1s and 5m",
        )?;
        require(
            self.created_topic_replication >= 1,
            "kafka.created_topic_replication",
            "must be at least 1",
        )?;
        for key in ["bootstrap.servers", "group.id", "enable.auto.commit"] {
            require(
                !self.client.contains_key(key),
                &format!("kafka.client.\"{key}\""),
                "is set by the hub itself; use kafka.brokers / kafka.group_id",
            )?;
        }
        Ok(())
    }
}

impl IngestConfig {
    pub fn validate(&self) -> Result<(), IngestError> {
        require(
            self.max_message_bytes >= 1024,
            "ingest.max_message_bytes",
            "must be at least 1024",
        )?;
        require(
            self.batch_max_messages >= 1,
            "ingest.batch_max_messages",
            "must be at least 1",
        )?;
        require(
            self.batch_max_bytes >= self.max_message_bytes,
            "ingest.batch_max_bytes",
            "must be at least ingest.max_message_bytes",
        )?;
        require(
            !self.batch_max_wait.is_zero(),
            "ingest.batch_max_wait",
            "must be above 0",
        )?;
        require(
            self.queue_batches >= 1,
            "ingest.queue_batches",
            "must be at least 1",
        )?;
        require(
            self.dedup_capacity >= 1000,
            "ingest.dedup_capacity",
            "must be at least 1000",
        )?;
        Ok(())
    }
}

impl StorageConfig {
    pub fn validate(&self) -> Result<(), IngestError> {
        require(
            !self.data_dir.as_os_str().is_empty(),
            "storage.data_dir",
            "must not be empty",
        )?;
        require(
            !self.roll_interval.is_zero(),
            "storage.roll_interval",
            "must be above 0",
        )?;
        require(
            self.roll_max_bytes >= 1 << 20,
            "storage.roll_max_bytes",
            "must be at least 1 MiB",
        )?;
        if let Some(url) = &self.archive_url {
            crate::archive::parse_archive_url(url)
                .map_err(|e| IngestError::Config(format!("storage.archive_url: {e}")))?;
        }
        self.compaction.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_client_values() {
        let mut k = KafkaConfig::default();
        k.client
            .insert("sasl.password".into(), "hunter2-secret".into());
        let shown = format!("{k:?}");
        assert!(
            shown.contains("sasl.password") && !shown.contains("hunter2-secret"),
            "{shown}"
        );
    }
}
