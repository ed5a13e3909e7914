//! The contract between the ingest pipeline and the stateful stages that follow it.
//!
//! The pipeline owns offsets and checkpoints; a stage owns derived state (latest
//! declaration versions, windows, alert state). Each stage sees every accepted,
//! deduplicated event exactly once between checkpoints, and its snapshot is written in
//! the same checkpoint as the offsets that produced it. After a crash the pipeline
//! restores the snapshot and replays from those offsets, so a stage never sees an
//! event twice and never misses one.

use arrow::record_batch::RecordBatch;

use crate::event::Event;
use crate::schema::Table;
use crate::ModelError;
use crate::Timestamp;

/// Where an event came from in Kafka, and when the hub took it in.
#[derive(Debug, Clone, Copy)]
pub struct KafkaMeta<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub kafka_timestamp: Option<Timestamp>,
    pub ingested_at: Timestamp,
}

/// What the pipeline tells a stage with each micro-batch (and on idle ticks).
#[derive(Debug, Clone)]
pub struct Tick {
    /// Processing time now.
    pub wall: Timestamp,
    /// How long no message has arrived (zero with a batch); `None` while no partition
    /// is assigned (waiting for the group is not a quiet input).
    pub quiet_for: Option<std::time::Duration>,
    /// The assigned partitions and their backlog, when the pipeline knows them.
    pub partitions: Option<std::sync::Arc<[PartitionBacklog]>>,
}

/// One assigned partition and how many messages it still has to deliver (`None`:
/// unknown until the broker reports its high watermark).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionBacklog {
    pub topic: String,
    pub partition: i32,
    pub backlog: Option<i64>,
}

/// Rows a stage adds to one of the hub's tables (e.g. `alerts`): archived and
/// checkpointed with the feed rows of the same micro-batch, so exactly once.
#[derive(Debug, Clone)]
pub struct StageRows {
    pub table: Table,
    /// Days since the epoch: the archive partition.
    pub day: i32,
    pub batch: RecordBatch,
}

pub trait StatefulStage: Send {
    /// A stable name: the key of this stage's snapshot in the checkpoint.
    fn name(&self) -> &'static str;

    /// One accepted, deduplicated event.
    fn on_event(&mut self, _event: &Event<'_>, _meta: &KafkaMeta<'_>) {}

    /// The accepted rows of one micro-batch, as Arrow batches per table (after every
    /// `on_event` of the batch); called with no rows on idle ticks. Returns rows for
    /// the hub's tables.
    fn on_rows(
        &mut self,
        _rows: &[(Table, RecordBatch)],
        _tick: &Tick,
    ) -> Result<Vec<StageRows>, ModelError> {
        Ok(Vec::new())
    }

    /// The stage changed state in a way a replay would not re-derive (the idle clock
    /// moved): the pipeline writes a checkpoint now.
    fn wants_checkpoint(&self) -> bool {
        false
    }

    /// The state to write into the checkpoint.
    fn snapshot(&self) -> Result<Vec<u8>, ModelError>;

    /// Restores the state of the last checkpoint, before any event is replayed.
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), ModelError>;
}
