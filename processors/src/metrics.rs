//! Metric names of the processors, in one place.

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::ProcessorError;

pub const DECLARATIONS_TRACKED: &str = "hub_export_declarations_tracked";
pub const DECLARATION_VERSIONS: &str = "hub_export_declaration_versions_total";

#[derive(Clone)]
pub struct ProcessorMetrics {
    /// Declarations whose latest version the ledger knows.
    pub declarations_tracked: IntGauge,
    /// Versions by outcome: `latest` (became the latest), `superseded` (arrived after a
    /// later version: kept in the archive, not the latest).
    pub declaration_versions: IntCounterVec,
}

impl ProcessorMetrics {
    pub fn new(registry: &Registry) -> Result<Self, ProcessorError> {
        let m = ProcessorMetrics {
            declarations_tracked: IntGauge::new(
                DECLARATIONS_TRACKED,
                "Export declarations whose latest version the hub tracks.",
            )
            .map_err(|source| ProcessorError::Metric { name: DECLARATIONS_TRACKED, source })?,
            declaration_versions: IntCounterVec::new(
                Opts::new(
                    DECLARATION_VERSIONS,
                    "Export declaration versions by outcome: latest, or superseded (older than the version already seen).",
                ),
                &["outcome"],
            )
            .map_err(|source| ProcessorError::Metric { name: DECLARATION_VERSIONS, source })?,
        };
        registry
            .register(Box::new(m.declarations_tracked.clone()))
            .map_err(|source| ProcessorError::Metric {
                name: DECLARATIONS_TRACKED,
                source,
            })?;
        registry
            .register(Box::new(m.declaration_versions.clone()))
            .map_err(|source| ProcessorError::Metric {
                name: DECLARATION_VERSIONS,
                source,
            })?;
        Ok(m)
    }
}

pub const RULE_VALUE: &str = "hub_rule_value";
pub const RULE_GROUPS: &str = "hub_rule_groups";
pub const ALERTS_OPEN: &str = "hub_alerts_open";
pub const ALERT_TRANSITIONS: &str = "hub_alert_transitions_total";
pub const EVALUATION_LATENCY: &str = "hub_rule_evaluation_latency_seconds";
pub const EVENTS_OUTSIDE_WINDOWS: &str = "hub_events_outside_windows_total";
pub const OBSERVATIONS_LATE: &str = "hub_rule_observations_late_total";
pub const OBSERVATIONS_TOO_OLD: &str = "hub_rule_observations_too_old_total";
pub const WATERMARK: &str = "hub_watermark_timestamp_seconds";
pub const ROWS_SKIPPED: &str = "hub_rule_rows_skipped_total";
pub const PENDING_OBSERVATIONS: &str = "hub_rule_pending_observations";

/// Metrics of the rule engine. Labels stay bounded: rule names come from the config,
/// regions are provinces (2-digit codes), never markets, plants or enterprises.
#[derive(Clone)]
pub struct RuleMetrics {
    /// Per rule and province: the pooled value (numerator / samples over every group of
    /// the province; for region rules, the province's own group). Ratio 0–1.
    pub rule_value: GaugeVec,
    pub rule_groups: IntGaugeVec,
    /// Firing alerts by rule and severity (early warnings under `<rule>.early_warning`).
    pub alerts_open: IntGaugeVec,
    pub alert_transitions: IntCounterVec,
    /// Event taken in (ingested_at) → its rates updated.
    pub evaluation_latency: Histogram,
    pub events_outside_windows: IntCounterVec,
    pub observations_late: IntCounterVec,
    pub observations_too_old: IntCounterVec,
    /// Rows a rule skipped: its expression failed on them, or gave NaN / infinity.
    pub rows_skipped: IntCounterVec,
    pub watermark: Gauge,
    pub pending_observations: IntGauge,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    name: &'static str,
    c: Result<C, prometheus::Error>,
) -> Result<C, ProcessorError> {
    let c = c.map_err(|source| ProcessorError::Metric { name, source })?;
    registry
        .register(Box::new(c.clone()))
        .map_err(|source| ProcessorError::Metric { name, source })?;
    Ok(c)
}

impl RuleMetrics {
    pub fn new(registry: &Registry) -> Result<Self, ProcessorError> {
        let r = registry;
        Ok(RuleMetrics {
            rule_value: register(r, RULE_VALUE, GaugeVec::new(Opts::new(RULE_VALUE, "Current value of each rate rule per province, pooled over the province's groups (ratio 0-1)."), &["rule", "region"]))?,
            rule_groups: register(r, RULE_GROUPS, IntGaugeVec::new(Opts::new(RULE_GROUPS, "Groups (markets, plants, regions, …) each rule tracks."), &["rule"]))?,
            alerts_open: register(r, ALERTS_OPEN, IntGaugeVec::new(Opts::new(ALERTS_OPEN, "Firing alerts by rule and severity."), &["rule", "severity"]))?,
            alert_transitions: register(r, ALERT_TRANSITIONS, IntCounterVec::new(Opts::new(ALERT_TRANSITIONS, "Alert transitions by rule and kind (pending, firing, severity_changed, reminder, resolved)."), &["rule", "kind"]))?,
            evaluation_latency: register(r, EVALUATION_LATENCY, Histogram::with_opts(HistogramOpts::new(EVALUATION_LATENCY, "From an event's arrival at the hub to its rates being updated.").buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])))?,
            events_outside_windows: register(r, EVENTS_OUTSIDE_WINDOWS, IntCounterVec::new(Opts::new(EVENTS_OUTSIDE_WINDOWS, "Accepted events older than every window of their feed: archived, but they change no rate."), &["feed"]))?,
            observations_late: register(r, OBSERVATIONS_LATE, IntCounterVec::new(Opts::new(OBSERVATIONS_LATE, "Observations that arrived behind the watermark (applied at the watermark)."), &["rule"]))?,
            observations_too_old: register(r, OBSERVATIONS_TOO_OLD, IntCounterVec::new(Opts::new(OBSERVATIONS_TOO_OLD, "Observations older than their rule's window (no effect)."), &["rule"]))?,
            rows_skipped: register(r, ROWS_SKIPPED, IntCounterVec::new(Opts::new(ROWS_SKIPPED, "Rows a rule skipped: reason failed (its expression failed on the row) or non_finite (NaN or infinity)."), &["rule", "reason"]))?,
            watermark: register(r, WATERMARK, Gauge::new(WATERMARK, "The rule engine's event-time clock (Unix seconds)."))?,
            pending_observations: register(r, PENDING_OBSERVATIONS, IntGauge::new(PENDING_OBSERVATIONS, "Observations waiting for the watermark (allowed lateness)."))?,
        })
    }
}
