//! Pacing a producer at a rate without drift: the messages owed are computed from the
//! time that has really passed, not from the number of ticks.

use std::time::Duration;

/// Counts how many messages are owed at a rate of `rate` per second.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    rate: f64,
    /// Messages that should have been sent by now (fractional).
    owed: f64,
    sent: u64,
}

impl Pacer {
    pub(crate) fn new(rate: f64) -> Self {
        Pacer {
            rate,
            owed: 0.0,
            sent: 0,
        }
    }

    /// Credits `elapsed` of real time at `weight` × the rate (the daily rhythm, or 1).
    pub(crate) fn credit(&mut self, elapsed: Duration, weight: f64) {
        self.owed += self.rate * weight * elapsed.as_secs_f64();
    }

    /// Messages owed and not yet sent.
    pub(crate) fn due(&self) -> u64 {
        (self.owed.floor() as u64).saturating_sub(self.sent)
    }

    pub(crate) fn mark_sent(&mut self) {
        self.sent += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_drift_over_many_uneven_ticks() {
        let mut pacer = Pacer::new(333.3);
        let mut sent = 0u64;
        for i in 0..1000u64 {
            // Ticks of 7–13 ms, 10 ms on average.
            pacer.credit(Duration::from_millis(7 + i % 7), 1.0);
            for _ in 0..pacer.due() {
                pacer.mark_sent();
                sent += 1;
            }
        }
        let elapsed: u64 = (0..1000u64).map(|i| 7 + i % 7).sum();
        let expected = (333.3 * elapsed as f64 / 1000.0).floor() as u64;
        assert_eq!(sent, expected);
    }

    #[test]
    fn weight_scales_the_rate() {
        let mut pacer = Pacer::new(100.0);
        pacer.credit(Duration::from_secs(2), 0.5);
        assert_eq!(pacer.due(), 100);
        pacer.mark_sent();
        assert_eq!(pacer.due(), 99);
    }
}
