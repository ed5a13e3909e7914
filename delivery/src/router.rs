//! Routing: each alert transition to every matching subscription, once.

use hub_model::alert::AlertTransition;
use hub_model::Timestamp;

use crate::cloudevent;
use crate::outbox::Delivery;
use crate::subscription::SubscriptionSpec;

/// The deliveries for `t`: one per subscription whose filter matches, none for a
/// transition that is not delivered (pending, or the withdrawal of a pending alert).
/// `source` names the hub instance in the CloudEvents `source`; `now` is when the
/// notification is made (its `time`).
pub fn route(
    t: &AlertTransition,
    subscriptions: &[(String, SubscriptionSpec)],
    source: &str,
    now: Timestamp,
) -> Vec<Delivery> {
    let matching: Vec<&(String, SubscriptionSpec)> = subscriptions
        .iter()
        .filter(|(_, s)| s.matches(&t.alert))
        .collect();
    if matching.is_empty() {
        return Vec::new();
    }
    let Some(body) = cloudevent::to_json(t, source, now) else {
        return Vec::new();
    };
    matching
        .into_iter()
        .map(|(id, s)| Delivery {
            notification_id: t.notification_id.clone(),
            subscription_id: id.clone(),
            channel: s.channel.kind().to_string(),
            alert_id: t.alert.alert_id.clone(),
            body: body.clone(),
            created_at: now,
            due: now,
            attempts: 0,
            last_error: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_model::alert::{Alert, TransitionKind};
    use std::collections::BTreeMap;

    fn transition(kind: TransitionKind, region: &str) -> AlertTransition {
        let mut alert = Alert::sample();
        alert.group = BTreeMap::from([("region_code".into(), region.into())]);
        if kind == TransitionKind::Pending {
            alert.fired_at = None;
        }
        AlertTransition::first(alert, kind)
    }

    fn sub(prefix: &str) -> SubscriptionSpec {
        SubscriptionSpec::from_json(
            format!(r#"{{"name": "n", "agency": "a", "filter": {{"region_prefix": "{prefix}"}}, "channel": {{"type": "kafka"}}}}"#).as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn each_matching_subscription_once_and_pending_to_none() {
        let subs = vec![
            ("s33".to_string(), sub("33")),
            ("s3301".to_string(), sub("3301")),
            ("s44".to_string(), sub("44")),
        ];
        let d = route(
            &transition(TransitionKind::Firing, "330102"),
            &subs,
            "hub",
            Timestamp(1),
        );
        let ids: Vec<&str> = d.iter().map(|d| d.subscription_id.as_str()).collect();
        assert_eq!(ids, ["s33", "s3301"]);
        let t = transition(TransitionKind::Firing, "330102");
        assert!(d
            .iter()
            .all(|x| x.body == d[0].body && x.notification_id == t.notification_id));
        assert!(route(
            &transition(TransitionKind::Pending, "330102"),
            &subs,
            "hub",
            Timestamp(1)
        )
        .is_empty());
    }
}
