//! The `alertmanager` channel: notifications POSTed to an Alertmanager's
//! `/api/v2/alerts` as `postableAlerts`, so an agency that already runs Prometheus
//! Alertmanager routes, groups, silences and inhibits the hub's alerts like its own.
//!
//! One hub alert is one Alertmanager alert: the labels are its identity (the rule as
//! `alertname`, the `alert_id`, `severity`, `agency`, `feed`, and every group key such
//! as `market_id` and `region_code`), so a (rule, group) keeps one fingerprint while
//! its severity holds; the annotations carry what changes (value, threshold, samples,
//! window, interval, evidence, the notification id).
//!
//! `startsAt` is when the alert fired (event time). `endsAt`:
//! - resolved: the alert's `resolved_at` (or the notification's time), but never
//!   later than the notification's time, so a clock ahead of the hub's cannot keep a
//!   resolved alert open in Alertmanager;
//! - firing and reminders: the notification's time plus `firing_hold`. Alertmanager
//!   resolves an alert by itself when its `endsAt` passes (an alert posted without
//!   one gets `resolve_timeout`, 5 minutes by default), while the hub only speaks
//!   again on a transition or a reminder. The hold keeps the alert open in between,
//!   each reminder pushes it further, and the resolved notification closes it at
//!   once. `firing_hold` should therefore exceed the reminder interval plus the time
//!   a notification may spend being retried (one delivered later than the hold after
//!   it was made arrives already ended); should the hub fall silent for good,
//!   Alertmanager still closes the alert when the hold runs out.
//!
//! `endsAt` is never before `startsAt` (Alertmanager refuses such an alert).
//!
//! Severity is a label (agencies route on it), so an alert whose severity changes
//! (warning ↔ critical) becomes another Alertmanager alert, and the hub says nothing
//! more about the old one. Each notification therefore also carries its alert at the
//! other severities, ended at the notification's time: the alert at the severity it
//! left ends at once instead of lingering until its hold runs out. Alertmanager does
//! not notify about an alert it only ever saw ended.

use std::collections::BTreeMap;
use std::time::Duration;

use hub_model::alert::{Alert, Severity};
use hub_model::Timestamp;
use serde_json::{json, Map, Value};

use crate::channel::{error_chain, Attempt};
use crate::notification::Notification;
use crate::subscription::redact_url;

/// The labels that identify an alert; a group key with one of these names is
/// labelled `group_<name>` instead.
const RESERVED: [&str; 5] = ["alertname", "alert_id", "severity", "agency", "feed"];

/// A label name Alertmanager accepts: `[a-zA-Z_][a-zA-Z0-9_]*`; any other character
/// becomes `_`, and a leading digit gets a `_` before it.
pub fn label_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    Timestamp(t.0.saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)))
}

/// Numbers as JSON writes them: `0.8`, `30`, `1200.5`.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "NaN".into()
    }
}

/// The `postableAlerts` body for `batch`. `generator_url`, when given, is the link
/// Alertmanager shows as each alert's source (e.g. the hub's alerts page).
/// Each notification gives its alert, then the same alert at the other severities,
/// ended at the notification's time (see the module documentation).
pub fn render(batch: &[Notification], firing_hold: Duration, generator_url: Option<&str>) -> Value {
    Value::Array(
        batch
            .iter()
            .flat_map(|n| one(n, firing_hold, generator_url))
            .collect(),
    )
}

const SEVERITIES: [Severity; 3] = [
    Severity::Critical,
    Severity::Warning,
    Severity::EarlyWarning,
];

fn labels(a: &Alert, severity: Severity) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    for (k, v) in &a.group {
        let mut name = label_name(k);
        if RESERVED.contains(&name.as_str()) {
            name = format!("group_{name}");
        }
        if !v.is_empty() {
            labels.insert(name, v.clone());
        }
    }
    for (k, v) in [
        ("alertname", a.rule.as_str()),
        ("alert_id", a.alert_id.as_str()),
        ("severity", severity.as_str()),
        ("agency", a.agency.as_str()),
        ("feed", a.feed.as_str()),
    ] {
        if !v.is_empty() {
            labels.insert(k.to_string(), v.to_string());
        }
    }
    labels
}

fn one(n: &Notification, firing_hold: Duration, generator_url: Option<&str>) -> Vec<Value> {
    let a = &n.data;
    let mut annotations = Map::new();
    let mut note = |k: &str, v: String| {
        annotations.insert(k.to_string(), Value::String(v));
    };
    note("summary", a.summary.clone());
    note("value", num(a.value));
    note("threshold", num(a.threshold));
    note("comparison", a.comparison.as_str().to_string());
    note("samples", a.samples.to_string());
    if let Some(w) = &a.window {
        note("window", w.length.clone());
    }
    if let Some(i) = &a.interval {
        note(
            "interval",
            format!("{}–{} @ {}", num(i.low), num(i.high), num(i.level)),
        );
    }
    if !a.evidence.is_empty() {
        note("evidence", a.evidence.join(","));
    }
    note("notification_id", n.id.clone());

    let starts = a.fired_at.unwrap_or(a.started_at);
    let ends = if n.is_resolved() {
        a.resolved_at.unwrap_or(n.time).min(n.time)
    } else {
        plus(n.time, firing_hold)
    }
    .max(starts);

    let others_end = n.time.max(starts);

    let alert = |severity: Severity, ends: Timestamp| {
        let mut alert = json!({
            "labels": labels(a, severity),
            "annotations": annotations,
            "startsAt": starts.to_rfc3339(),
            "endsAt": ends.to_rfc3339(),
        });
        if let Some(url) = generator_url {
            alert["generatorURL"] = Value::String(url.to_string());
        }
        alert
    };
    std::iter::once(alert(a.severity, ends))
        .chain(
            SEVERITIES
                .iter()
                .filter(|s| **s != a.severity)
                .map(|s| alert(*s, others_end)),
        )
        .collect()
}

/// POSTs `batch` to `<base_url>/api/v2/alerts`. A 2xx is delivered; 408, 429 and 5xx
/// are retried; any other status (Alertmanager answers 400 for an alert it cannot
/// take) is a refusal, with Alertmanager's reason in the error.
pub async fn send(
    client: &reqwest::Client,
    base_url: &str,
    batch: &[Notification],
    firing_hold: Duration,
    timeout: Duration,
) -> Attempt {
    let url = format!("{}/api/v2/alerts", base_url.trim_end_matches('/'));
    let body = render(batch, firing_hold, None);
    match client.post(&url).timeout(timeout).json(&body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let mut attempt = Attempt::from_status(status);
            if let Some(error) = &mut attempt.error {
                let reason = r.text().await.unwrap_or_default();
                let reason: String = reason.trim().chars().take(300).collect();
                if !reason.is_empty() {
                    error.push_str(": ");
                    error.push_str(&reason);
                }
            }
            attempt
        }
        Err(e) => Attempt::retry(format!(
            "no response from {}: {}",
            redact_url(&url),
            error_chain(&e.without_url())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudevent::{FIRING, REMINDER, RESOLVED};
    use hub_model::alert::{Alert, AlertState, WindowSpan};

    const NOW: Timestamp = Timestamp(1_795_000_000_000_000);
    const HOLD: Duration = Duration::from_secs(3600);

    fn notification(event_type: &str, alert: Alert) -> Notification {
        Notification {
            event_type: event_type.into(),
            id: "ntf-1".into(),
            time: NOW,
            data: alert,
        }
    }

    fn alert() -> Alert {
        let mut a = Alert::sample();
        a.summary = "Market M-330102-003 (330102): pass rate 80.0% is below the 85% floor".into();
        a.evidence = vec!["kq-1".into(), "kq-2".into()];
        a.window = Some(WindowSpan {
            length: "24h".into(),
            start: Timestamp(a.started_at.0 - 86_400_000_000),
            end: a.started_at,
        });
        a
    }

    #[test]
    fn firing_carries_identity_labels_and_the_evidence_as_annotations() {
        let v = render(
            &[notification(FIRING, alert())],
            HOLD,
            Some("http://hub/alerts"),
        );
        let a = &v[0];
        assert_eq!(
            a["labels"],
            json!({
                "alertname": "kiosk_pass_rate",
                "alert_id": "kiosk_pass_rate/market_id=M-330102-003",
                "severity": "critical",
                "agency": "market_supervision",
                "feed": "kiosk",
                "market_id": "M-330102-003",
                "region_code": "330102",
            })
        );
        let n = &a["annotations"];
        assert!(n["summary"]
            .as_str()
            .unwrap()
            .starts_with("Market M-330102-003"));
        assert_eq!(n["value"], "0.8");
        assert_eq!(n["threshold"], "0.85");
        assert_eq!(n["comparison"], "below");
        assert_eq!(n["samples"], "30");
        assert_eq!(n["window"], "24h");
        assert_eq!(n["interval"], "0.627–0.905 @ 0.95");
        assert_eq!(n["evidence"], "kq-1,kq-2");
        assert_eq!(n["notification_id"], "ntf-1");
        assert_eq!(a["generatorURL"], "http://hub/alerts");
        assert_eq!(
            a["startsAt"],
            Alert::sample().fired_at.unwrap().to_rfc3339()
        );
        // Open for the hold after the notification, not Alertmanager's resolve_timeout.
        assert_eq!(a["endsAt"], Timestamp(NOW.0 + 3_600_000_000).to_rfc3339());
    }

    #[test]
    fn the_other_severities_of_the_alert_end_with_each_notification() {
        let mut warning = alert();
        warning.severity = Severity::Warning;
        let v = render(&[notification(FIRING, warning)], HOLD, None);
        let v = v.as_array().unwrap();
        let severities: Vec<&str> = v
            .iter()
            .map(|a| a["labels"]["severity"].as_str().unwrap())
            .collect();
        assert_eq!(severities, ["warning", "critical", "early_warning"]);
        assert_eq!(
            v[0]["endsAt"],
            Timestamp(NOW.0 + 3_600_000_000).to_rfc3339()
        );
        for ended in &v[1..] {
            assert_eq!(ended["endsAt"], NOW.to_rfc3339());
            assert_eq!(ended["startsAt"], v[0]["startsAt"]);
            let mut labels = ended["labels"].clone();
            labels["severity"] = v[0]["labels"]["severity"].clone();
            assert_eq!(labels, v[0]["labels"]);
        }
    }

    #[test]
    fn a_reminder_pushes_ends_at_and_a_resolution_ends_it_at_resolved_at() {
        let reminder = Notification {
            time: Timestamp(NOW.0 + 60_000_000),
            ..notification(REMINDER, alert())
        };
        let v = render(&[reminder], HOLD, None);
        assert_eq!(
            v[0]["endsAt"],
            Timestamp(NOW.0 + 3_660_000_000).to_rfc3339()
        );
        assert!(v[0].get("generatorURL").is_none());

        let mut resolved = alert();
        resolved.state = AlertState::Resolved;
        resolved.resolved_at = Some(Timestamp(NOW.0 - 5_000_000));
        let v = render(&[notification(RESOLVED, resolved.clone())], HOLD, None);
        assert_eq!(v[0]["endsAt"], Timestamp(NOW.0 - 5_000_000).to_rfc3339());
        // Same labels, so Alertmanager resolves the alert it already holds.
        let firing = render(&[notification(FIRING, alert())], HOLD, None);
        assert_eq!(v[0]["labels"], firing[0]["labels"]);

        // Without resolved_at: the notification's time; never after it.
        resolved.resolved_at = None;
        let v = render(&[notification(RESOLVED, resolved.clone())], HOLD, None);
        assert_eq!(v[0]["endsAt"], NOW.to_rfc3339());
        resolved.resolved_at = Some(Timestamp(NOW.0 + 86_400_000_000));
        let v = render(&[notification(RESOLVED, resolved)], HOLD, None);
        assert_eq!(v[0]["endsAt"], NOW.to_rfc3339());
    }

    #[test]
    fn never_ends_before_it_starts_and_falls_back_to_started_at() {
        let mut a = alert();
        a.fired_at = None;
        a.resolved_at = Some(Timestamp(a.started_at.0 - 1));
        let v = render(&[notification(RESOLVED, a.clone())], HOLD, None);
        assert_eq!(v[0]["startsAt"], a.started_at.to_rfc3339());
        assert_eq!(v[0]["endsAt"], a.started_at.to_rfc3339());
    }

    #[test]
    fn label_names_are_sanitised_and_group_keys_cannot_override_identity() {
        assert_eq!(label_name("market_id"), "market_id");
        assert_eq!(label_name("plant-id.v2"), "plant_id_v2");
        assert_eq!(label_name("2nd"), "_2nd");
        assert_eq!(label_name("区划"), "__");
        assert_eq!(label_name(""), "_");
        let mut a = alert();
        a.group.insert("severity".into(), "low".into());
        a.group.insert("batch-no".into(), "B/1".into());
        a.group.insert("empty".into(), String::new());
        let v = render(&[notification(FIRING, a)], HOLD, None);
        let labels = &v[0]["labels"];
        assert_eq!(labels["severity"], "critical");
        assert_eq!(labels["group_severity"], "low");
        assert_eq!(labels["batch_no"], "B/1");
        assert!(labels.get("empty").is_none());
    }

    #[test]
    fn a_batch_is_one_array_in_order_and_optional_annotations_are_left_out() {
        let mut second = alert();
        second.alert_id = "kiosk_region_pass_rate/region_code=3301".into();
        second.rule = "kiosk_region_pass_rate".into();
        second.group = BTreeMap::from([("region_code".into(), "3301".into())]);
        second.window = None;
        second.interval = None;
        second.evidence.clear();
        let v = render(
            &[notification(FIRING, alert()), notification(FIRING, second)],
            HOLD,
            None,
        );
        assert_eq!(v.as_array().unwrap().len(), 6);
        assert_eq!(v[0]["labels"]["alertname"], "kiosk_pass_rate");
        assert_eq!(v[3]["labels"]["alertname"], "kiosk_region_pass_rate");
        assert!(v[3]["labels"].get("market_id").is_none());
        for k in ["window", "interval", "evidence"] {
            assert!(v[3]["annotations"].get(k).is_none(), "{k}");
        }
    }

    #[test]
    fn credentials_and_queries_stay_out_of_error_messages() {
        assert_eq!(
            redact_url("https://u:p@am.example:9093/api/v2/alerts?x=1"),
            "https://…@am.example:9093/api/v2/alerts?…"
        );
        assert_eq!(redact_url("http://am:9093"), "http://am:9093");
    }
}
