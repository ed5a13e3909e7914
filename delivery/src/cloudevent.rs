//! The webhook body: a CloudEvents 1.0 structured JSON event whose `data` is the alert
//! (the contract's `alerts/alert.example.json`).

use hub_model::alert::{AlertTransition, TransitionKind};
use hub_model::Timestamp;
use serde::Serialize;

pub const CONTENT_TYPE: &str = "application/cloudevents+json";
/// A grouped delivery: a JSON array of events (CloudEvents batched content mode).
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";
pub const FIRING: &str = "safety_hub.alert.firing";
pub const RESOLVED: &str = "safety_hub.alert.resolved";
pub const REMINDER: &str = "safety_hub.alert.reminder";

/// The CloudEvents `type` of a transition, or `None` for transitions that are not
/// delivered: `pending`, and a `resolved` of an alert that never fired.
pub fn event_type(t: &AlertTransition) -> Option<&'static str> {
    match t.kind {
        TransitionKind::Pending => None,
        TransitionKind::Firing | TransitionKind::SeverityChanged => Some(FIRING),
        TransitionKind::Reminder => Some(REMINDER),
        TransitionKind::Resolved => t.alert.fired_at.map(|_| RESOLVED),
    }
}

#[derive(Debug, Serialize)]
pub struct CloudEvent<'a> {
    pub specversion: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub source: &'a str,
    pub id: &'a str,
    pub time: Timestamp,
    pub subject: &'a str,
    pub datacontenttype: &'static str,
    pub data: &'a hub_model::Alert,
}

/// The event for `t` from hub instance `source` (e.g. `safety-hub/hub-1`), created at
/// `time`; `None` when the transition is not delivered. The bytes are made once, when
/// the notification is queued, so every retry sends (and signs) the same body.
pub fn to_json(t: &AlertTransition, source: &str, time: Timestamp) -> Option<Vec<u8>> {
    let kind = event_type(t)?;
    let event = CloudEvent {
        specversion: "1.0",
        kind,
        source,
        id: &t.notification_id,
        time,
        subject: &t.alert.alert_id,
        datacontenttype: "application/json",
        data: &t.alert,
    };
    Some(serde_json::to_vec(&event).expect("an alert always serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_model::alert::Alert;

    fn transition(kind: TransitionKind, fired: bool) -> AlertTransition {
        let mut alert = Alert::sample();
        if !fired {
            alert.fired_at = None;
        }
        AlertTransition::first(alert, kind)
    }

    #[test]
    fn the_envelope_has_the_contract_fields() {
        let t = transition(TransitionKind::Firing, true);
        let body = to_json(&t, "safety-hub/hub-1", Timestamp(1_795_000_001_000_000)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["type"], "safety_hub.alert.firing");
        assert_eq!(v["source"], "safety-hub/hub-1");
        assert_eq!(v["id"], t.notification_id.as_str());
        assert_eq!(v["subject"], "kiosk_pass_rate/market_id=M-330102-003");
        assert_eq!(v["datacontenttype"], "application/json");
        assert_eq!(
            v["data"]["alert_id"],
            "kiosk_pass_rate/market_id=M-330102-003"
        );
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn types_and_what_is_not_delivered() {
        assert_eq!(
            event_type(&transition(TransitionKind::SeverityChanged, true)),
            Some("safety_hub.alert.firing")
        );
        assert_eq!(
            event_type(&transition(TransitionKind::Reminder, true)),
            Some("safety_hub.alert.reminder")
        );
        assert_eq!(
            event_type(&transition(TransitionKind::Resolved, true)),
            Some("safety_hub.alert.resolved")
        );
        assert_eq!(
            event_type(&transition(TransitionKind::Resolved, false)),
            None,
            "a withdrawn pending alert"
        );
        assert_eq!(
            event_type(&transition(TransitionKind::Pending, false)),
            None
        );
    }
}
