//! Turns a lifecycle step into the contract's alert: identity, group, evidence and a
//! one-line summary a duty officer can act on.

use hub_model::figures::{bar_pct, duration, pct};
use std::collections::BTreeMap;

use hub_model::alert::{Alert, AlertState, AlertTransition, Comparison, Severity, TransitionKind};
use hub_model::Timestamp;

use super::config::RuleKind;
use super::group::{clear_breach, GroupState, Reading};
use super::lifecycle::Step;
use super::rule::CompiledRule;

/// Which alert of a group: the rule's own, or its early warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Bars,
    Trend,
}

/// The rule name an alert carries: `<rule>` or `<rule>.early_warning`.
pub fn alert_rule(rule: &CompiledRule, track: Track) -> String {
    match track {
        Track::Bars => rule.name.clone(),
        Track::Trend => format!("{}.early_warning", rule.name),
    }
}

pub fn group_map(group_key: &str, region: &str) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = group_key
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.entry("region_code".into())
        .or_insert_with(|| region.to_string());
    m
}

/// "Market M-330102-003 (330102)", "Region 3301", "Plant P-…".
fn who(group_key: &str, region: &str) -> String {
    let parts: Vec<String> = group_key
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let noun = k
                .trim_end_matches("_id")
                .trim_end_matches("_code")
                .replace('_', " ");
            let mut c = noun.chars();
            let noun = c
                .next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default();
            format!("{noun} {v}")
        })
        .collect();
    let who = parts.join(", ");
    if group_key.starts_with("region_code=") {
        who
    } else {
        format!("{who} ({region})")
    }
}

fn summary(
    rule: &CompiledRule,
    track: Track,
    group_key: &str,
    g: &GroupState,
    reading: &Reading,
    step: &Step,
    threshold: f64,
) -> String {
    let severity = step.alert.severity;
    let resolved = step.kind == TransitionKind::Resolved;
    let who = who(group_key, &g.region);
    let metric = rule.metric.replace('_', " ");
    match (rule.kind, track) {
        (RuleKind::Rate, Track::Trend) => {
            let stat = g.trend.as_ref().map_or(0.0, |t| t.cusum.statistic);
            let bar = if threshold == rule.bars.warning {
                "standard"
            } else {
                "floor"
            };
            if resolved && stat > 0.0 {
                format!("{who}: {metric} early warning closed: the {} {bar} is crossed (see the {} alert)", bar_pct(threshold), rule.name)
            } else if resolved {
                format!(
                    "{who}: {metric} no longer drifting toward the {} {bar} (resolved)",
                    bar_pct(threshold)
                )
            } else {
                format!(
                    "{who}: {metric} is drifting toward the {} {bar} (CUSUM {stat:.1}); {} over {} ({} samples)",
                    bar_pct(threshold),
                    if reading.value.is_finite() { pct(reading.value) } else { "n/a".into() },
                    rule.window_length.as_deref().unwrap_or(""),
                    reading.samples.round()
                )
            }
        }
        (RuleKind::Rate, Track::Bars) => {
            let value = if reading.value.is_finite() {
                pct(reading.value)
            } else {
                "no data".into()
            };
            let window = rule.window_length.as_deref().unwrap_or("");
            let samples = reading.samples.round();
            let bar = match severity {
                Severity::Critical => "floor",
                _ => "standard",
            };
            if resolved && reading.samples < rule.bars.min_samples {
                format!(
                    "{who}: {metric} has only {samples} samples over {window}, fewer than the {} needed to judge it (resolved)",
                    rule.bars.min_samples
                )
            } else if resolved {
                format!("{who}: {metric} {value} over {window} ({samples} samples) is back within the bars (resolved)")
            } else if !rule.bars.comparison.breaches(reading.value, threshold) {
                format!(
                    "{who}: {metric} {value} over {window} ({samples} samples) has not yet cleared the {} {bar} by the {:.1}-point margin",
                    bar_pct(threshold),
                    rule.bars.hysteresis * 100.0
                )
            } else {
                let side = rule.bars.comparison.as_str();
                format!("{who}: {metric} {value} over {window} ({samples} samples) is {side} the {} {bar}", bar_pct(threshold))
            }
        }
        (RuleKind::Silence, _) => {
            let silent = duration(reading.value);
            if resolved {
                format!("{who} is reporting again (resolved)")
            } else {
                format!(
                    "{who} has not reported for {silent} ({} after {})",
                    severity.as_str(),
                    duration(threshold)
                )
            }
        }
        (RuleKind::Throughput, _) => {
            let (_, z, before) = g.last_report.unwrap_or_default();
            if resolved {
                format!(
                    "{who}: {} is back within its baseline of {:.0} (resolved)",
                    format_args!("{:.0} {metric}", reading.value),
                    before.mean
                )
            } else {
                format!(
                    "{who}: {:.0} {metric} is {:.1}σ {} its baseline of {:.0}",
                    reading.value,
                    z.abs(),
                    if z < 0.0 { "below" } else { "above" },
                    before.mean
                )
            }
        }
    }
}

/// The threshold an alert reports for `severity`.
pub fn threshold(rule: &CompiledRule, track: Track, g: &GroupState, severity: Severity) -> f64 {
    match (rule.kind, track) {
        // The next bar the drift heads for.
        (RuleKind::Rate, Track::Trend) => match g.alert.severity() {
            Some(Severity::Warning | Severity::Critical) => {
                rule.bars.critical.unwrap_or(rule.bars.warning)
            }
            _ => rule.bars.warning,
        },
        (RuleKind::Rate, Track::Bars) => rule.bars.threshold(severity),
        (RuleKind::Silence, _) => {
            let (w, c) = rule.silence_after.unwrap_or_default();
            (if severity == Severity::Critical { c } else { w }) as f64 / 1e6
        }
        (RuleKind::Throughput, _) => {
            let (_, z, before) = g.last_report.unwrap_or_default();
            let k = rule.bars.threshold(severity);
            let sigma = before.sigma(THROUGHPUT_SIGMA_FLOOR);
            if z < 0.0 {
                before.mean - k * sigma
            } else {
                before.mean + k * sigma
            }
        }
    }
}

/// A plant's σ is at least this share of its mean (see `baseline.rs`).
pub const THROUGHPUT_SIGMA_FLOOR: f64 = 0.05;

/// The transition a lifecycle step made, as the contract's alert.
#[allow(clippy::too_many_arguments)]
pub fn transition(
    rule: &CompiledRule,
    track: Track,
    group_key: &str,
    g: &GroupState,
    reading: &Reading,
    step: &Step,
    at: Timestamp,
) -> AlertTransition {
    let open = step.alert;
    let resolved = step.kind == TransitionKind::Resolved;
    let threshold = threshold(rule, track, g, open.severity);
    let name = alert_rule(rule, track);
    let evidence: Vec<String> = match rule.kind {
        RuleKind::Rate => g.evidence.iter().map(|(_, id)| id.clone()).collect(),
        _ => g.last_event.iter().cloned().collect(),
    };
    let alert = Alert {
        alert_id: format!("{name}/{group_key}"),
        rule: name,
        severity: open.severity,
        state: match step.kind {
            TransitionKind::Pending => AlertState::Pending,
            TransitionKind::Resolved => AlertState::Resolved,
            _ => AlertState::Firing,
        },
        feed: rule.feeds[0].as_str().to_string(),
        feeds: rule.feeds.iter().map(|f| f.as_str().to_string()).collect(),
        group: group_map(group_key, &g.region),
        metric: rule.metric.clone(),
        value: if reading.value.is_finite() {
            reading.value
        } else {
            0.0
        },
        threshold,
        comparison: match rule.kind {
            RuleKind::Rate => rule.bars.comparison,
            RuleKind::Silence => Comparison::Above,
            RuleKind::Throughput => reading.comparison,
        },
        samples: reading.samples.max(0.0).round() as u64,
        interval: reading.interval,
        clear_breach: rule.kind == RuleKind::Rate && clear_breach(reading, threshold),
        window: reading.window.clone(),
        started_at: open.started_at,
        fired_at: open.fired_at,
        resolved_at: resolved.then_some(at),
        agency: rule.agency.clone(),
        summary: summary(rule, track, group_key, g, reading, step, threshold),
        evidence,
    };
    AlertTransition {
        notification_id: AlertTransition::notification_id(&alert, open.sequence),
        kind: step.kind,
        at,
        sequence: open.sequence,
        alert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_read_like_sites() {
        assert_eq!(
            who("market_id=M-330102-003", "330102"),
            "Market M-330102-003 (330102)"
        );
        assert_eq!(who("region_code=3301", "3301"), "Region 3301");
        assert_eq!(group_map("region_code=3301", "3301").len(), 1);
        assert_eq!(group_map("plant_id=P-1", "330102")["region_code"], "330102");
    }

    #[test]
    fn percentages() {
        assert_eq!(bar_pct(0.85), "85%");
        assert_eq!(bar_pct(0.005), "0.5%");
        assert_eq!(pct(0.8), "80.0%");
        assert_eq!(duration(7.2 * 3600.0), "7h 12m");
    }
}
