//! The contract between the ingest pipeline and the stateful stages that follow it.
//!
//! The pipeline owns offsets and checkpoints; a stage owns derived state (latest
//! declaration versions, windows, alert state). Each stage sees every accepted,
//! deduplicated event exactly once between checkpoints, and its snapshot is written in
//! the same checkpoint as the offsets that produced it. After a crash the pipeline
//! restores the snapshot and replays from those offsets, so a stage never sees an
//! event twice and never misses one.

use crate::event::Event;
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

pub trait StatefulStage: Send {
    /// A stable name: the key of this stage's snapshot in the checkpoint.
    fn name(&self) -> &'static str;

    /// One accepted, deduplicated event.
    fn on_event(&mut self, event: &Event<'_>, meta: &KafkaMeta<'_>);

    /// The state to write into the checkpoint.
    fn snapshot(&self) -> Result<Vec<u8>, ModelError>;

    /// Restores the state of the last checkpoint, before any event is replayed.
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), ModelError>;
}
