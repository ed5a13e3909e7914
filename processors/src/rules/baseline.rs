//! Throughput baselines: an exponentially weighted mean and variance of each plant's
//! daily head count, to flag a plant whose volume leaves its own band (a drop can mean
//! unreported private slaughter or a broken feed; a surge, animals from elsewhere).

use serde::{Deserialize, Serialize};

/// EWMA mean and variance (West 1979's incremental form).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub mean: f64,
    pub variance: f64,
    /// Observations folded in so far.
    pub observations: u64,
}

impl Baseline {
    /// The standard deviation, floored so a perfectly regular plant does not alarm on a
    /// one-head change: at least `floor_fraction` of the mean, and at least 1.
    pub fn sigma(&self, floor_fraction: f64) -> f64 {
        self.variance
            .sqrt()
            .max(self.mean.abs() * floor_fraction)
            .max(1.0)
    }

    /// How many standard deviations `x` lies from the mean.
    pub fn z(&self, x: f64, floor_fraction: f64) -> f64 {
        (x - self.mean) / self.sigma(floor_fraction)
    }

    pub fn update(&mut self, x: f64, alpha: f64) {
        if self.observations == 0 {
            self.mean = x;
            self.variance = 0.0;
        } else {
            let diff = x - self.mean;
            let incr = alpha * diff;
            self.mean += incr;
            self.variance = (1.0 - alpha) * (self.variance + diff * incr);
        }
        self.observations += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_a_steady_level() {
        let mut b = Baseline::default();
        for i in 0..200 {
            b.update(1_000.0 + if i % 2 == 0 { 20.0 } else { -20.0 }, 0.1);
        }
        assert!((b.mean - 1_000.0).abs() < 3.0, "{b:?}");
        assert!((b.variance.sqrt() - 20.0).abs() < 3.0, "{b:?}");
        assert!(b.z(400.0, 0.02).abs() > 3.0);
        assert!(b.z(1_010.0, 0.02).abs() < 3.0);
    }

    #[test]
    fn sigma_is_floored() {
        let mut b = Baseline::default();
        for _ in 0..50 {
            b.update(500.0, 0.1);
        }
        assert_eq!(b.variance, 0.0);
        assert_eq!(b.sigma(0.05), 25.0);
    }
}
