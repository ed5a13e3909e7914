//! Early warning: a Bernoulli CUSUM on each group's failures, against the group's own
//! baseline.
//!
//! Why CUSUM: it is the sequential test with the shortest detection delay for a shift
//! in a failure rate at a given false-alarm rate (Page 1954; Moustakides 1986), it needs
//! no batching into days, and it works on the counts the hub already has (a kiosk test
//! is one trial, a slaughter report `head_count` trials). A moving average of the daily
//! rate reacts to the same drift only after a day's worth of samples has moved it.
//!
//! The test, per group: "the failure rate is the group's own baseline `p0`" against
//! "it has drifted to `p1`", where `p1` is the warning bar's failure rate plus a tenth
//! of the gap to the floor (kiosk: 5 % + 1 % = 6 %). `p0` is an exponentially weighted
//! failure rate over the group's last ~`memory` trials, kept within `[p1/4, 0.8·p1]`:
//! a spotless group does not alarm on two failures in a row, and a group already near
//! the bar is judged against 0.8·p1 (its bar alerts speak for it). Statistic:
//! `S ← max(0, S + failures·ln(p1/p0) + passes·ln((1−p1)/(1−p0)))`; early warning when
//! `S ≥ h` after `memory` trials of history, cleared when `S` is back at 0. `h` and
//! `memory` are calibrated in BENCHMARKS.md ("Early warning").

use serde::{Deserialize, Serialize};

/// The CUSUM's parameters for one rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CusumParams {
    /// The drifted failure rate the test looks for.
    pub p1: f64,
    /// Decision limit `h`.
    pub limit: f64,
    /// Effective memory of the baseline, in trials; also the warm-up before any alarm.
    pub memory: f64,
}

/// The baseline is kept within `[p1 · FLOOR, p1 · CAP]`.
pub const BASELINE_FLOOR: f64 = 0.25;
pub const BASELINE_CAP: f64 = 0.8;

impl CusumParams {
    /// For a pass-rate rule with bars `warning > critical` (pass rates).
    pub fn for_pass_rate(warning: f64, critical: f64, limit: f64, memory: f64) -> Self {
        CusumParams {
            p1: (1.0 - warning) + 0.1 * (warning - critical),
            limit,
            memory,
        }
    }
}

/// The detector of one group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cusum {
    pub statistic: f64,
    pub alarmed: bool,
    /// The group's baseline failure rate (EWMA over ~`memory` trials).
    pub baseline: f64,
    /// Trials seen.
    pub trials: f64,
}

impl Default for Cusum {
    fn default() -> Self {
        Cusum {
            statistic: 0.0,
            alarmed: false,
            baseline: f64::NAN,
            trials: 0.0,
        }
    }
}

impl Cusum {
    /// Folds in `passes` and `failures` (counts, may be fractional); returns whether the
    /// group is in alarm afterwards.
    pub fn observe(&mut self, params: &CusumParams, passes: f64, failures: f64) -> bool {
        let n = passes + failures;
        if n <= 0.0 {
            return self.alarmed;
        }
        let p1 = params.p1;
        if !self.baseline.is_finite() {
            self.baseline = p1 * BASELINE_CAP;
        }
        let p0 = self.baseline.clamp(p1 * BASELINE_FLOOR, p1 * BASELINE_CAP);
        let fail_weight = (p1 / p0).ln();
        let pass_weight = ((1.0 - p1) / (1.0 - p0)).ln();
        self.statistic = (self.statistic + failures * fail_weight + passes * pass_weight).max(0.0);
        // n trials of an EWMA with weight 1/memory each, at once.
        let keep = (1.0 - 1.0 / params.memory).powf(n);
        self.baseline = keep * self.baseline + (1.0 - keep) * (failures / n);
        self.trials += n;
        if self.statistic >= params.limit && self.trials >= params.memory {
            self.alarmed = true;
        } else if self.statistic == 0.0 {
            self.alarmed = false;
        }
        self.alarmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> CusumParams {
        CusumParams::for_pass_rate(0.95, 0.85, 6.0, 1_000.0)
    }

    #[test]
    fn p1_sits_just_past_the_warning_bar() {
        assert!((params().p1 - 0.06).abs() < 1e-12);
    }

    #[test]
    fn a_run_of_failures_alarms_after_warm_up_and_passes_clear_it() {
        let p = params();
        let mut c = Cusum::default();
        c.observe(&p, 1_000.0, 0.0);
        assert_eq!(c.statistic, 0.0);
        assert!(c.baseline < 0.02, "{c:?}");
        for _ in 0..8 {
            c.observe(&p, 0.0, 1.0);
        }
        assert!(c.alarmed, "{c:?}");
        c.observe(&p, 10.0, 0.0);
        assert!(c.alarmed, "stays alarmed until the statistic is back at 0");
        c.observe(&p, 5_000.0, 0.0);
        assert!(!c.alarmed);
    }

    #[test]
    fn no_alarm_before_the_warm_up() {
        let p = params();
        let mut c = Cusum::default();
        for _ in 0..40 {
            c.observe(&p, 0.0, 1.0);
        }
        assert!(c.statistic >= p.limit && !c.alarmed, "{c:?}");
    }

    #[test]
    fn counts_at_once_equal_one_by_one_for_the_baseline() {
        let p = params();
        let (mut a, mut b) = (Cusum::default(), Cusum::default());
        a.observe(&p, 1.0, 0.0);
        b.observe(&p, 1.0, 0.0);
        a.observe(&p, 50.0, 0.0);
        for _ in 0..50 {
            b.observe(&p, 1.0, 0.0);
        }
        assert!((a.baseline - b.baseline).abs() < 1e-12);
    }

    #[test]
    fn a_stable_group_at_its_baseline_drifts_down() {
        // At 4 % failures with a 4 % baseline, the expected step is negative.
        let p = params();
        let p0: f64 = 0.04;
        let drift = 0.04 * (p.p1 / p0).ln() + 0.96 * ((1.0 - p.p1) / (1.0 - p0)).ln();
        assert!(drift < 0.0, "{drift}");
    }
}
