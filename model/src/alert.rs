//! Alerts: what a rule says about one group, and the transitions of its lifecycle
//! (pending → firing → resolved, with severity changes and reminders in between).
//!
//! The JSON form of [`Alert`] is the `data` of the contract's CloudEvents notification
//! (`alerts/alert.example.json`). Every instant in it is event time, so replaying the
//! same input yields the same alerts byte for byte.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// How bad a breach is. Ordered: `early_warning < warning < critical`, which is what a
/// subscription's `min_severity` compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A trend toward the floor, before a bar is crossed.
    EarlyWarning,
    /// The standard bar (95 % in most campaigns).
    Warning,
    /// The floor (85 %).
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::EarlyWarning => "early_warning",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Breaching, but not yet for the rule's hold time.
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// Which side of the bar is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Below,
    Above,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Below => "below",
            Comparison::Above => "above",
        }
    }

    /// True when `value` is on the bad side of `bar`.
    pub fn breaches(self, value: f64, bar: f64) -> bool {
        match self {
            Comparison::Below => value < bar,
            Comparison::Above => value > bar,
        }
    }
}

/// A confidence interval of a rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub level: f64,
    pub low: f64,
    pub high: f64,
}

/// The trailing event-time window a value was computed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpan {
    /// The configured length, e.g. `24h`, `7d`.
    pub length: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// One alert: the state of one (rule, group), with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `<rule>/<key>=<value>[,<key>=<value>]`: stable for the (rule, group).
    pub alert_id: String,
    pub rule: String,
    pub severity: Severity,
    pub state: AlertState,
    /// The feed the group is measured on (the first, when a rule reads several).
    pub feed: String,
    /// Every feed the rule reads.
    pub feeds: Vec<String>,
    /// The group's identity plus its `region_code`.
    pub group: BTreeMap<String, String>,
    pub metric: String,
    pub value: f64,
    pub threshold: f64,
    pub comparison: Comparison,
    pub samples: u64,
    pub interval: Option<Interval>,
    /// The interval lies wholly on the bad side of the threshold.
    pub clear_breach: bool,
    pub window: Option<WindowSpan>,
    /// When this alert (this incarnation of the (rule, group)) started: event time.
    pub started_at: Timestamp,
    /// When it started firing; `None` while pending, or if it never fired.
    pub fired_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub agency: String,
    pub summary: String,
    /// Ids of failing events in the window, newest last, at most 20.
    pub evidence: Vec<String>,
}

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    Pending,
    Firing,
    /// Still firing, at another severity (warning ↔ critical).
    SeverityChanged,
    /// Still firing; the configured reminder interval has passed.
    Reminder,
    Resolved,
}

impl TransitionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Pending => "pending",
            TransitionKind::Firing => "firing",
            TransitionKind::SeverityChanged => "severity_changed",
            TransitionKind::Reminder => "reminder",
            TransitionKind::Resolved => "resolved",
        }
    }
}

/// One transition, as it goes to delivery and into the `alerts` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertTransition {
    /// Stable across replays: receivers drop duplicates by it.
    pub notification_id: String,
    pub kind: TransitionKind,
    /// The event-time instant of the transition.
    pub at: Timestamp,
    /// 1, 2, 3, … within one alert incarnation.
    pub sequence: u32,
    pub alert: Alert,
}

impl AlertTransition {
    /// The notification id: `ntf-<incarnation hash>-<rule>-<group values>-<sequence>`,
    /// in the shape of the contract's example.
    pub fn notification_id(alert: &Alert, sequence: u32) -> String {
        let incarnation = fnv1a(format!("{}@{}", alert.alert_id, alert.started_at.0).as_bytes());
        let key_values = alert.group_values();
        format!(
            "ntf-{:08x}-{}-{}-{sequence}",
            incarnation as u32,
            alert.rule,
            key_values.join("-")
        )
    }
}

impl Alert {
    /// The values of the group's identity in its alert id (`M-330102-003` from
    /// `kiosk_pass_rate/market_id=M-330102-003`), in order.
    pub fn group_values(&self) -> Vec<&str> {
        self.alert_id
            .split_once('/')
            .map(|(_, g)| {
                g.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(_, v)| v)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A representative alert (a market's critical pass-rate breach, shaped like the
    /// contract's example) for tests and fixtures; change the fields a test is about.
    pub fn sample() -> Alert {
        Alert {
            alert_id: "kiosk_pass_rate/market_id=M-330102-003".into(),
            rule: "kiosk_pass_rate".into(),
            severity: Severity::Critical,
            state: AlertState::Firing,
            feed: "kiosk".into(),
            feeds: vec!["kiosk".into()],
            group: BTreeMap::from([
                ("market_id".into(), "M-330102-003".into()),
                ("region_code".into(), "330102".into()),
            ]),
            metric: "pass_rate".into(),
            value: 0.8,
            threshold: 0.85,
            comparison: Comparison::Below,
            samples: 30,
            interval: Some(Interval {
                level: 0.95,
                low: 0.627,
                high: 0.905,
            }),
            clear_breach: false,
            window: None,
            started_at: Timestamp(1_763_713_861_950_000),
            fired_at: Some(Timestamp(1_763_713_861_950_000)),
            resolved_at: None,
            agency: "market_supervision".into(),
            summary: "s".into(),
            evidence: vec![],
        }
    }
}

impl AlertTransition {
    /// The first transition (`sequence` 1) of `alert`, at its start.
    pub fn first(alert: Alert, kind: TransitionKind) -> Self {
        AlertTransition {
            notification_id: AlertTransition::notification_id(&alert, 1),
            kind,
            at: alert.started_at,
            sequence: 1,
            alert,
        }
    }
}

/// FNV-1a: a fixed, dependency-free hash (ids must not change between builds).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert::sample()
    }

    #[test]
    fn notification_id_has_the_contract_shape_and_is_stable() {
        let a = alert();
        let id = AlertTransition::notification_id(&a, 1);
        assert!(id.starts_with("ntf-"), "{id}");
        assert!(id.ends_with("-kiosk_pass_rate-M-330102-003-1"), "{id}");
        assert_eq!(id, AlertTransition::notification_id(&a, 1));
        assert_ne!(id, AlertTransition::notification_id(&a, 2));
        let mut later = a.clone();
        later.started_at = Timestamp(a.started_at.0 + 1);
        assert_ne!(id, AlertTransition::notification_id(&later, 1));
    }

    #[test]
    fn severities_order_for_min_severity_filters() {
        assert!(Severity::EarlyWarning < Severity::Warning);
        assert!(Severity::Warning < Severity::Critical);
    }

    #[test]
    fn json_uses_the_contract_names() {
        let v = serde_json::to_value(alert()).unwrap();
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["state"], "firing");
        assert_eq!(v["comparison"], "below");
        assert_eq!(v["group"]["market_id"], "M-330102-003");
        assert_eq!(v["interval"]["low"], 0.627);
        assert!(v["resolved_at"].is_null());
        assert!(v["started_at"].as_str().unwrap().starts_with("2025-"));
    }
}
