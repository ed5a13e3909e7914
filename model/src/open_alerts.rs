//! The alerts open right now (pending or firing), as the last transition of each left
//! them: what `GET /api/v1/alerts` answers. The rule stage keeps it and carries it in
//! its checkpoint, so it survives a restart like the alert state itself.

use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::alert::{Alert, AlertState, AlertTransition};

#[derive(Debug, Default)]
pub struct OpenAlerts {
    by_id: RwLock<BTreeMap<String, Alert>>,
}

impl OpenAlerts {
    pub fn apply(&self, transitions: &[AlertTransition]) {
        if transitions.is_empty() {
            return;
        }
        let mut map = self.by_id.write().expect("open alerts lock");
        for t in transitions {
            match t.alert.state {
                AlertState::Resolved => {
                    map.remove(&t.alert.alert_id);
                }
                _ => {
                    map.insert(t.alert.alert_id.clone(), t.alert.clone());
                }
            }
        }
    }

    pub fn replace_all(&self, alerts: Vec<Alert>) {
        *self.by_id.write().expect("open alerts lock") = alerts
            .into_iter()
            .map(|a| (a.alert_id.clone(), a))
            .collect();
    }

    /// Open alerts in `state` (all open ones for `None`), by alert id.
    pub fn list(&self, state: Option<AlertState>) -> Vec<Alert> {
        self.by_id
            .read()
            .expect("open alerts lock")
            .values()
            .filter(|a| state.is_none_or(|s| a.state == s))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::TransitionKind;

    #[test]
    fn firing_then_resolved_leaves_nothing_open() {
        let open = OpenAlerts::default();
        let mut a = Alert::sample();
        a.state = AlertState::Firing;
        open.apply(&[AlertTransition::first(a.clone(), TransitionKind::Firing)]);
        assert_eq!(open.list(Some(AlertState::Firing)).len(), 1);
        assert!(open.list(Some(AlertState::Pending)).is_empty());
        a.state = AlertState::Resolved;
        open.apply(&[AlertTransition::first(a, TransitionKind::Resolved)]);
        assert!(open.list(None).is_empty());
    }
}
