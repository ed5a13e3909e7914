//! The state of one rule × group, and how an evaluation at an event-time instant reads
//! it: the rate and its interval, the silence, or the throughput against its baseline.

use std::collections::VecDeque;

use hub_model::alert::{Comparison, Interval, Severity, WindowSpan};
use hub_model::Timestamp;
use serde::{Deserialize, Serialize};

use super::baseline::Baseline;
use super::lifecycle::Lifecycle;
use super::rule::CompiledRule;
use super::trend::Cusum;
use super::wilson::wilson_95;
use super::window::PaneWindow;

/// Evidence kept per group (the contract's cap).
pub const MAX_EVIDENCE: usize = 20;

/// The early-warning side of a group: the CUSUM and its own alert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendState {
    pub cusum: Cusum,
    /// Passes and failures applied since the last evaluation: folded into the CUSUM in
    /// one step per instant, so the order of same-instant events does not matter.
    pub passes: f64,
    pub failures: f64,
    pub alert: Lifecycle,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    pub region: String,
    /// Rate rules.
    pub window: PaneWindow,
    /// Failing event ids in the window (time, id), newest last.
    pub evidence: VecDeque<(Timestamp, String)>,
    pub alert: Lifecycle,
    pub trend: Option<TrendState>,
    /// Silence rules: the newest report.
    pub last_seen: Option<Timestamp>,
    pub last_event: Option<String>,
    /// Throughput rules.
    pub baseline: Baseline,
    /// Throughput reports applied since the last evaluation (event id, value).
    pub reports: Vec<(String, f64)>,
    /// The last throughput report evaluated: value, z, the baseline before it.
    pub last_report: Option<(f64, f64, Baseline)>,
    /// The last evaluation.
    pub evaluated_at: Option<Timestamp>,
    /// The one timer scheduled for this group.
    pub timer: Option<Timestamp>,
}

/// What an evaluation found, in the alert's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub value: f64,
    pub numerator: f64,
    pub samples: f64,
    pub interval: Option<Interval>,
    pub comparison: Comparison,
    pub window: Option<WindowSpan>,
}

impl GroupState {
    pub fn new(region: &str, rule: &CompiledRule) -> Self {
        GroupState {
            region: region.to_string(),
            trend: rule.cusum.map(|_| TrendState::default()),
            ..GroupState::default()
        }
    }

    /// Drops panes and evidence that have left the window at `at`.
    pub fn expire(&mut self, rule: &CompiledRule, at: Timestamp) {
        if let Some(grid) = rule.grid {
            let first = grid.first_pane_at(at);
            self.window.expire_before(first);
            let start = grid.pane_start(first);
            while self.evidence.front().is_some_and(|(t, _)| *t < start) {
                self.evidence.pop_front();
            }
        }
    }

    pub fn add_evidence(&mut self, at: Timestamp, event_id: &str) {
        // Newest last, by event time; a late event goes in its place.
        let i = self
            .evidence
            .partition_point(|(t, id)| (*t, id.as_str()) <= (at, event_id));
        self.evidence.insert(i, (at, event_id.to_string()));
        while self.evidence.len() > MAX_EVIDENCE {
            self.evidence.pop_front();
        }
    }

    pub fn remove_evidence(&mut self, event_id: &str) {
        self.evidence.retain(|(_, id)| id != event_id);
    }

    /// The rate rule's reading at `at` (after [`GroupState::expire`]).
    pub fn rate_reading(&self, rule: &CompiledRule, at: Timestamp) -> Reading {
        let (num, den) = (self.window.num(), self.window.den());
        let grid = rule.grid.expect("rate rules have a pane grid");
        Reading {
            value: if den > 0.0 { num / den } else { f64::NAN },
            numerator: num,
            samples: den,
            interval: wilson_95(num, den),
            comparison: rule.bars.comparison,
            window: Some(WindowSpan {
                length: rule.window_length.clone().unwrap_or_default(),
                start: grid.pane_start(grid.first_pane_at(at)),
                end: at,
            }),
        }
    }

    /// Seconds since the last report, at `at`.
    pub fn silence_reading(&self, at: Timestamp) -> Reading {
        let since = self
            .last_seen
            .map_or(0.0, |t| (at.0 - t.0).max(0) as f64 / 1e6);
        Reading {
            value: since,
            numerator: 0.0,
            samples: 0.0,
            interval: None,
            comparison: Comparison::Above,
            window: None,
        }
    }

    pub fn silence_level(&self, rule: &CompiledRule, at: Timestamp) -> Option<Severity> {
        let (warn, crit) = rule.silence_after?;
        let since = at.0 - self.last_seen?.0;
        if since >= crit {
            Some(Severity::Critical)
        } else if since >= warn {
            Some(Severity::Warning)
        } else {
            None
        }
    }

    /// The next instant at which the silence crosses a bar.
    pub fn silence_deadline(&self, rule: &CompiledRule, at: Timestamp) -> Option<Timestamp> {
        let (warn, crit) = rule.silence_after?;
        let seen = self.last_seen?.0;
        [seen.saturating_add(warn), seen.saturating_add(crit)]
            .into_iter()
            .find(|t| *t > at.0)
            .map(Timestamp)
    }

    pub fn throughput_reading(&self) -> Option<Reading> {
        let (value, z, _) = self.last_report?;
        Some(Reading {
            value,
            numerator: z,
            samples: self.baseline.observations as f64,
            interval: None,
            comparison: if z < 0.0 {
                Comparison::Below
            } else {
                Comparison::Above
            },
            window: None,
        })
    }
}

/// The clear-breach test: the interval lies wholly on the bad side of `threshold`.
pub fn clear_breach(reading: &Reading, threshold: f64) -> bool {
    reading.interval.is_some_and(|i| match reading.comparison {
        Comparison::Below => i.high < threshold,
        Comparison::Above => i.low > threshold,
    })
}
