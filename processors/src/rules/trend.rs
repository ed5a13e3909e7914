//! Early warning: a Bernoulli CUSUM on each group's failures.
//!
//! Why CUSUM: it is the sequential test with the shortest detection delay for a shift
//! from an acceptable failure rate `p0` to a bad one `p1` at a given false-alarm rate
//! (Page 1954; Moustakides 1986), it needs no batching into days, and it works on the
//! counts the hub already has (a kiosk test is one trial, a slaughter report is
//! `head_count` trials). An EWMA of the daily rate reacts to the same drift only after a
//! day's worth of samples has moved its mean.
//!
//! Statistic: `S ← max(0, S + failures·ln(p1/p0) + passes·ln((1−p1)/(1−p0)))`; an early
//! warning is raised when `S ≥ h` and cleared when `S` has fallen back to 0 (the
//! evidence of a shift is used up). `p0` is the rule's warning bar read as a failure
//! rate (a group at the standard bar is "in control"), `p1` the midpoint between the
//! warning and critical bars ("drifting to the floor"); `h` is calibrated in
//! BENCHMARKS.md (early warning) for the false-alarm target.

use serde::{Deserialize, Serialize};

/// The CUSUM's parameters for one rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CusumParams {
    /// Log-likelihood ratio added per failure (> 0).
    pub fail_weight: f64,
    /// Log-likelihood ratio added per pass (< 0).
    pub pass_weight: f64,
    /// Decision limit `h`.
    pub limit: f64,
}

impl CusumParams {
    /// `p0`, `p1`: failure rates in control and out of control (`0 < p0 < p1 < 1`).
    pub fn new(p0: f64, p1: f64, limit: f64) -> Self {
        CusumParams {
            fail_weight: (p1 / p0).ln(),
            pass_weight: ((1.0 - p1) / (1.0 - p0)).ln(),
            limit,
        }
    }

    /// For a pass-rate rule with bars `warning > critical` (pass rates).
    pub fn for_pass_rate(warning: f64, critical: f64, limit: f64) -> Self {
        let p0 = 1.0 - warning;
        let p1 = 1.0 - (warning + critical) / 2.0;
        CusumParams::new(p0, p1, limit)
    }
}

/// The statistic of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cusum {
    pub statistic: f64,
    pub alarmed: bool,
}

impl Cusum {
    /// Adds `passes` and `failures` (counts, may be fractional); returns whether the
    /// group is in alarm afterwards.
    pub fn observe(&mut self, params: &CusumParams, passes: f64, failures: f64) -> bool {
        let step = failures * params.fail_weight + passes * params.pass_weight;
        self.statistic = (self.statistic + step).max(0.0);
        if self.statistic >= params.limit {
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

    #[test]
    fn weights_follow_the_likelihood_ratio() {
        let p = CusumParams::for_pass_rate(0.95, 0.85, 5.0);
        assert!((p.fail_weight - (0.10f64 / 0.05).ln()).abs() < 1e-12);
        assert!((p.pass_weight - (0.90f64 / 0.95).ln()).abs() < 1e-12);
    }

    #[test]
    fn a_run_of_failures_alarms_and_passes_clear_it() {
        let p = CusumParams::for_pass_rate(0.95, 0.85, 3.0);
        let mut c = Cusum::default();
        assert!(!c.observe(&p, 100.0, 0.0));
        assert_eq!(c.statistic, 0.0);
        for _ in 0..5 {
            c.observe(&p, 0.0, 1.0);
        }
        assert!(c.alarmed, "{c:?}");
        // Passes bring it back to 0 and clear the alarm; not before.
        c.observe(&p, 10.0, 0.0);
        assert!(c.alarmed);
        c.observe(&p, 1_000.0, 0.0);
        assert!(!c.alarmed);
    }

    #[test]
    fn stable_data_at_the_in_control_rate_drifts_down() {
        // At 4 % failures (96 % pass, better than the 95 % bar) the expected step is negative.
        let p = CusumParams::for_pass_rate(0.95, 0.85, 5.0);
        let drift = 0.04 * p.fail_weight + 0.96 * p.pass_weight;
        assert!(drift < 0.0, "{drift}");
        // At 10 % failures (the midpoint) it is positive.
        let drift = 0.10 * p.fail_weight + 0.90 * p.pass_weight;
        assert!(drift > 0.0, "{drift}");
    }
}
