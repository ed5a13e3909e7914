//! The rule engine as a pipeline stage: reads each micro-batch's Arrow rows, advances
//! event time, writes alert transitions into the `alerts` table (exactly once, with the
//! checkpoint) and onto the bounded transition channel (at least once: a replay after a
//! crash re-derives the lost epoch's transitions and sends them again with the same
//! notification ids — exactly so for input within the allowed lateness when no
//! processing-time idleness intervened; see ARCHITECTURE.md invariant 10).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use hub_model::alert::AlertTransition;
use hub_model::alert_batch::AlertBuilder;
use hub_model::handoff::TransitionHandoff;
use hub_model::open_alerts::OpenAlerts;
use hub_model::schema::Table;
use hub_model::{ModelError, StageRows, StatefulStage, Tick, Timestamp};
use tokio::sync::mpsc;

use super::config::{EvaluationConfig, RuleKind};
use super::engine::{EngineSnapshot, RuleEngine};
use super::rates::RatesView;
use super::rule::CompiledRule;
use crate::metrics::RuleMetrics;
use crate::ProcessorError;

pub const STAGE_NAME: &str = "rules";

/// How long a checkpoint waits for delivery to make the transitions it covers durable.
const HANDOFF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the stage writes into the checkpoint.
#[derive(serde::Serialize, serde::Deserialize)]
struct StageSnapshot {
    engine: EngineSnapshot,
    open: Vec<hub_model::Alert>,
}

pub struct RuleStage {
    engine: RuleEngine,
    eval: EvaluationConfig,
    rates: Arc<RatesView>,
    open: Arc<OpenAlerts>,
    transitions: Option<mpsc::Sender<AlertTransition>>,
    handoff: Option<Arc<TransitionHandoff>>,
    metrics: Option<RuleMetrics>,
    wants_checkpoint: Cell<bool>,
    last_gauges: Option<Instant>,
    /// Counters already exported: late, too old, failed rows, non-finite rows.
    reported: Vec<[u64; 4]>,
    /// `stats.outside_windows` already exported.
    reported_outside: [u64; 3],
}

impl RuleStage {
    pub fn new(
        rules: Vec<CompiledRule>,
        eval: EvaluationConfig,
        metrics: Option<RuleMetrics>,
    ) -> Self {
        let n = rules.len();
        RuleStage {
            engine: RuleEngine::new(rules, eval.allowed_lateness, eval.partition_idle_timeout)
                .with_ties(eval.ties),
            eval,
            rates: Arc::new(RatesView::default()),
            open: Arc::new(OpenAlerts::default()),
            transitions: None,
            handoff: None,
            metrics,
            wants_checkpoint: Cell::new(false),
            last_gauges: None,
            reported: vec![[0; 4]; n],
            reported_outside: [0; 3],
        }
    }

    /// Sends every transition into `tx` (blocking when it is full: backpressure).
    pub fn with_transitions(mut self, tx: mpsc::Sender<AlertTransition>) -> Self {
        self.transitions = Some(tx);
        self
    }

    /// Makes every checkpoint wait until delivery has made the transitions sent
    /// before it durable (ARCHITECTURE.md invariant 12).
    pub fn with_handoff(mut self, handoff: Arc<TransitionHandoff>) -> Self {
        self.handoff = Some(handoff);
        self
    }

    /// The `rates` table the SQL layer reads.
    pub fn rates(&self) -> Arc<RatesView> {
        self.rates.clone()
    }

    /// The alerts open now (`GET /api/v1/alerts`).
    pub fn open_alerts(&self) -> Arc<OpenAlerts> {
        self.open.clone()
    }

    pub fn engine(&self) -> &RuleEngine {
        &self.engine
    }

    /// One micro-batch (or idle tick): what the pipeline calls through [`StatefulStage`].
    pub fn process(
        &mut self,
        rows: &[(Table, RecordBatch)],
        tick: &Tick,
    ) -> Result<Vec<AlertTransition>, ProcessorError> {
        if let Some(parts) = &tick.partitions {
            self.engine.assigned(parts, tick.wall);
        }
        self.engine.observe(rows, tick.wall);
        self.engine.tick(tick.wall, tick.quiet_for.is_some());
        let idle = tick.quiet_for.is_some_and(|q| q >= self.eval.idle_timeout);
        if idle && !self.eval.idle_timeout.is_zero() {
            let step = i64::try_from(self.eval.idle_step.as_micros()).unwrap_or(i64::MAX);
            if self.engine.idle(tick.wall, step) {
                self.wants_checkpoint.set(true);
            }
        }
        let transitions = self.engine.take_transitions();
        let applied = self.engine.take_applied();
        self.rates.update(self.engine.take_changed_rates());
        self.open.apply(&transitions);
        if let Some(m) = &self.metrics {
            let now = Timestamp::now();
            for t in applied {
                m.evaluation_latency
                    .observe(((now.0 - t.0).max(0)) as f64 / 1e6);
            }
            for t in &transitions {
                m.alert_transitions
                    .with_label_values(&[t.alert.rule.as_str(), t.kind.as_str()])
                    .inc();
            }
        }
        self.update_gauges();
        if let Some(tx) = &self.transitions {
            for t in &transitions {
                if tx.blocking_send(t.clone()).is_err() {
                    // Delivery has stopped: going on would checkpoint past alerts no
                    // outbox holds. Stop instead; a restart re-derives them.
                    return Err(ProcessorError::DeliveryStopped);
                }
                if let Some(h) = &self.handoff {
                    h.sent(1);
                }
            }
        }
        Ok(transitions)
    }

    /// Gauges that need a pass over every group: at most once a second.
    fn update_gauges(&mut self) {
        let Some(m) = &self.metrics else { return };
        if self
            .last_gauges
            .is_some_and(|t| t.elapsed().as_secs_f64() < 1.0)
        {
            return;
        }
        self.last_gauges = Some(Instant::now());
        if let Some(w) = self.engine.watermark() {
            m.watermark.set(w.0 as f64 / 1e6);
        }
        m.pending_observations.set(self.engine.pending_len() as i64);
        let rules = self.engine.rules();
        for (i, rule) in rules.iter().enumerate() {
            m.rule_groups
                .with_label_values(&[rule.name.as_str()])
                .set(self.engine.groups(i) as i64);
            let stats = &self.engine.stats;
            let now = [
                stats.late[i],
                stats.too_old[i],
                stats.failed_rows[i],
                stats.non_finite[i],
            ];
            let before = self.reported[i];
            let name = rule.name.as_str();
            m.observations_late
                .with_label_values(&[name])
                .inc_by(now[0] - before[0]);
            m.observations_too_old
                .with_label_values(&[name])
                .inc_by(now[1] - before[1]);
            m.rows_skipped
                .with_label_values(&[name, "failed"])
                .inc_by(now[2] - before[2]);
            m.rows_skipped
                .with_label_values(&[name, "non_finite"])
                .inc_by(now[3] - before[3]);
            self.reported[i] = now;
        }
        for feed in hub_model::Feed::ALL {
            let (now, before) = (
                self.engine.stats.outside_windows[feed.index()],
                self.reported_outside[feed.index()],
            );
            m.events_outside_windows
                .with_label_values(&[feed.as_str()])
                .inc_by(now - before);
            self.reported_outside[feed.index()] = now;
        }
        m.alerts_open.reset();
        for ((rule, severity), n) in self.engine.open_alerts() {
            m.alerts_open
                .with_label_values(&[rule.as_str(), severity.as_str()])
                .set(n as i64);
        }
        // Pooled value per rate rule and province.
        let kinds: BTreeMap<&str, RuleKind> =
            rules.iter().map(|r| (r.name.as_str(), r.kind)).collect();
        let mut pooled: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
        self.rates.for_each(|r| {
            if kinds.get(r.rule.as_str()) != Some(&RuleKind::Rate) {
                return;
            }
            let region = r.region_code.get(..2).unwrap_or(&r.region_code).to_string();
            let is_region_group = r.group_key.starts_with("region_code=");
            if is_region_group && r.region_code.len() != 2 {
                return; // counties and cities: the province group carries the total
            }
            let e = pooled.entry((r.rule.clone(), region)).or_default();
            e.0 += r.numerator;
            e.1 += r.samples;
        });
        // Groups whose windows emptied drop out rather than keep a stale value.
        m.rule_value.reset();
        for ((rule, region), (num, den)) in pooled {
            if den > 0.0 {
                m.rule_value
                    .with_label_values(&[rule.as_str(), region.as_str()])
                    .set(num / den);
            }
        }
    }
}

/// The `alerts` rows of `transitions`, one batch per day of the transition instant.
pub fn alert_rows(transitions: &[AlertTransition]) -> Result<Vec<StageRows>, ProcessorError> {
    let mut by_day: BTreeMap<i32, AlertBuilder> = BTreeMap::new();
    for t in transitions {
        by_day.entry(t.at.epoch_day()).or_default().append(t);
    }
    by_day
        .into_iter()
        .map(|(day, mut b)| {
            Ok(StageRows {
                table: Table::Alerts,
                day,
                batch: b.finish().map_err(|e| match e {
                    ModelError::Arrow(source) => ProcessorError::Arrow {
                        table: "alerts",
                        source,
                    },
                    other => ProcessorError::config("alerts", other.to_string()),
                })?,
            })
        })
        .collect()
}

impl StatefulStage for RuleStage {
    fn name(&self) -> &'static str {
        STAGE_NAME
    }

    fn on_rows(
        &mut self,
        rows: &[(Table, RecordBatch)],
        tick: &Tick,
    ) -> Result<Vec<StageRows>, ModelError> {
        let transitions = self.process(rows, tick)?;
        Ok(alert_rows(&transitions)?)
    }

    fn wants_checkpoint(&self) -> bool {
        self.wants_checkpoint.get()
    }

    fn snapshot(&self) -> Result<Vec<u8>, ModelError> {
        if let Some(h) = &self.handoff {
            h.wait(HANDOFF_TIMEOUT)
                .map_err(|missing| ProcessorError::Handoff { missing })?;
        }
        self.wants_checkpoint.set(false);
        let snap = StageSnapshot {
            engine: self.engine.snapshot(),
            open: self.open.list(None),
        };
        postcard::to_allocvec(&snap).map_err(|source| {
            ProcessorError::Snapshot {
                stage: STAGE_NAME,
                source,
            }
            .into()
        })
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), ModelError> {
        let snap: StageSnapshot =
            postcard::from_bytes(snapshot).map_err(|source| ProcessorError::Snapshot {
                stage: STAGE_NAME,
                source,
            })?;
        self.engine.restore(snap.engine);
        // Alerts of rules removed from the config close with them.
        let names: std::collections::HashSet<&str> = self
            .engine
            .rules()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        let mut open = snap.open;
        open.retain(|a| names.contains(a.rule.split('.').next().unwrap_or(&a.rule)));
        self.open.replace_all(open);
        self.rates.replace_all(self.engine.all_rates());
        Ok(())
    }
}
