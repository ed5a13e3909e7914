//! Deduplication by `event_id` in bounded memory.
//!
//! The set holds 128-bit XXH3 hashes of the last `capacity` distinct event ids in
//! arrival order; when full, the oldest is forgotten. Memory is therefore fixed at about
//! 40 bytes per entry (16 in the FIFO, ~24 in the hash index), 40 MB for the default
//! million. A 128-bit hash makes a false "duplicate" (a lost event) practically
//! impossible: with 10^6 entries the chance per event is below 10^-32.
//! The set is part of the checkpoint, so a replay after a crash sees the same set.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use hub_model::Feed;
use xxhash_rust::xxh3::xxh3_128;

/// The hashes are already uniformly distributed: index them without hashing again.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(buf);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

pub struct DedupSet {
    index: HashSet<u128, BuildHasherDefault<PassThrough>>,
    order: VecDeque<u128>,
    capacity: usize,
}

impl DedupSet {
    pub fn new(capacity: usize) -> Self {
        DedupSet {
            index: HashSet::with_capacity_and_hasher(capacity.min(1 << 20), Default::default()),
            order: VecDeque::with_capacity(capacity.min(1 << 20)),
            capacity: capacity.max(1),
        }
    }

    /// Identity is per feed: the same `event_id` in two feeds is two events.
    pub fn key(feed: Feed, event_id: &str) -> u128 {
        let mut bytes = Vec::with_capacity(event_id.len() + 10);
        bytes.extend_from_slice(feed.as_str().as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(event_id.as_bytes());
        xxh3_128(&bytes)
    }

    /// True when `event_id` is new (and now remembered), false for a duplicate.
    pub fn insert(&mut self, feed: Feed, event_id: &str) -> bool {
        self.insert_key(Self::key(feed, event_id))
    }

    fn insert_key(&mut self, key: u128) -> bool {
        if !self.index.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.index.remove(&old);
            }
        }
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The remembered keys, oldest first (for the checkpoint).
    pub fn keys(&self) -> impl Iterator<Item = u128> + '_ {
        self.order.iter().copied()
    }

    /// Rebuilds the set from checkpointed keys, oldest first.
    pub fn from_keys(capacity: usize, keys: impl IntoIterator<Item = u128>) -> Self {
        let mut set = DedupSet::new(capacity);
        for k in keys {
            set.insert_key(k);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn second_sighting_is_a_duplicate() {
        let mut s = DedupSet::new(10);
        assert!(s.insert(Feed::Kiosk, "a"));
        assert!(!s.insert(Feed::Kiosk, "a"));
        assert!(s.insert(Feed::Kiosk, "b"));
    }

    #[test]
    fn the_same_id_in_two_feeds_is_two_events() {
        let mut s = DedupSet::new(10);
        assert!(s.insert(Feed::Kiosk, "x"));
        assert!(s.insert(Feed::Export, "x"));
        assert!(!s.insert(Feed::Export, "x"));
    }

    #[test]
    fn oldest_is_forgotten_at_capacity() {
        let mut s = DedupSet::new(2);
        assert!(s.insert(Feed::Kiosk, "a"));
        assert!(s.insert(Feed::Kiosk, "b"));
        assert!(s.insert(Feed::Kiosk, "c"));
        assert_eq!(s.len(), 2);
        assert!(
            s.insert(Feed::Kiosk, "a"),
            "a was evicted, so it counts as new"
        );
        assert!(!s.insert(Feed::Kiosk, "c"));
    }

    proptest! {
        #[test]
        fn matches_a_model_within_capacity(ids in proptest::collection::vec(0u16..200, 0..400), cap in 1usize..64) {
            let mut s = DedupSet::new(cap);
            let mut model: VecDeque<u16> = VecDeque::new();
            for id in ids {
                let new_in_model = !model.contains(&id);
                if new_in_model {
                    model.push_back(id);
                    if model.len() > cap { model.pop_front(); }
                }
                prop_assert_eq!(s.insert(Feed::Kiosk, &id.to_string()), new_in_model);
                prop_assert!(s.len() <= cap);
            }
            let restored = DedupSet::from_keys(cap, s.keys());
            prop_assert_eq!(restored.keys().collect::<Vec<_>>(), s.keys().collect::<Vec<_>>());
        }
    }
}
