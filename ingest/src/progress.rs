//! Where the hub stands on each partition: the next offset to process (shared by the
//! pipeline, the rebalance callback and the lag metric), the broker's high watermarks,
//! and whether the hub has caught up (`/readyz`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Instant;

type Key = (String, i32);

#[derive(Default)]
struct Inner {
    next: HashMap<Key, i64>,
    high: HashMap<Key, i64>,
    assigned: BTreeSet<Key>,
    /// Processed but not yet checkpointed since this instant.
    dirty_since: Option<Instant>,
}

#[derive(Default)]
pub struct Progress {
    inner: Mutex<Inner>,
}

/// Lag of one assigned partition; `None` until the broker reported its high watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub next_offset: Option<i64>,
    pub high_watermark: Option<i64>,
}

impl PartitionLag {
    pub fn lag(&self) -> Option<i64> {
        let high = self.high_watermark?;
        Some((high - self.next_offset.unwrap_or(0)).max(0))
    }
}

impl Progress {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn restore(&self, offsets: &[(String, i32, i64)]) {
        let mut g = self.lock();
        for (t, p, o) in offsets {
            g.next.insert((t.clone(), *p), *o);
        }
    }

    pub fn next_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.lock()
            .next
            .get(&(topic.to_string(), partition))
            .copied()
    }

    /// Records processed offsets of one micro-batch.
    pub fn advance(&self, offsets: impl IntoIterator<Item = (Key, i64)>) {
        let mut g = self.lock();
        for (k, next) in offsets {
            let e = g.next.entry(k).or_insert(next);
            *e = (*e).max(next);
        }
        if g.dirty_since.is_none() {
            g.dirty_since = Some(Instant::now());
        }
    }

    pub fn offsets(&self) -> Vec<(String, i32, i64)> {
        let g = self.lock();
        let mut v: Vec<_> = g
            .next
            .iter()
            .map(|((t, p), o)| (t.clone(), *p, *o))
            .collect();
        v.sort();
        v
    }

    pub fn mark_checkpointed(&self) {
        self.lock().dirty_since = None;
    }

    /// Seconds the oldest processed-but-not-checkpointed work has waited (0 when none).
    pub fn checkpoint_age_seconds(&self) -> f64 {
        self.lock()
            .dirty_since
            .map(|t| t.elapsed().as_secs_f64())
            .unwrap_or(0.0)
    }

    pub fn set_assigned(&self, partitions: impl IntoIterator<Item = Key>) {
        self.lock().assigned = partitions.into_iter().collect();
    }

    pub fn set_high_watermark(&self, topic: &str, partition: i32, high: i64) {
        if high >= 0 {
            self.lock()
                .high
                .insert((topic.to_string(), partition), high);
        }
    }

    pub fn lags(&self) -> Vec<PartitionLag> {
        let g = self.lock();
        g.assigned
            .iter()
            .map(|k| PartitionLag {
                topic: k.0.clone(),
                partition: k.1,
                next_offset: g.next.get(k).copied(),
                high_watermark: g.high.get(k).copied(),
            })
            .collect()
    }

    /// Caught up: partitions are assigned and each lags by at most `max_lag` messages.
    pub fn caught_up(&self, max_lag: i64) -> bool {
        let lags = self.lags();
        !lags.is_empty()
            && lags
                .iter()
                .all(|l| l.lag().is_some_and(|lag| lag <= max_lag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caught_up_needs_assignment_and_watermarks() {
        let p = Progress::default();
        assert!(!p.caught_up(10));
        p.set_assigned([("t".to_string(), 0)]);
        assert!(!p.caught_up(10), "no watermark yet");
        p.set_high_watermark("t", 0, 100);
        assert!(!p.caught_up(10));
        p.advance([(("t".to_string(), 0), 95)]);
        assert!(p.caught_up(10));
        assert_eq!(p.lags()[0].lag(), Some(5));
    }
}
