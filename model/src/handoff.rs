//! The hand-off of alert transitions from the rule stage to delivery. The stage counts
//! what it sends; delivery counts what it has made durable (queued in its outbox, or
//! found to need no delivery). A checkpoint waits until the two agree, so a
//! checkpoint never covers a transition that is not yet in the outbox: after a crash,
//! a transition is either re-derived from the replayed input or already queued.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct TransitionHandoff {
    /// (sent by the stage, made durable by delivery).
    counts: Mutex<(u64, u64)>,
    changed: Condvar,
}

impl TransitionHandoff {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stage handed `n` more transitions to the channel.
    pub fn sent(&self, n: u64) {
        self.counts.lock().expect("handoff lock").0 += n;
    }

    /// Delivery made `n` more transitions durable.
    pub fn durable(&self, n: u64) {
        self.counts.lock().expect("handoff lock").1 += n;
        self.changed.notify_all();
    }

    /// Blocks until every transition sent so far is durable; `Err(missing)` after
    /// `timeout`.
    pub fn wait(&self, timeout: Duration) -> Result<(), u64> {
        let deadline = Instant::now() + timeout;
        let mut c = self.counts.lock().expect("handoff lock");
        let target = c.0;
        while c.1 < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(target - c.1);
            }
            c = self.changed.wait_timeout(c, left).expect("handoff lock").0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn waits_for_what_was_sent_before_it() {
        let h = Arc::new(TransitionHandoff::new());
        assert_eq!(h.wait(Duration::ZERO), Ok(()));
        h.sent(3);
        assert_eq!(h.wait(Duration::from_millis(1)), Err(3));
        let d = h.clone();
        let t = std::thread::spawn(move || {
            d.durable(1);
            d.durable(2);
        });
        assert_eq!(h.wait(Duration::from_secs(30)), Ok(()));
        t.join().unwrap();
    }
}
