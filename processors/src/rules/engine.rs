//! The rule engine: observations in, alert transitions and changed rates out, all in
//! event time.
//!
//! How now advances (ARCHITECTURE.md has the long form):
//! - The watermark `W` is the newest event time every active partition has reached
//!   (see `clock.rs`) minus `allowed_lateness`, strictly before it; it never goes
//!   back. Observations newer than `W` wait in `pending`.
//! - When `W` advances, pending observations and group timers (a pane leaving a window,
//!   a hold elapsing, a reminder, a silence bar) are processed in event-time order:
//!   at each instant `t` the observations of `t` are applied, then every group they
//!   touched or whose timer is due is evaluated at `t`, in (rule, group) order. So the
//!   transitions depend only on the events' times, not on the order they arrived in,
//!   for any reordering within the allowed lateness.
//! - An observation at or behind `W` (late) is applied at once and its groups evaluated
//!   at `W`; one older than its rule's window changes nothing and is counted.
//! - Idle: the caller may flush (`W` := newest event seen) and move `W` with the wall
//!   clock, so windows age and silences are noticed when every feed is quiet.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::record_batch::RecordBatch;
use hub_model::alert::{AlertTransition, Severity};
use hub_model::schema::Table;
use hub_model::{Feed, Timestamp};
use serde::{Deserialize, Serialize};

use std::time::Duration;

use arrow::array::AsArray;
use arrow::datatypes::{Int32Type, Int64Type};

use super::alert_text::{self, Track};
use super::clock::{Frontier, PartitionClocks};
use super::config::{RuleKind, Ties};
use super::group::{GroupState, Reading};
use super::rates::RateRow;
use super::rule::CompiledRule;
use super::source::{event_times, Observation};

/// The latest version of one key (`latest_by` rules) and what it contributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestVersion {
    pub time: Timestamp,
    pub event_id: String,
    pub group: String,
    pub pane: i64,
    pub num: f64,
    pub den: f64,
    pub evidence: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    pub groups: HashMap<String, GroupState>,
    pub latest: HashMap<String, LatestVersion>,
    /// The pane width the state was built with (a config change drops the state).
    pub pane_width: Option<i64>,
    /// `latest` entries after its last pruning (it is pruned when it has doubled).
    #[serde(default)]
    pub latest_pruned_at: usize,
}

/// Counters the stage turns into metrics.
#[derive(Debug, Clone, Default)]
pub struct EngineStats {
    /// Per rule: observations older than the window (changed nothing).
    pub too_old: Vec<u64>,
    /// Per rule: observations applied behind the watermark.
    pub late: Vec<u64>,
    /// Per rule: versions older than the latest already seen (changed nothing).
    pub superseded: Vec<u64>,
    /// Per rule: rows whose expressions failed to evaluate (skipped for the rule).
    pub failed_rows: Vec<u64>,
    /// Per rule: rows whose numerator, denominator or value was NaN or infinite.
    pub non_finite: Vec<u64>,
    /// Per feed (`Feed::index`): events older than every window of their feed.
    pub outside_windows: [u64; 3],
}

/// Everything that goes into the checkpoint.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EngineSnapshot {
    pub watermark: Option<Timestamp>,
    pub clocks: PartitionClocks,
    pub rule_names: Vec<String>,
    pub rules: Vec<RuleState>,
    pub pending: BTreeMap<i64, Vec<Observation>>,
}

pub struct RuleEngine {
    rules: Vec<CompiledRule>,
    states: Vec<RuleState>,
    lateness: i64,
    ties: Ties,
    /// Microseconds of silence after which a partition stops holding the clock back.
    partition_idle: Option<i64>,
    watermark: Option<Timestamp>,
    clocks: PartitionClocks,
    pending: BTreeMap<i64, Vec<Observation>>,
    timers: BTreeSet<(i64, u16, String)>,
    /// Outputs since the last `take_*`.
    transitions: Vec<AlertTransition>,
    changed: BTreeSet<(u16, String)>,
    applied_ingested_at: Vec<Timestamp>,
    pub stats: EngineStats,
}

impl RuleEngine {
    /// `partition_idle`: zero means a partition never stops holding the clock back.
    pub fn new(
        rules: Vec<CompiledRule>,
        allowed_lateness: Duration,
        partition_idle: Duration,
    ) -> Self {
        let n = rules.len();
        RuleEngine {
            states: (0..n)
                .map(|i| RuleState {
                    pane_width: rules[i].grid.map(|g| g.width),
                    ..RuleState::default()
                })
                .collect(),
            rules,
            lateness: micros(allowed_lateness),
            ties: Ties::Wait,
            partition_idle: (!partition_idle.is_zero()).then(|| micros(partition_idle)),
            watermark: None,
            clocks: PartitionClocks::default(),
            pending: BTreeMap::new(),
            timers: BTreeSet::new(),
            transitions: Vec::new(),
            changed: BTreeSet::new(),
            applied_ingested_at: Vec::new(),
            stats: EngineStats {
                too_old: vec![0; n],
                late: vec![0; n],
                superseded: vec![0; n],
                failed_rows: vec![0; n],
                non_finite: vec![0; n],
                outside_windows: [0; 3],
            },
        }
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn watermark(&self) -> Option<Timestamp> {
        self.watermark
    }

    pub fn pending_len(&self) -> usize {
        self.pending.values().map(Vec::len).sum()
    }

    pub fn groups(&self, rule: usize) -> usize {
        self.states[rule].groups.len()
    }

    /// The longest window over the rules that read `table` (how far back an event can
    /// still change a rate), or `None` when no rate rule reads it.
    pub fn longest_window(&self, table: Table) -> Option<i64> {
        self.rules
            .iter()
            .filter(|r| r.sources.iter().any(|s| s.table == table))
            .filter_map(|r| r.grid.map(|g| g.width * (g.count + 1)))
            .max()
    }

    /// Reads the accepted rows of one micro-batch (Arrow batches of the feed tables),
    /// row by row in each partition's offset order, as if they had come one at a time
    /// (so micro-batch boundaries, and the split of a batch by table and day, change
    /// nothing): each row's observations wait in `pending` (or, behind the watermark,
    /// apply at once), then the row's event time moves its partition's clock and the
    /// watermark advances.
    ///
    /// A rule whose expression fails on a batch (e.g. a division by zero in an
    /// operator's rule) is retried row by row: only the failing rows are skipped for
    /// that rule, with an error log and a count; other rules and the pipeline go on.
    pub fn observe(&mut self, batches: &[(Table, RecordBatch)], wall: Timestamp) {
        struct Row<'a> {
            topic: &'a str,
            partition: i32,
            offset: i64,
            batch: u16,
            row: u32,
            time: Timestamp,
            feed: Feed,
            longest: Option<i64>,
        }
        let mut obs: Vec<Observation> = Vec::new();
        let mut rows: Vec<Row<'_>> = Vec::new();
        for (bi, (table, batch)) in batches.iter().enumerate() {
            let Some(feed) = Feed::ALL.into_iter().find(|f| Table::of_feed(*f) == *table) else {
                continue;
            };
            let bi = bi as u16;
            for (i, rule) in self.rules.iter().enumerate() {
                for source in rule.sources.iter().filter(|s| s.table == *table) {
                    let before = obs.len();
                    match source.observe(i as u16, batch, (bi, 0), &mut obs) {
                        Ok(skipped) => self.stats.non_finite[i] += skipped,
                        Err(e) => {
                            obs.truncate(before);
                            tracing::error!(rule = %rule.name, table = table.name(), error = %e, "a rule could not read a batch; retrying row by row");
                            for r in 0..batch.num_rows() {
                                match source.observe(
                                    i as u16,
                                    &batch.slice(r, 1),
                                    (bi, r as u32),
                                    &mut obs,
                                ) {
                                    Ok(skipped) => self.stats.non_finite[i] += skipped,
                                    Err(_) => self.stats.failed_rows[i] += 1,
                                }
                            }
                        }
                    }
                }
            }
            let times = event_times(feed, batch);
            let longest = self.longest_window(*table);
            let topics = batch
                .column_by_name("topic")
                .expect("feed rows have topic")
                .as_string::<i32>();
            let partitions = batch
                .column_by_name("partition")
                .expect("feed rows have partition")
                .as_primitive::<Int32Type>();
            let offsets = batch
                .column_by_name("offset")
                .expect("feed rows have offset")
                .as_primitive::<Int64Type>();
            for (r, time) in times.into_iter().enumerate() {
                rows.push(Row {
                    topic: topics.value(r),
                    partition: partitions.value(r),
                    offset: offsets.value(r),
                    batch: bi,
                    row: r as u32,
                    time,
                    feed,
                    longest,
                });
            }
        }
        rows.sort_by(|a, b| {
            (a.topic, a.partition, a.offset).cmp(&(b.topic, b.partition, b.offset))
        });
        obs.sort_by_key(|o| (o.batch, o.row, o.rule));
        // Where each row's observations are in `obs`.
        let mut ranges: HashMap<(u16, u32), std::ops::Range<usize>> = HashMap::new();
        for (i, o) in obs.iter().enumerate() {
            ranges.entry((o.batch, o.row)).or_insert(i..i).end = i + 1;
        }
        let mut obs: Vec<Option<Observation>> = obs.into_iter().map(Some).collect();
        for row in rows {
            // Older than every window of its feed: archived, changes no rate.
            if let (Some(w), Some(longest)) = (self.watermark, row.longest) {
                if row.time.0 < w.0 - longest {
                    self.stats.outside_windows[row.feed.index()] += 1;
                }
            }
            let mut late = Vec::new();
            let range = ranges.get(&(row.batch, row.row)).cloned().unwrap_or(0..0);
            for slot in &mut obs[range] {
                let o = slot.take().expect("each row is read once");
                match self.watermark {
                    Some(w) if o.time <= w => late.push(o),
                    _ => self.pending.entry(o.time.0).or_default().push(o),
                }
            }
            if !late.is_empty() {
                let w = self.watermark.expect("late observations imply a watermark");
                let mut touched = BTreeSet::new();
                for o in late {
                    self.stats.late[o.rule as usize] += 1;
                    self.apply(o, w, &mut touched);
                }
                self.evaluate_all(touched, w);
            }
            // Every accepted event moves its partition's clock, whether or not a rule
            // reads it.
            self.clocks.saw(row.topic, row.partition, row.time, wall);
            if self.ties == Ties::Wait {
                // Row by row, so micro-batch boundaries change nothing.
                self.advance(wall);
            }
        }
        if self.ties == Ties::Eager {
            // Once per micro-batch: ties within it are evaluated together.
            self.advance(wall);
        }
    }

    /// How instants with ties across partitions close (default here: `Wait`, exact).
    pub fn with_ties(mut self, ties: Ties) -> Self {
        self.ties = ties;
        self
    }

    /// The consumer's current assignment and backlog (see [`PartitionClocks::assigned`]).
    pub fn assigned(&mut self, partitions: &[hub_model::PartitionBacklog], wall: Timestamp) {
        self.clocks.assigned(partitions, wall);
    }

    /// Processing time passed with no rows: idle partitions may release the clock.
    /// `assigned`: the consumer holds partitions (quiet time counts only then).
    pub fn tick(&mut self, wall: Timestamp, assigned: bool) {
        if assigned {
            self.clocks.start_quiet_clocks(wall);
            self.advance(wall);
        } else {
            self.clocks.pause_quiet_clocks();
        }
    }

    /// Moves the watermark as far as the partitions allow: the slowest active
    /// partition's newest event minus the allowed lateness (with `Ties::Wait` strictly
    /// before it, so an event with the same timestamp still counts as on time), or
    /// everything seen when every partition is idle.
    fn advance(&mut self, wall: Timestamp) {
        let target = match self.clocks.frontier(wall, self.partition_idle) {
            None => return,
            Some(Frontier::Active(t)) => {
                let reached = t.0.saturating_sub(self.lateness);
                Timestamp(match self.ties {
                    Ties::Eager => reached,
                    Ties::Wait => reached.saturating_sub(1),
                })
            }
            Some(Frontier::AllIdle(t)) => t,
        };
        self.run_until(target);
    }

    /// The input is idle: process everything seen, and move the clock to `wall` when it
    /// is at least `step` ahead. Returns true when the wall clock moved the watermark.
    pub fn idle(&mut self, wall: Timestamp, step: i64) -> bool {
        if let Some(m) = self.clocks.newest() {
            self.run_until(m);
        }
        match self.watermark {
            Some(w) if wall.0 - w.0 >= step => {
                self.run_until(wall);
                true
            }
            _ => false,
        }
    }

    /// Processes pending observations and timers up to and including `target`.
    pub fn run_until(&mut self, target: Timestamp) {
        if self.watermark.is_some_and(|w| w >= target) {
            return;
        }
        loop {
            let next_obs = self.pending.keys().next().copied();
            let next_timer = self.timers.iter().next().map(|t| t.0);
            let next = match (next_obs, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if next > target.0 {
                break;
            }
            let at = Timestamp(next);
            self.watermark = Some(at);
            let mut touched = BTreeSet::new();
            if next_obs == Some(next) {
                let mut obs = self.pending.remove(&next).unwrap_or_default();
                obs.sort_by(|a, b| {
                    (a.rule, &a.event_id, &a.group).cmp(&(b.rule, &b.event_id, &b.group))
                });
                for o in obs {
                    self.apply(o, at, &mut touched);
                }
            }
            while let Some(t) = self.timers.first().filter(|t| t.0 == next).cloned() {
                self.timers.remove(&t);
                if let Some(g) = self.states[t.1 as usize].groups.get_mut(&t.2) {
                    g.timer = None;
                }
                touched.insert((t.1, t.2));
            }
            self.evaluate_all(touched, at);
        }
        self.watermark = Some(self.watermark.map_or(target, |w| w.max(target)));
    }

    fn apply(&mut self, o: Observation, at: Timestamp, touched: &mut BTreeSet<(u16, String)>) {
        let ri = o.rule as usize;
        let rule = &self.rules[ri];
        let state = &mut self.states[ri];
        self.applied_ingested_at.push(o.ingested_at);
        match rule.kind {
            RuleKind::Rate => {
                let grid = rule.grid.expect("rate rules have a grid");
                let first = grid.first_pane_at(at);
                let pane = grid.pane_of(o.time);
                if pane < first {
                    self.stats.too_old[ri] += 1;
                    return;
                }
                if rule.latest_by {
                    let key = o.latest_key.clone().unwrap_or_default();
                    if let Some(prev) = state.latest.get(&key) {
                        if (prev.time, prev.event_id.as_str()) >= (o.time, o.event_id.as_str()) {
                            self.stats.superseded[ri] += 1;
                            return;
                        }
                        let prev = prev.clone();
                        if let Some(g) = state.groups.get_mut(&prev.group) {
                            g.expire(rule, at);
                            if prev.pane >= first {
                                g.window.add(prev.pane, -prev.num, -prev.den);
                            }
                            if prev.evidence {
                                g.remove_evidence(&prev.event_id);
                            }
                            touched.insert((o.rule, prev.group.clone()));
                        }
                    }
                    if state.latest.len() >= 2 * state.latest_pruned_at + 1_024 {
                        // Versions whose pane has left the window can no longer be
                        // retracted from it, and anything older is too old anyway.
                        state.latest.retain(|_, v| v.pane >= first);
                        state.latest_pruned_at = state.latest.len();
                    }
                    state.latest.insert(
                        key,
                        LatestVersion {
                            time: o.time,
                            event_id: o.event_id.clone(),
                            group: o.group.clone(),
                            pane,
                            num: o.num,
                            den: o.den,
                            evidence: o.evidence,
                        },
                    );
                }
                let g = state
                    .groups
                    .entry(o.group.clone())
                    .or_insert_with(|| GroupState::new(&o.region, rule));
                g.region.clone_from(&o.region);
                g.window.add(pane, o.num, o.den);
                if o.evidence {
                    g.add_evidence(o.time, &o.event_id);
                }
                if let Some(t) = g.trend.as_mut() {
                    t.passes += o.num;
                    t.failures += (o.den - o.num).max(0.0);
                }
            }
            RuleKind::Silence => {
                let g = state
                    .groups
                    .entry(o.group.clone())
                    .or_insert_with(|| GroupState::new(&o.region, rule));
                g.region.clone_from(&o.region);
                if g.last_seen.is_none_or(|s| o.time >= s) {
                    g.last_seen = Some(o.time);
                    g.last_event = Some(o.event_id.clone());
                }
            }
            RuleKind::Throughput => {
                let g = state
                    .groups
                    .entry(o.group.clone())
                    .or_insert_with(|| GroupState::new(&o.region, rule));
                g.region.clone_from(&o.region);
                g.reports.push((o.event_id.clone(), o.value));
            }
        }
        touched.insert((o.rule, o.group));
    }

    fn evaluate_all(&mut self, touched: BTreeSet<(u16, String)>, at: Timestamp) {
        for (ri, group) in touched {
            self.evaluate(ri, &group, at);
            self.changed.insert((ri, group));
        }
    }

    /// Evaluates one group at `at`: its level, its lifecycle step(s), its next timer.
    fn evaluate(&mut self, ri: u16, group: &str, at: Timestamp) {
        let rule = &self.rules[ri as usize];
        let Some(g) = self.states[ri as usize].groups.get_mut(group) else {
            return;
        };
        g.evaluated_at = Some(at);
        let mut next: Option<i64> = None;
        let mut sooner = |t: Option<Timestamp>| {
            if let Some(t) = t.filter(|t| *t > at) {
                next = Some(next.map_or(t.0, |n| n.min(t.0)));
            }
        };
        let (reading, level) = match rule.kind {
            RuleKind::Rate => {
                g.expire(rule, at);
                let reading = g.rate_reading(rule, at);
                // Hysteresis holds a firing alert; a pending one clears at once.
                let level =
                    rule.bars
                        .level(reading.value, reading.samples, g.alert.firing_severity());
                if let Some(oldest) = g.window.oldest_pane() {
                    sooner(Some(rule.grid.expect("grid").expiry_of(oldest)));
                }
                (reading, level)
            }
            RuleKind::Silence => {
                sooner(g.silence_deadline(rule, at));
                (g.silence_reading(at), g.silence_level(rule, at))
            }
            RuleKind::Throughput => {
                let mut reports = std::mem::take(&mut g.reports);
                reports.sort_by(|a, b| a.0.cmp(&b.0));
                for (event_id, value) in reports {
                    let before = g.baseline;
                    let z = before.z(value, alert_text::THROUGHPUT_SIGMA_FLOOR);
                    g.baseline.update(value, rule.baseline_alpha);
                    g.last_report = Some((value, z, before));
                    g.last_event = Some(event_id);
                }
                let (Some(reading), Some((_, z, before))) = (g.throughput_reading(), g.last_report)
                else {
                    return;
                };
                let level = (before.observations as f64 >= rule.bars.min_samples)
                    .then(|| throughput_level(rule, z, g.alert.firing_severity()))
                    .flatten();
                (reading, level)
            }
        };
        if let Some(step) = g.alert.step(level, at, &rule.policy) {
            self.transitions.push(alert_text::transition(
                rule,
                Track::Bars,
                group,
                g,
                &reading,
                &step,
                at,
            ));
        }
        sooner(g.alert.deadline(&rule.policy));
        let bars_severity = g.alert.severity();
        let mut trend_step = None;
        if let (Some(params), Some(trend)) = (rule.cusum.as_ref(), g.trend.as_mut()) {
            if trend.passes > 0.0 || trend.failures > 0.0 {
                trend.cusum.observe(params, trend.passes, trend.failures);
                trend.passes = 0.0;
                trend.failures = 0.0;
            }
            // Early warning: drifting toward the floor, not yet past it.
            let ew = (trend.cusum.alarmed && bars_severity != Some(Severity::Critical))
                .then_some(Severity::EarlyWarning);
            trend_step = trend.alert.step(ew, at, &rule.policy);
            sooner(trend.alert.deadline(&rule.policy));
        }
        if let Some(step) = trend_step {
            self.transitions.push(alert_text::transition(
                rule,
                Track::Trend,
                group,
                g,
                &reading,
                &step,
                at,
            ));
        }
        let next = next.map(Timestamp);
        if g.timer != next {
            if let Some(old) = g.timer {
                self.timers.remove(&(old.0, ri, group.to_string()));
            }
            if let Some(t) = next {
                self.timers.insert((t.0, ri, group.to_string()));
            }
            g.timer = next;
        }
    }

    /// The transitions made since the last call, in the order they happened.
    pub fn take_transitions(&mut self) -> Vec<AlertTransition> {
        std::mem::take(&mut self.transitions)
    }

    /// When the rows applied since the last call were taken in (for latency).
    pub fn take_applied(&mut self) -> Vec<Timestamp> {
        std::mem::take(&mut self.applied_ingested_at)
    }

    /// The `rates` rows of the groups evaluated since the last call.
    pub fn take_changed_rates(&mut self) -> Vec<RateRow> {
        let changed = std::mem::take(&mut self.changed);
        changed
            .into_iter()
            .filter_map(|(ri, group)| self.rate_row(ri as usize, &group))
            .collect()
    }

    /// Every group's `rates` row.
    pub fn all_rates(&self) -> Vec<RateRow> {
        let mut rows = Vec::new();
        for (ri, state) in self.states.iter().enumerate() {
            for group in state.groups.keys() {
                rows.extend(self.rate_row(ri, group));
            }
        }
        rows
    }

    fn rate_row(&self, ri: usize, group: &str) -> Option<RateRow> {
        let rule = &self.rules[ri];
        let g = self.states[ri].groups.get(group)?;
        let at = g.evaluated_at?;
        let reading: Reading = match rule.kind {
            RuleKind::Rate => g.rate_reading(rule, at),
            RuleKind::Silence => g.silence_reading(at),
            RuleKind::Throughput => g.throughput_reading()?,
        };
        let value = reading.value.is_finite().then_some(reading.value);
        let severity = g.alert.severity();
        let threshold =
            alert_text::threshold(rule, Track::Bars, g, severity.unwrap_or(Severity::Warning));
        let (warning, critical) = match rule.kind {
            RuleKind::Silence => {
                let (w, c) = rule.silence_after.unwrap_or_default();
                (w as f64 / 1e6, (c != i64::MAX).then_some(c as f64 / 1e6))
            }
            _ => (rule.bars.warning, rule.bars.critical),
        };
        Some(RateRow {
            rule: rule.name.clone(),
            group_key: group.to_string(),
            region_code: g.region.clone(),
            metric: rule.metric.clone(),
            comparison: reading.comparison.as_str(),
            value,
            numerator: reading.numerator,
            samples: reading.samples,
            interval: reading.interval.map(|i| (i.low, i.high)),
            clear_breach: rule.kind == RuleKind::Rate
                && severity.is_some()
                && super::group::clear_breach(&reading, threshold),
            warning,
            critical,
            state: match g.alert.open {
                None => "ok",
                Some(o) if o.fired_at.is_none() => "pending",
                Some(_) => "firing",
            },
            severity: severity.map(|s| s.as_str()),
            trend_statistic: g.trend.as_ref().map(|t| t.cusum.statistic),
            early_warning: g.trend.as_ref().is_some_and(|t| t.alert.is_firing()),
            window_length: reading.window.as_ref().map(|w| w.length.clone()),
            window_start: reading.window.as_ref().map(|w| w.start),
            window_end: reading.window.as_ref().map(|w| w.end),
            evaluated_at: at,
            last_seen: g.last_seen,
            baseline: (rule.kind == RuleKind::Throughput).then_some(g.baseline.mean),
        })
    }

    /// Open alerts by (rule, severity), early warnings under `<rule>.early_warning`.
    pub fn open_alerts(&self) -> BTreeMap<(String, Severity), u64> {
        let mut open = BTreeMap::new();
        for (rule, state) in self.rules.iter().zip(&self.states) {
            for g in state.groups.values() {
                if let Some(o) = g.alert.open.filter(|o| o.fired_at.is_some()) {
                    *open.entry((rule.name.clone(), o.severity)).or_default() += 1;
                }
                if let Some(o) = g
                    .trend
                    .as_ref()
                    .and_then(|t| t.alert.open)
                    .filter(|o| o.fired_at.is_some())
                {
                    *open
                        .entry((alert_text::alert_rule(rule, Track::Trend), o.severity))
                        .or_default() += 1;
                }
            }
        }
        open
    }

    pub fn snapshot(&self) -> EngineSnapshot {
        EngineSnapshot {
            watermark: self.watermark,
            clocks: self.clocks.clone(),
            rule_names: self.rules.iter().map(|r| r.name.clone()).collect(),
            rules: self.states.clone(),
            pending: self.pending.clone(),
        }
    }

    /// Restores a snapshot. State of rules no longer configured, or whose pane width
    /// changed, is dropped (with a log line): those rules start empty.
    pub fn restore(&mut self, snap: EngineSnapshot) {
        self.watermark = snap.watermark;
        self.clocks = snap.clocks;
        let index: HashMap<&str, usize> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.as_str(), i))
            .collect();
        // Pending observations follow their rule by name even when its state is dropped:
        // the offsets are already past them.
        let mut remap: Vec<Option<u16>> = Vec::new();
        for (name, mut state) in snap.rule_names.iter().zip(snap.rules) {
            let Some(&i) = index.get(name.as_str()) else {
                tracing::warn!(rule = %name, "rule no longer configured: its state is dropped");
                remap.push(None);
                continue;
            };
            remap.push(Some(i as u16));
            let rule = &self.rules[i];
            if state.pane_width != rule.grid.map(|g| g.width) {
                tracing::warn!(rule = %name, "rule pane width changed: its state starts empty");
                continue;
            }
            // Early warning turned on or off since the checkpoint.
            for g in state.groups.values_mut() {
                match (rule.cusum.is_some(), g.trend.is_some()) {
                    (true, false) => g.trend = Some(Default::default()),
                    (false, true) => g.trend = None,
                    _ => {}
                }
            }
            self.states[i] = state;
        }
        self.pending.clear();
        for (t, obs) in snap.pending {
            for mut o in obs {
                if let Some(Some(i)) = remap.get(o.rule as usize) {
                    o.rule = *i;
                    self.pending.entry(t).or_default().push(o);
                }
            }
        }
        self.timers.clear();
        for (ri, state) in self.states.iter().enumerate() {
            for (group, g) in &state.groups {
                if let Some(t) = g.timer {
                    self.timers.insert((t.0, ri as u16, group.clone()));
                }
            }
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn throughput_level(rule: &CompiledRule, z: f64, open: Option<Severity>) -> Option<Severity> {
    let a = z.abs();
    // One standard deviation of hysteresis: an open alert holds until |z| < bar − 1.
    let held = |bar: f64, sev: Severity| open.is_some_and(|o| o >= sev) && a >= bar - 1.0;
    if let Some(c) = rule.bars.critical {
        if a >= c || held(c, Severity::Critical) {
            return Some(Severity::Critical);
        }
    }
    let w = rule.bars.warning;
    (a >= w || held(w, Severity::Warning)).then_some(Severity::Warning)
}
