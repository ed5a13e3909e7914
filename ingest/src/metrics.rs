//! Every metric the ingest layer exports, named in one place (Prometheus conventions:
//! `hub_` prefix, base units, `_total` counters).

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::IngestError;

pub const RECORDS: &str = "hub_ingest_records_total";
pub const DEAD_LETTERS: &str = "hub_dead_letters_total";
pub const CONSUMER_LAG: &str = "hub_consumer_lag_messages";
pub const BATCH_LATENCY: &str = "hub_ingest_batch_latency_seconds";
pub const BATCH_SIZE: &str = "hub_ingest_batch_messages";
pub const CHECKPOINT_AGE: &str = "hub_checkpoint_age_seconds";
pub const CHECKPOINTS: &str = "hub_checkpoints_total";
pub const CHECKPOINT_DURATION: &str = "hub_checkpoint_duration_seconds";
pub const ARCHIVE_FILES: &str = "hub_archive_files_written_total";
pub const ARCHIVE_BYTES: &str = "hub_archive_bytes_written_total";
pub const DEDUP_ENTRIES: &str = "hub_dedup_entries";
pub const LIVE_BYTES: &str = "hub_live_buffer_bytes";
pub const KAFKA_ERRORS: &str = "hub_kafka_errors_total";
pub const ARCHIVE_UPLOADS: &str = "hub_archive_uploads_total";
pub const ARCHIVE_UPLOAD_PENDING: &str = "hub_archive_upload_pending_files";
pub const COMPACTIONS: &str = "hub_archive_compactions_total";
pub const COMPACTED_FILES: &str = "hub_archive_compacted_files_total";

/// Handles to the ingest metrics; cheap to clone.
#[derive(Clone)]
pub struct IngestMetrics {
    /// By `feed` and `outcome` (`accepted`, `duplicate`, `rejected`).
    pub records: IntCounterVec,
    /// By `feed` and `reason_class`.
    pub dead_letters: IntCounterVec,
    /// By `topic` and `partition`: high watermark minus the next offset to process.
    pub consumer_lag: IntGaugeVec,
    /// First message of a micro-batch received → its rows queryable.
    pub batch_latency: Histogram,
    pub batch_size: Histogram,
    pub checkpoint_age: prometheus::Gauge,
    /// By `outcome` (`ok`, `error`).
    pub checkpoints: IntCounterVec,
    pub checkpoint_duration: Histogram,
    /// By `table`.
    pub archive_files: IntCounterVec,
    pub archive_bytes: IntCounter,
    pub dedup_entries: IntGauge,
    pub live_bytes: IntGauge,
    /// By `kind` (`consume`, `dlq_produce`, `broker_down`).
    pub kafka_errors: IntCounterVec,
    /// Copies of archive files to the object store, by `outcome` (`ok`, `error`; an
    /// error is retried).
    pub archive_uploads: IntCounterVec,
    /// Committed archive files not yet copied to the object store.
    pub archive_upload_pending: IntGauge,
    /// Compactions of archive files, by `outcome` (`ok`, `error`; an error is retried).
    pub compactions: IntCounterVec,
    /// Archive files merged into compacted ones.
    pub compacted_files: IntCounter,
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(
    r: &Registry,
    name: &'static str,
    m: Result<T, prometheus::Error>,
) -> Result<T, IngestError> {
    let m = m.map_err(|source| IngestError::Metric { name, source })?;
    r.register(Box::new(m.clone()))
        .map_err(|source| IngestError::Metric { name, source })?;
    Ok(m)
}

impl IngestMetrics {
    pub fn new(r: &Registry) -> Result<Self, IngestError> {
        let latency_buckets = vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        Ok(IngestMetrics {
            records: reg(
                r,
                RECORDS,
                IntCounterVec::new(
                    Opts::new(
                        RECORDS,
                        "Feed messages by feed and outcome (accepted, duplicate, rejected).",
                    ),
                    &["feed", "outcome"],
                ),
            )?,
            dead_letters: reg(
                r,
                DEAD_LETTERS,
                IntCounterVec::new(
                    Opts::new(
                        DEAD_LETTERS,
                        "Messages sent to the dead-letter topic, by feed and reason class.",
                    ),
                    &["feed", "reason_class"],
                ),
            )?,
            consumer_lag: reg(
                r,
                CONSUMER_LAG,
                IntGaugeVec::new(
                    Opts::new(
                        CONSUMER_LAG,
                        "Messages in the partition not yet processed by the hub.",
                    ),
                    &["topic", "partition"],
                ),
            )?,
            batch_latency: reg(
                r,
                BATCH_LATENCY,
                Histogram::with_opts(
                    HistogramOpts::new(
                        BATCH_LATENCY,
                        "From a micro-batch's first message received to its rows being queryable.",
                    )
                    .buckets(latency_buckets.clone()),
                ),
            )?,
            batch_size: reg(
                r,
                BATCH_SIZE,
                Histogram::with_opts(
                    HistogramOpts::new(BATCH_SIZE, "Messages per micro-batch.").buckets(vec![
                        1.0, 10.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
                    ]),
                ),
            )?,
            checkpoint_age: reg(
                r,
                CHECKPOINT_AGE,
                prometheus::Gauge::new(
                    CHECKPOINT_AGE,
                    "How long the oldest processed but not yet checkpointed work has waited (0 when all is checkpointed).",
                ),
            )?,
            checkpoints: reg(
                r,
                CHECKPOINTS,
                IntCounterVec::new(
                    Opts::new(
                        CHECKPOINTS,
                        "Checkpoints attempted, by outcome (ok, error).",
                    ),
                    &["outcome"],
                ),
            )?,
            checkpoint_duration: reg(
                r,
                CHECKPOINT_DURATION,
                Histogram::with_opts(
                    HistogramOpts::new(
                        CHECKPOINT_DURATION,
                        "Time to write the archive files and the checkpoint of one roll.",
                    )
                    .buckets(latency_buckets),
                ),
            )?,
            archive_files: reg(
                r,
                ARCHIVE_FILES,
                IntCounterVec::new(
                    Opts::new(
                        ARCHIVE_FILES,
                        "Parquet files written to the archive, by table.",
                    ),
                    &["table"],
                ),
            )?,
            archive_bytes: reg(
                r,
                ARCHIVE_BYTES,
                IntCounter::new(ARCHIVE_BYTES, "Bytes of Parquet written to the archive."),
            )?,
            dedup_entries: reg(
                r,
                DEDUP_ENTRIES,
                IntGauge::new(DEDUP_ENTRIES, "Event ids remembered for deduplication."),
            )?,
            live_bytes: reg(
                r,
                LIVE_BYTES,
                IntGauge::new(
                    LIVE_BYTES,
                    "Bytes of accepted rows held in memory until the next roll.",
                ),
            )?,
            kafka_errors: reg(
                r,
                KAFKA_ERRORS,
                IntCounterVec::new(
                    Opts::new(
                        KAFKA_ERRORS,
                        "Kafka client errors by kind (consume, dlq_produce, broker_down).",
                    ),
                    &["kind"],
                ),
            )?,
            archive_uploads: reg(
                r,
                ARCHIVE_UPLOADS,
                IntCounterVec::new(
                    Opts::new(
                        ARCHIVE_UPLOADS,
                        "Archive file copies to the object store, by outcome (ok, error; errors are retried).",
                    ),
                    &["outcome"],
                ),
            )?,
            archive_upload_pending: reg(
                r,
                ARCHIVE_UPLOAD_PENDING,
                IntGauge::new(
                    ARCHIVE_UPLOAD_PENDING,
                    "Committed archive files not yet copied to the object store (storage.archive_url).",
                ),
            )?,
            compactions: reg(
                r,
                COMPACTIONS,
                IntCounterVec::new(
                    Opts::new(
                        COMPACTIONS,
                        "Merges of small archive files into one, by outcome (ok, error; errors are retried).",
                    ),
                    &["outcome"],
                ),
            )?,
            compacted_files: reg(
                r,
                COMPACTED_FILES,
                IntCounter::new(
                    COMPACTED_FILES,
                    "Archive files merged into compacted files (deleted storage.compaction.grace later).",
                ),
            )?,
        })
    }
}
