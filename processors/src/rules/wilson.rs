//! The Wilson score interval of a binomial proportion: well-behaved at small samples
//! and at rates near 0 or 1, where the normal approximation is not.

use hub_model::alert::Interval;

/// z for a two-sided 95 % interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The 95 % Wilson interval of `successes` out of `n`; `None` when `n` is 0.
/// `successes` and `n` may be fractional (weighted counts); `successes` is clamped to `[0, n]`.
pub fn wilson_95(successes: f64, n: f64) -> Option<Interval> {
    if n <= 0.0 || !n.is_finite() {
        return None;
    }
    let p = (successes / n).clamp(0.0, 1.0);
    let z2 = Z_95 * Z_95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z_95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval {
        level: 0.95,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.0005
    }

    #[test]
    fn published_worked_values() {
        // 19/20 and 190/200: the reference values (Wilson 1927; Newcombe 1998).
        let i = wilson_95(19.0, 20.0).unwrap();
        assert!(close(i.low, 0.764) && close(i.high, 0.991), "{i:?}");
        let i = wilson_95(190.0, 200.0).unwrap();
        assert!(close(i.low, 0.910) && close(i.high, 0.973), "{i:?}");
        // Newcombe (1998), table I: 81/263 → 0.2553–0.3662; 0/10 → 0–0.2775.
        let i = wilson_95(81.0, 263.0).unwrap();
        assert!(close(i.low, 0.2553) && close(i.high, 0.3662), "{i:?}");
        let i = wilson_95(0.0, 10.0).unwrap();
        assert!(close(i.low, 0.0) && close(i.high, 0.2775), "{i:?}");
        // The contract's example alert: 24/30 → [0.627, 0.905].
        let i = wilson_95(24.0, 30.0).unwrap();
        assert!(close(i.low, 0.627) && close(i.high, 0.905), "{i:?}");
    }

    #[test]
    fn no_samples_no_interval() {
        assert!(wilson_95(0.0, 0.0).is_none());
    }

    proptest! {
        #[test]
        fn interval_contains_the_rate_and_stays_in_0_1(n in 1u32..100_000, k in 0u32..100_000) {
            let k = k.min(n);
            let i = wilson_95(k as f64, n as f64).unwrap();
            let p = k as f64 / n as f64;
            prop_assert!(i.low >= 0.0 && i.high <= 1.0);
            prop_assert!(i.low <= p + 1e-12 && p <= i.high + 1e-12);
        }

        #[test]
        fn more_samples_narrow_the_interval(n in 10u32..10_000, frac in 0.0f64..1.0) {
            let k = (n as f64 * frac).round();
            let a = wilson_95(k, n as f64).unwrap();
            let b = wilson_95(k * 4.0, n as f64 * 4.0).unwrap();
            prop_assert!(b.high - b.low <= a.high - a.low + 1e-12);
        }
    }
}
