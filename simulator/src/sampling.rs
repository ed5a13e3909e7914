//! Small random draws the generator needs beyond `rand`'s uniform ones. All take the
//! generator's own seeded RNG, so results are reproducible.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The RNG of every simulator stream: seedable, portable, fast.
pub(crate) type SimRng = ChaCha8Rng;

/// A normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut SimRng, mean: f64, sd: f64) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln stays finite
    let u2: f64 = rng.random();
    mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson draw: Knuth's product method for small means, a rounded normal above.
pub(crate) fn poisson(rng: &mut SimRng, lambda: f64) -> u64 {
    if lambda <= 0.0 || !lambda.is_finite() {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0u64;
        let mut p = rng.random::<f64>();
        while p > limit {
            k += 1;
            p *= rng.random::<f64>();
        }
        k
    } else {
        normal(rng, lambda, lambda.sqrt()).round().max(0.0) as u64
    }
}

/// Failures among `n` trials of small probability `p` (Poisson approximation, capped at n).
pub(crate) fn rare_count(rng: &mut SimRng, n: u64, p: f64) -> u64 {
    poisson(rng, n as f64 * p).min(n)
}

/// A draw between `lo` and `hi` whose logarithm is uniform: sizes of plants and markets.
pub(crate) fn log_uniform(rng: &mut SimRng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

/// An exponential waiting time with the given rate (events per unit).
pub(crate) fn exponential(rng: &mut SimRng, rate: f64) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    -u.ln() / rate
}

/// Rounds to `decimals` places, as a lab instrument would print the reading; negative
/// `decimals` round to tens, hundreds…
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    if decimals >= 0 {
        let scale = 10f64.powi(decimals);
        (x * scale).round() / scale
    } else {
        let scale = 10f64.powi(-decimals);
        (x / scale).round() * scale
    }
}

/// One item of a small static table, chosen with probability proportional to its weight.
pub(crate) fn pick_weighted<T: Copy>(rng: &mut SimRng, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for &(item, weight) in table {
        if roll < weight {
            return item;
        }
        roll -= weight;
    }
    table[table.len() - 1].0
}

/// Weighted choice over many items (enterprises by trade volume): cumulative weights,
/// binary search.
#[derive(Debug, Clone)]
pub(crate) struct Cumulative {
    bounds: Vec<f64>,
}

impl Cumulative {
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let bounds = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        Cumulative { bounds }
    }

    /// An index with probability proportional to its weight. The table must not be empty.
    pub(crate) fn sample(&self, rng: &mut SimRng) -> usize {
        let total = self.bounds.last().copied().unwrap_or(0.0);
        let roll = rng.random::<f64>() * total;
        self.bounds
            .partition_point(|&b| b <= roll)
            .min(self.bounds.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn poisson_mean_is_lambda() {
        let mut rng = SimRng::seed_from_u64(1);
        for lambda in [0.5, 4.0, 80.0] {
            let n = 20_000;
            let sum: u64 = (0..n).map(|_| poisson(&mut rng, lambda)).sum();
            let mean = sum as f64 / n as f64;
            assert!(
                (mean - lambda).abs() < lambda * 0.05 + 0.02,
                "{lambda}: {mean}"
            );
        }
    }

    #[test]
    fn rounds_both_ways() {
        assert_eq!(round_to(38.249, 1), 38.2);
        assert_eq!(round_to(12_345.6, -1), 12_350.0);
    }

    #[test]
    fn cumulative_follows_weights() {
        let mut rng = SimRng::seed_from_u64(2);
        let table = Cumulative::new([1.0, 0.0, 3.0]);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[table.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        let ratio = f64::from(counts[2]) / f64::from(counts[0]);
        assert!((ratio - 3.0).abs() < 0.2, "{counts:?}");
    }

    #[test]
    fn pick_weighted_never_picks_zero_weight() {
        let mut rng = SimRng::seed_from_u64(3);
        let table = [("a", 0), ("b", 5), ("c", 0)];
        for _ in 0..1000 {
            assert_eq!(pick_weighted(&mut rng, &table), "b");
        }
    }
}
