//! The alert lifecycle of one (rule, group): pending → firing → resolved, with severity
//! changes and reminders while firing. Pure: the engine evaluates the group at an
//! event-time instant, decides the breached level (with hysteresis, see [`Bars`]), and
//! [`Lifecycle::step`] says which transition, if any, that makes.

use hub_model::alert::{Comparison, Severity, TransitionKind};
use hub_model::Timestamp;
use serde::{Deserialize, Serialize};

/// The bars of a rate rule and how an open alert clears.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bars {
    pub comparison: Comparison,
    pub warning: f64,
    pub critical: Option<f64>,
    pub min_samples: f64,
    pub critical_min_samples: f64,
    /// An open alert clears only when the value is this far back past its bar.
    pub hysteresis: f64,
    /// Values are ratios in [0, 1]: the clearing level is clamped to that range.
    pub ratio: bool,
}

impl Bars {
    /// The value is back past `bar` by the hysteresis margin.
    fn clear_of(&self, value: f64, bar: f64) -> bool {
        match self.comparison {
            Comparison::Below => {
                let level = bar + self.hysteresis;
                value >= if self.ratio { level.min(1.0) } else { level }
            }
            Comparison::Above => {
                let level = bar - self.hysteresis;
                value <= if self.ratio { level.max(0.0) } else { level }
            }
        }
    }

    /// The level breached at `value` with `samples`, given the open alert's severity:
    /// an open level holds until the value clears its bar by the hysteresis margin,
    /// so a rate hovering at a bar neither flaps nor swaps severity back and forth.
    pub fn level(&self, value: f64, samples: f64, open: Option<Severity>) -> Option<Severity> {
        if samples < self.min_samples || !value.is_finite() {
            return None;
        }
        let cmp = self.comparison;
        if let Some(c) = self.critical {
            if samples >= self.critical_min_samples
                && (cmp.breaches(value, c)
                    || (open == Some(Severity::Critical) && !self.clear_of(value, c)))
            {
                return Some(Severity::Critical);
            }
        }
        let held = matches!(open, Some(Severity::Warning | Severity::Critical));
        if cmp.breaches(value, self.warning) || (held && !self.clear_of(value, self.warning)) {
            return Some(Severity::Warning);
        }
        None
    }

    /// The bar the level refers to.
    pub fn threshold(&self, level: Severity) -> f64 {
        match level {
            Severity::Critical => self.critical.unwrap_or(self.warning),
            _ => self.warning,
        }
    }
}

/// Timing of the lifecycle, in microseconds of event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A breach must last this long before it fires (0: fire at once).
    pub hold: i64,
    /// Re-notify a firing alert this often (`None`: never).
    pub reminder: Option<i64>,
}

/// The open alert of a (rule, group), if any.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpenAlert {
    pub started_at: Timestamp,
    pub fired_at: Option<Timestamp>,
    pub severity: Severity,
    /// The sequence number of the last transition.
    pub sequence: u32,
    /// The last firing, severity change or reminder.
    pub last_notified: Timestamp,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub open: Option<OpenAlert>,
}

/// A transition the step made; `alert` is the state after it (for `Resolved`, the alert
/// as it was, with the resolving instant).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub kind: TransitionKind,
    pub alert: OpenAlert,
}

impl Lifecycle {
    pub fn severity(&self) -> Option<Severity> {
        self.open.map(|o| o.severity)
    }

    /// The severity of a firing alert (not of a pending one).
    pub fn firing_severity(&self) -> Option<Severity> {
        self.open
            .filter(|o| o.fired_at.is_some())
            .map(|o| o.severity)
    }

    pub fn is_firing(&self) -> bool {
        self.open.is_some_and(|o| o.fired_at.is_some())
    }

    /// Evaluates the group's `level` at instant `at`.
    pub fn step(
        &mut self,
        level: Option<Severity>,
        at: Timestamp,
        policy: &Policy,
    ) -> Option<Step> {
        let step = |kind, alert| Some(Step { kind, alert });
        match (self.open.as_mut(), level) {
            (None, None) => None,
            (None, Some(severity)) => {
                let fire = policy.hold <= 0;
                let open = OpenAlert {
                    started_at: at,
                    fired_at: fire.then_some(at),
                    severity,
                    sequence: 1,
                    last_notified: at,
                };
                self.open = Some(open);
                step(
                    if fire {
                        TransitionKind::Firing
                    } else {
                        TransitionKind::Pending
                    },
                    open,
                )
            }
            (Some(open), None) => {
                let mut last = *open;
                last.sequence += 1;
                self.open = None;
                step(TransitionKind::Resolved, last)
            }
            (Some(open), Some(severity)) if open.fired_at.is_none() => {
                open.severity = severity;
                if at.0 - open.started_at.0 >= policy.hold {
                    open.fired_at = Some(at);
                    open.sequence += 1;
                    open.last_notified = at;
                    return step(TransitionKind::Firing, *open);
                }
                None
            }
            (Some(open), Some(severity)) if severity != open.severity => {
                open.severity = severity;
                open.sequence += 1;
                open.last_notified = at;
                step(TransitionKind::SeverityChanged, *open)
            }
            (Some(open), Some(_)) => match policy.reminder {
                Some(every) if every > 0 && at.0 - open.last_notified.0 >= every => {
                    open.sequence += 1;
                    open.last_notified = at;
                    step(TransitionKind::Reminder, *open)
                }
                _ => None,
            },
        }
    }

    /// The next instant at which the lifecycle changes by itself (hold elapsed, reminder due).
    pub fn deadline(&self, policy: &Policy) -> Option<Timestamp> {
        let open = self.open?;
        match open.fired_at {
            None => Some(Timestamp(open.started_at.0 + policy.hold)),
            Some(_) => policy
                .reminder
                .filter(|r| *r > 0)
                .map(|r| Timestamp(open.last_notified.0 + r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransitionKind::*;

    const H: i64 = 3_600_000_000;

    fn bars() -> Bars {
        Bars {
            comparison: Comparison::Below,
            warning: 0.95,
            critical: Some(0.85),
            min_samples: 20.0,
            critical_min_samples: 20.0,
            hysteresis: 0.01,
            ratio: true,
        }
    }

    fn kinds(
        l: &mut Lifecycle,
        policy: &Policy,
        seq: &[(Option<Severity>, i64)],
    ) -> Vec<TransitionKind> {
        seq.iter()
            .filter_map(|(lv, t)| l.step(*lv, Timestamp(*t), policy).map(|s| s.kind))
            .collect()
    }

    #[test]
    fn levels_with_min_samples_and_hysteresis() {
        let b = bars();
        assert_eq!(b.level(0.80, 19.0, None), None, "below min samples");
        assert_eq!(b.level(0.80, 20.0, None), Some(Severity::Critical));
        assert_eq!(b.level(0.90, 20.0, None), Some(Severity::Warning));
        assert_eq!(b.level(0.955, 20.0, None), None);
        // Open at warning: 0.955 is not yet 1 pp past 0.95, so it holds.
        assert_eq!(
            b.level(0.955, 20.0, Some(Severity::Warning)),
            Some(Severity::Warning)
        );
        assert_eq!(b.level(0.96, 20.0, Some(Severity::Warning)), None);
        // Open at critical: 0.855 holds critical; 0.87 drops to warning.
        assert_eq!(
            b.level(0.855, 20.0, Some(Severity::Critical)),
            Some(Severity::Critical)
        );
        assert_eq!(
            b.level(0.87, 20.0, Some(Severity::Critical)),
            Some(Severity::Warning)
        );
    }

    #[test]
    fn any_positive_clears_only_at_zero() {
        let b = Bars {
            comparison: Comparison::Above,
            warning: 0.0,
            critical: Some(0.005),
            min_samples: 1.0,
            critical_min_samples: 200.0,
            hysteresis: 0.0,
            ratio: true,
        };
        assert_eq!(
            b.level(0.01, 100.0, None),
            Some(Severity::Warning),
            "critical needs 200 tests"
        );
        assert_eq!(b.level(0.01, 200.0, None), Some(Severity::Critical));
        assert_eq!(b.level(0.0, 300.0, Some(Severity::Warning)), None);
    }

    #[test]
    fn fires_changes_severity_reminds_and_resolves() {
        let p = Policy {
            hold: 0,
            reminder: Some(4 * H),
        };
        let mut l = Lifecycle::default();
        let got = kinds(
            &mut l,
            &p,
            &[
                (Some(Severity::Warning), 0),
                (Some(Severity::Warning), H),
                (Some(Severity::Critical), 2 * H),
                (Some(Severity::Critical), 5 * H),
                (Some(Severity::Critical), 6 * H),
                (None, 7 * H),
                (None, 8 * H),
            ],
        );
        assert_eq!(got, vec![Firing, SeverityChanged, Reminder, Resolved]);
        assert!(l.open.is_none());
    }

    #[test]
    fn hold_keeps_a_breach_pending_and_a_short_one_never_fires() {
        let p = Policy {
            hold: 2 * H,
            reminder: None,
        };
        let mut l = Lifecycle::default();
        let got = kinds(
            &mut l,
            &p,
            &[
                (Some(Severity::Warning), 0),
                (Some(Severity::Warning), H),
                (None, H + 1),
            ],
        );
        assert_eq!(got, vec![Pending, Resolved]);
        let got = kinds(
            &mut l,
            &p,
            &[
                (Some(Severity::Warning), 10 * H),
                (Some(Severity::Critical), 12 * H),
            ],
        );
        assert_eq!(got, vec![Pending, Firing]);
        assert_eq!(l.severity(), Some(Severity::Critical));
        assert_eq!(l.deadline(&p), None);
    }

    #[test]
    fn sequence_numbers_count_transitions_of_one_incarnation() {
        let p = Policy {
            hold: 0,
            reminder: None,
        };
        let mut l = Lifecycle::default();
        let a = l.step(Some(Severity::Warning), Timestamp(0), &p).unwrap();
        let b = l.step(Some(Severity::Critical), Timestamp(1), &p).unwrap();
        let c = l.step(None, Timestamp(2), &p).unwrap();
        assert_eq!(
            (a.alert.sequence, b.alert.sequence, c.alert.sequence),
            (1, 2, 3)
        );
        let d = l.step(Some(Severity::Warning), Timestamp(3), &p).unwrap();
        assert_eq!(
            (d.kind, d.alert.sequence, d.alert.started_at),
            (Firing, 1, Timestamp(3))
        );
    }
}
