//! Rules as configuration: `[rules.<name>]` tables (defaults in `defaults.toml`) and the
//! `[evaluation]` section (how event time advances). Checked at start-up; every error
//! names the rule and the field.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use hub_model::alert::Comparison;
use hub_model::region::RegionLevel;
use hub_model::Feed;
use serde::{Deserialize, Serialize};

use crate::ProcessorError;

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// `sum(numerator) / sum(denominator)` over a trailing window, per group.
    #[default]
    Rate,
    /// Time since a group last reported (event time).
    Silence,
    /// A value per report against the group's own EWMA baseline, in standard deviations.
    Throughput,
}

/// A region level, as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province,
    City,
    County,
}

impl Level {
    pub fn region_level(self) -> RegionLevel {
        match self {
            Level::Province => RegionLevel::Province,
            Level::City => RegionLevel::City,
            Level::County => RegionLevel::County,
        }
    }
}

/// Where a rule reads its observations: one feed, grouped, with SQL expressions over
/// the feed table's columns (`kiosk_results`, … as in the SQL catalog).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub feed: Feed,
    /// Columns that identify a group (e.g. `["market_id"]`).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Group by the `region_code` prefix at these levels instead (one group per level).
    #[serde(default)]
    pub region_levels: Vec<Level>,
    /// Rows for which this is not true are ignored.
    #[serde(default)]
    pub filter: Option<String>,
    /// Rate rules: the numerator and denominator per row (booleans count as 0/1).
    #[serde(default)]
    pub numerator: Option<String>,
    #[serde(default)]
    pub denominator: Option<String>,
    /// Rows whose `event_id` is evidence (a failing test, a positive report).
    #[serde(default)]
    pub evidence: Option<String>,
    /// Throughput rules: the value per row.
    #[serde(default)]
    pub value: Option<String>,
    /// Only the latest version per this column counts (by event time, then `event_id`);
    /// a later version retracts the earlier one's contribution.
    #[serde(default)]
    pub latest_by: Option<String>,
}

/// One rule. Fields a kind does not use must be left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub kind: RuleKind,
    #[serde(default)]
    pub description: String,
    /// The metric's name in alerts (e.g. `pass_rate`).
    pub metric: String,
    /// The alert recipient; defaults to the lead agency of the first source's feed.
    #[serde(default)]
    pub agency: Option<String>,
    /// Rate rules: the trailing event-time window.
    #[serde(default, with = "humantime_serde")]
    pub window: Option<Duration>,
    /// Rate rules: the pane width; defaults to window / 96. Must divide the window.
    #[serde(default, with = "humantime_serde")]
    pub pane: Option<Duration>,
    #[serde(default = "below")]
    pub comparison: Comparison,
    /// Rate rules: the bars (ratios 0–1). Throughput rules: standard deviations.
    #[serde(default)]
    pub warning: Option<f64>,
    #[serde(default)]
    pub critical: Option<f64>,
    /// No alert below this many samples (the denominator's sum); throughput rules:
    /// reports of history before the baseline is trusted.
    #[serde(default = "one")]
    pub min_samples: f64,
    /// The critical bar needs at least this many samples (defaults to `min_samples`).
    #[serde(default)]
    pub critical_min_samples: Option<f64>,
    /// A breach must last this long (event time) before it fires: pending until then.
    #[serde(default, with = "humantime_serde")]
    pub hold: Option<Duration>,
    /// An open alert clears only once the value is this far back past the bar.
    #[serde(default = "default_hysteresis")]
    pub hysteresis: f64,
    /// Re-notify a firing alert this often (event time); `0s` turns reminders off.
    #[serde(default = "default_reminder", with = "humantime_serde")]
    pub reminder: Duration,
    /// Rate rules with `comparison = "below"`: run the CUSUM trend detector.
    #[serde(default)]
    pub early_warning: bool,
    /// The CUSUM decision limit `h` (see BENCHMARKS.md for its calibration).
    #[serde(default = "default_cusum_limit")]
    pub early_warning_limit: f64,
    /// Trials of history behind a group's baseline failure rate (and the warm-up
    /// before its first early warning).
    #[serde(default = "default_cusum_memory")]
    pub early_warning_memory: f64,
    /// Silence rules: the bars as durations.
    #[serde(default, with = "humantime_serde")]
    pub warning_after: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub critical_after: Option<Duration>,
    /// Throughput rules: the EWMA weight of a new report.
    #[serde(default = "default_alpha")]
    pub baseline_alpha: f64,
    #[serde(default)]
    pub source: Vec<SourceSpec>,
}

fn yes() -> bool {
    true
}
fn below() -> Comparison {
    Comparison::Below
}
fn one() -> f64 {
    1.0
}
fn default_hysteresis() -> f64 {
    0.01
}
fn default_reminder() -> Duration {
    Duration::from_secs(4 * 3600)
}
/// Calibrated in BENCHMARKS.md ("early warning").
pub const DEFAULT_CUSUM_LIMIT: f64 = 5.5;
fn default_cusum_limit() -> f64 {
    DEFAULT_CUSUM_LIMIT
}
/// Calibrated in BENCHMARKS.md ("early warning").
pub const DEFAULT_CUSUM_MEMORY: f64 = 1_000.0;
fn default_cusum_memory() -> f64 {
    DEFAULT_CUSUM_MEMORY
}
fn default_alpha() -> f64 {
    0.1
}

/// How event time advances (ARCHITECTURE.md, "How now advances").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationConfig {
    /// Events are applied in event-time order once the watermark (the newest event time
    /// seen, minus this) has passed them; up to this much reordering gives results
    /// independent of arrival order. Alerts wait this long.
    #[serde(with = "humantime_serde")]
    pub allowed_lateness: Duration,
    /// A partition that delivers nothing for this long (processing time) stops holding
    /// the watermark back; the watermark follows the slowest active partition. Alerts
    /// can wait this long for a quiet partition. `0s`: never (replays then give the same
    /// results whatever the order partitions are read in, but one quiet partition holds
    /// every alert back).
    #[serde(with = "humantime_serde")]
    pub partition_idle_timeout: Duration,
    /// With partitions assigned but no message for this long, the watermark catches up
    /// with the newest event seen, and then moves with the wall clock (so windows age
    /// and silent kiosks are noticed when every feed is quiet). `0s` turns it off.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// While idle, the wall clock moves the watermark in steps of this size; each step
    /// is checkpointed at once so a replay never has to re-derive it.
    #[serde(with = "humantime_serde")]
    pub idle_step: Duration,
    /// When an instant is evaluated: `eager` once every active partition has reached
    /// it, `wait` once every one has moved past it. See [`Ties`].
    pub ties: Ties,
    /// Capacity of the channel that carries alert transitions to delivery.
    pub transition_queue: usize,
}

/// Events with the same timestamp on different partitions ("ties"): feeds stamped to
/// the second have thousands per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    /// Evaluate an instant as soon as every active partition has reached it; an event
    /// with that same timestamp arriving later (in a later micro-batch) is applied then
    /// and its groups evaluated again at that instant. Alerts follow within the
    /// pipeline's latency; a replay may split ties differently from the live run.
    #[default]
    Eager,
    /// Evaluate an instant only once every active partition has moved past it, so ties
    /// are evaluated together whatever the arrival order (replays give identical
    /// transitions), at the cost of up to one timestamp granule of latency (1 s for
    /// feeds stamped to the second).
    Wait,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        EvaluationConfig {
            allowed_lateness: Duration::ZERO,
            partition_idle_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(5),
            idle_step: Duration::from_secs(60),
            ties: Ties::Eager,
            transition_queue: 10_000,
        }
    }
}

impl EvaluationConfig {
    pub fn validate(&self) -> Result<(), ProcessorError> {
        if self.allowed_lateness > Duration::from_secs(24 * 3600) {
            return Err(ProcessorError::config(
                "evaluation.allowed_lateness",
                "must be at most 24h (alerts wait this long)",
            ));
        }
        if !self.idle_timeout.is_zero() && self.idle_step < Duration::from_secs(1) {
            return Err(ProcessorError::config(
                "evaluation.idle_step",
                "must be at least 1s",
            ));
        }
        if self.transition_queue == 0 {
            return Err(ProcessorError::config(
                "evaluation.transition_queue",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// The built-in rules.
pub fn default_rules() -> BTreeMap<String, RuleSpec> {
    static RULES: OnceLock<BTreeMap<String, RuleSpec>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            toml::from_str(include_str!("defaults.toml"))
                .unwrap_or_else(|e| panic!("the built-in rules do not parse: {e}"))
        })
        .clone()
}

/// `24h`, `7d`, `90m`: the way the contract writes window lengths.
pub fn format_length(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) && s / 86_400 > 1 {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3_600) && s > 0 {
        format!("{}h", s / 3_600)
    } else if s.is_multiple_of(60) && s > 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_rules_parse_and_cover_the_contract() {
        let rules = default_rules();
        for name in [
            "kiosk_pass_rate",
            "kiosk_region_pass_rate",
            "beta_agonist_positive_rate",
            "designated_slaughter_share",
            "quarantine_pass_rate",
            "export_inspection_pass_rate",
            "export_batch_marking_rate",
            "feed_silence",
        ] {
            assert!(rules.contains_key(name), "{name} missing");
        }
        let k = &rules["kiosk_pass_rate"];
        assert_eq!(k.window, Some(Duration::from_secs(86_400)));
        assert_eq!(
            (k.warning, k.critical, k.min_samples),
            (Some(0.95), Some(0.85), 20.0)
        );
        let b = &rules["beta_agonist_positive_rate"];
        assert_eq!(b.comparison, Comparison::Above);
        assert_eq!(b.source.len(), 2);
        assert_eq!(b.critical_min_samples, Some(200.0));
    }

    #[test]
    fn lengths_read_like_the_contract() {
        assert_eq!(format_length(Duration::from_secs(86_400)), "24h");
        assert_eq!(format_length(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(format_length(Duration::from_secs(30 * 86_400)), "30d");
        assert_eq!(format_length(Duration::from_secs(900)), "15m");
    }

    #[test]
    fn unknown_rule_fields_are_refused() {
        let e = toml::from_str::<RuleSpec>("metric = \"x\"\nwarnig = 0.9\n").unwrap_err();
        assert!(e.to_string().contains("warnig"), "{e}");
    }
}
