//! The ingest pipeline: start-up recovery, the consumer task, the pipeline thread and
//! the roll that makes the archive and the checkpoint advance together.
//!
//! Exactly once: a roll (1) waits for every dead letter to be acknowledged, (2) writes
//! the live rows as Parquet files of the next epoch, (3) writes the checkpoint of that
//! epoch — offsets, dedup set, every stage's snapshot — and only then (4) swaps the
//! files into the live tables and (5) commits the group offsets for lag displays.
//! A crash before (3) leaves files of an epoch without checkpoint; start-up deletes them
//! and replays their messages from the checkpointed offsets into the checkpointed state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use hub_model::batch::TableBuilder;
use hub_model::schema::Table;
use hub_model::{
    DeadLetter, KafkaMeta, PartitionBacklog, StatefulStage, Tick, Timestamp, Validator,
};
use prometheus::Registry;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::archive::{self, ArchivedFile};
use crate::checkpoint::Checkpoint;
use crate::compaction;
use crate::config::{IngestConfig, KafkaConfig, StorageConfig};
use crate::consumer::{self, HubConsumer, RawBatch};
use crate::dead_letters::DeadLetterSender;
use crate::dedup::DedupSet;
use crate::metrics::IngestMetrics;
use crate::progress::Progress;
use crate::tables::LiveTables;
use crate::topics;
use crate::IngestError;

/// Everything the ingest layer needs to start.
pub struct Ingest {
    pub kafka: KafkaConfig,
    pub ingest: IngestConfig,
    pub storage: StorageConfig,
}

/// A running ingest: its tables and progress for readers, and the tasks to await.
pub struct IngestHandle {
    pub tables: Arc<LiveTables>,
    pub progress: Arc<Progress>,
    pub metrics: IngestMetrics,
    consumer_task: JoinHandle<()>,
    ticker_task: JoinHandle<()>,
    pipeline_thread: std::thread::JoinHandle<Result<(), IngestError>>,
}

impl IngestHandle {
    /// Waits for a graceful stop (after the root token is cancelled): the pipeline
    /// drains the queue and writes a final checkpoint.
    pub async fn wait(self) -> Result<(), IngestError> {
        let _ = self.consumer_task.await;
        let result = tokio::task::spawn_blocking(move || self.pipeline_thread.join())
            .await
            .map_err(|e| IngestError::Stopped(e.to_string()))?
            .map_err(|_| IngestError::Stopped("the pipeline thread panicked".into()))?;
        self.ticker_task.abort();
        result
    }
}

impl Ingest {
    /// Recovers from the data directory, connects, and starts consuming.
    pub async fn start(
        self,
        mut stages: Vec<Box<dyn StatefulStage>>,
        registry: &Registry,
        cancel: CancellationToken,
    ) -> Result<IngestHandle, IngestError> {
        self.kafka.validate()?;
        self.ingest.validate()?;
        self.storage.validate()?;
        let metrics = IngestMetrics::new(registry)?;

        // 1. Recover: the newest checkpoint, the archive files it committed, the state.
        let checkpoint = Checkpoint::load_latest(&self.storage.checkpoint_dir())?;
        let files = archive::recover(&self.storage.archive_dir(), checkpoint.epoch)?;
        tracing::info!(
            epoch = checkpoint.epoch,
            partitions = checkpoint.offsets.len(),
            dedup_entries = checkpoint.dedup.len() / 16,
            archive_files = files.len(),
            data_dir = %self.storage.data_dir.display(),
            "recovered from checkpoint"
        );
        let tables = Arc::new(LiveTables::with_files(files));
        let store = archive::ArchiveStore::from_config(&self.storage)?;
        if let Some(store) = &store {
            // Joined by nobody: it stops with the root token, and what it has not
            // copied yet is copied after the next start.
            tables.mirror_to(store.clone(), &metrics, cancel.clone());
        }
        if self.storage.compaction.enabled {
            // Joined by nobody either: stopping mid-merge leaves files start-up sorts out.
            tokio::spawn(compaction::run(
                tables.clone(),
                self.storage.archive_dir(),
                self.storage.compaction.clone(),
                store,
                metrics.clone(),
                cancel.clone(),
            ));
        }
        let progress = Arc::new(Progress::default());
        progress.restore(&checkpoint.offsets);
        let dedup = DedupSet::from_keys(self.ingest.dedup_capacity, checkpoint.dedup_keys());
        for stage in &mut stages {
            if let Some(snapshot) = checkpoint.stage(stage.name()) {
                stage.restore(snapshot)?;
            }
        }

        // 2. The topics the hub owns.
        topics::ensure_topics(
            &self.kafka,
            &[&self.kafka.topics.dlq, &self.kafka.topics.alerts],
            &cancel,
        )
        .await?;

        // 3. Kafka clients and the pipeline.
        let consumer = Arc::new(consumer::create_consumer(
            &self.kafka,
            progress.clone(),
            metrics.clone(),
        )?);
        let dlq = DeadLetterSender::new(&self.kafka, Handle::current(), metrics.clone())?;
        let (tx, rx) = mpsc::channel::<RawBatch>(self.ingest.queue_batches);
        let consumer_task = tokio::spawn(consumer::receive_loop(
            consumer.clone(),
            self.kafka.clone(),
            self.ingest.clone(),
            tx,
            cancel.clone(),
        ));
        let ticker_task = tokio::spawn(update_gauges(
            progress.clone(),
            metrics.clone(),
            cancel.clone(),
        ));

        let mut pipeline = Pipeline {
            validator: Validator {
                max_message_bytes: self.ingest.max_message_bytes,
                max_future: self.ingest.max_future,
            },
            dedup,
            stages,
            builders: HashMap::new(),
            dlq,
            tables: tables.clone(),
            progress: progress.clone(),
            metrics: metrics.clone(),
            consumer,
            storage: self.storage.clone(),
            checkpoint,
            last_roll: Instant::now(),
            last_message: Instant::now(),
            dirty: false,
        };
        let runtime = Handle::current();
        let pipeline_thread = std::thread::Builder::new()
            .name("hub-pipeline".into())
            .spawn({
                let cancel = cancel.clone();
                move || {
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        pipeline.run(rx, runtime)
                    }))
                    .unwrap_or_else(|_| {
                        Err(IngestError::Stopped("the pipeline thread panicked".into()))
                    });
                    if let Err(e) = &result {
                        // Stop the whole hub rather than serve stale data.
                        tracing::error!(error = %e, "the ingest pipeline failed; shutting down");
                        cancel.cancel();
                    }
                    result
                }
            })
            .map_err(|e| IngestError::Stopped(format!("cannot start the pipeline thread: {e}")))?;

        Ok(IngestHandle {
            tables,
            progress,
            metrics,
            consumer_task,
            ticker_task,
            pipeline_thread,
        })
    }
}

async fn update_gauges(progress: Arc<Progress>, metrics: IngestMetrics, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        metrics
            .checkpoint_age
            .set(progress.checkpoint_age_seconds());
        for l in progress.lags() {
            if let Some(lag) = l.lag() {
                metrics
                    .consumer_lag
                    .with_label_values(&[l.topic.as_str(), &l.partition.to_string()])
                    .set(lag);
            }
        }
    }
}

struct Pipeline {
    validator: Validator,
    dedup: DedupSet,
    stages: Vec<Box<dyn StatefulStage>>,
    builders: HashMap<(Table, i32), TableBuilder>,
    dlq: DeadLetterSender,
    tables: Arc<LiveTables>,
    progress: Arc<Progress>,
    metrics: IngestMetrics,
    consumer: Arc<HubConsumer>,
    storage: StorageConfig,
    /// The last checkpoint written (or recovered).
    checkpoint: Checkpoint,
    last_roll: Instant,
    /// When the last batch of messages arrived (for the stages' idle clock).
    last_message: Instant,
    /// Anything processed since the last checkpoint.
    dirty: bool,
}

/// How often the pipeline wakes without input, to let the stages' clocks move.
const TICK: Duration = Duration::from_millis(100);

impl Pipeline {
    fn run(
        &mut self,
        mut rx: mpsc::Receiver<RawBatch>,
        runtime: Handle,
    ) -> Result<(), IngestError> {
        loop {
            let wait = if self.dirty {
                self.storage
                    .roll_interval
                    .saturating_sub(self.last_roll.elapsed())
            } else {
                self.storage.roll_interval
            };
            let next =
                runtime.block_on(async { tokio::time::timeout(wait.min(TICK), rx.recv()).await });
            match next {
                Ok(Some(batch)) => self.process(batch)?,
                Ok(None) => break,
                Err(_elapsed) => self.tick()?,
            }
            if self.roll_due() {
                if let Err(e) = self.roll() {
                    self.metrics.checkpoints.with_label_values(&["error"]).inc();
                    tracing::error!(error = %e, "roll failed; the live rows stay in memory and the roll is retried");
                    self.last_roll = Instant::now();
                }
            }
        }
        if self.dirty {
            tracing::info!("shutting down: writing the final checkpoint");
            self.roll()?;
        }
        Ok(())
    }

    fn roll_due(&self) -> bool {
        self.dirty
            && (self.last_roll.elapsed() >= self.storage.roll_interval
                || self.tables.live_bytes() >= self.storage.roll_max_bytes
                || self.stages.iter().any(|s| s.wants_checkpoint()))
    }

    /// No input for a while: the stages' clocks may move (windows age, silences show).
    fn tick(&mut self) -> Result<(), IngestError> {
        let tick = self.make_tick(Timestamp::now(), Some(self.last_message.elapsed()));
        self.run_stages(&[], &tick)
    }

    /// The stages' view of time and partitions; `quiet_for` counts only while
    /// partitions are assigned.
    fn make_tick(&self, wall: Timestamp, quiet_for: Option<Duration>) -> Tick {
        let partitions: Vec<PartitionBacklog> = self
            .progress
            .lags()
            .into_iter()
            .map(|l| PartitionBacklog {
                backlog: l.lag(),
                topic: l.topic,
                partition: l.partition,
            })
            .collect();
        Tick {
            wall,
            quiet_for: quiet_for.filter(|_| !partitions.is_empty()),
            partitions: Some(partitions.into()),
        }
    }

    /// Gives the stages the accepted rows of a micro-batch; appends what they return.
    fn run_stages(
        &mut self,
        rows: &[(Table, RecordBatch)],
        tick: &Tick,
    ) -> Result<(), IngestError> {
        for stage in &mut self.stages {
            for out in stage.on_rows(rows, tick)? {
                if out.batch.num_rows() > 0 {
                    self.tables.append(out.table, out.day, out.batch);
                    self.dirty = true;
                }
            }
            if stage.wants_checkpoint() {
                self.dirty = true;
            }
        }
        Ok(())
    }

    fn process(&mut self, batch: RawBatch) -> Result<(), IngestError> {
        let now = Timestamp::now();
        let mut advanced: HashMap<(String, i32), i64> = HashMap::new();
        let mut counts: HashMap<(&'static str, &'static str), u64> = HashMap::new();
        self.metrics.batch_size.observe(batch.messages.len() as f64);
        for m in &batch.messages {
            let key = (m.topic.to_string(), m.partition);
            let next = advanced
                .get(&key)
                .copied()
                .or_else(|| self.progress.next_offset(&m.topic, m.partition));
            if next.is_some_and(|next| m.offset < next) {
                // Already processed: a re-delivery after a rebalance, when the partition
                // was re-positioned at our offset while later messages were in flight.
                continue;
            }
            let feed = m.feed;
            let meta = KafkaMeta {
                topic: &m.topic,
                partition: m.partition,
                offset: m.offset,
                kafka_timestamp: m.timestamp_ms.map(|ms| Timestamp(ms * 1000)),
                ingested_at: now,
            };
            let outcome = match self.validator.decode(feed, &m.payload, now) {
                Ok(event) => {
                    if self.dedup.insert(feed, event.event_id()) {
                        for stage in &mut self.stages {
                            stage.on_event(&event, &meta);
                        }
                        let table = Table::of_feed(feed);
                        self.builders
                            .entry((table, event.event_time().epoch_day()))
                            .or_insert_with(|| TableBuilder::new(table))
                            .append_event(&event, &meta);
                        "accepted"
                    } else {
                        "duplicate"
                    }
                }
                Err(rejection) => {
                    tracing::debug!(feed = %feed, topic = %m.topic, partition = m.partition, offset = m.offset, reason = %rejection, "dead letter");
                    self.metrics
                        .dead_letters
                        .with_label_values(&[feed.as_str(), rejection.class.as_str()])
                        .inc();
                    let dead = DeadLetter {
                        feed,
                        topic: m.topic.to_string(),
                        partition: m.partition,
                        offset: m.offset,
                        kafka_timestamp: meta.kafka_timestamp,
                        rejection,
                        payload: m.payload.clone(),
                        received_at: now,
                    };
                    self.dlq.send(&dead);
                    self.builders
                        .entry((Table::DeadLetters, now.epoch_day()))
                        .or_insert_with(|| TableBuilder::new(Table::DeadLetters))
                        .append_dead_letter(&dead);
                    "rejected"
                }
            };
            *counts.entry((feed.as_str(), outcome)).or_default() += 1;
            advanced.insert(key, m.offset + 1);
        }
        let mut rows: Vec<(Table, i32, RecordBatch)> = Vec::new();
        for ((table, day), mut builder) in self.builders.drain() {
            if !builder.is_empty() {
                rows.push((table, day, builder.finish()?));
            }
        }
        rows.sort_by_key(|(table, day, _)| (*table, *day));
        self.last_message = Instant::now();
        let feed_rows: Vec<(Table, RecordBatch)> = rows
            .iter()
            .filter(|(t, _, _)| *t != Table::DeadLetters)
            .map(|(t, _, b)| (*t, b.clone()))
            .collect();
        let tick = self.make_tick(now, Some(Duration::ZERO));
        self.run_stages(&feed_rows, &tick)?;
        for (table, day, batch) in rows {
            self.tables.append(table, day, batch);
        }
        if !advanced.is_empty() {
            self.progress.advance(advanced);
            self.dirty = true;
        }
        for ((feed, outcome), n) in counts {
            self.metrics
                .records
                .with_label_values(&[feed, outcome])
                .inc_by(n);
        }
        self.metrics
            .batch_latency
            .observe(batch.first_received.elapsed().as_secs_f64());
        self.metrics.live_bytes.set(self.tables.live_bytes() as i64);
        self.metrics.dedup_entries.set(self.dedup.len() as i64);
        Ok(())
    }

    /// Archive + checkpoint, in the order that makes a crash at any point safe.
    fn roll(&mut self) -> Result<(), IngestError> {
        let started = Instant::now();
        self.dlq.confirm_all(Duration::from_secs(30))?;
        let mut next = self.checkpoint.next();
        let archive_dir = self.storage.archive_dir();
        let mut written: Vec<ArchivedFile> = Vec::new();
        for p in self.tables.pending() {
            let f = archive::write_file(&archive_dir, p.table, p.day, next.epoch, &p.batches)?;
            self.metrics
                .archive_files
                .with_label_values(&[p.table.name()])
                .inc();
            self.metrics.archive_bytes.inc_by(f.bytes);
            written.push(f);
        }
        next.written_at = Some(Timestamp::now());
        next.offsets = self.progress.offsets();
        next.set_dedup_keys(self.dedup.keys());
        for stage in &self.stages {
            next.stages
                .push((stage.name().to_string(), stage.snapshot()?));
        }
        next.write(&self.storage.checkpoint_dir())?;
        let rows: usize = written.iter().map(|f| f.rows).sum();
        self.tables.commit_roll(written);
        consumer::commit_for_display(&self.consumer, &next.offsets);
        tracing::debug!(epoch = next.epoch, rows, took = ?started.elapsed(), "checkpoint written");
        self.checkpoint = next;
        self.progress.mark_checkpointed();
        self.dirty = false;
        self.last_roll = Instant::now();
        self.metrics.checkpoints.with_label_values(&["ok"]).inc();
        self.metrics
            .checkpoint_duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics.live_bytes.set(0);
        Ok(())
    }
}
