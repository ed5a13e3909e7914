//! The durable outbox: every notification for every matching subscription is written
//! here (one redb transaction per batch of transitions) before any attempt to send it,
//! and leaves only when delivered or refused for good. A receiver outage or a hub crash
//! therefore loses nothing; a resend after a crash is recognised by receivers through
//! the stable notification id.

use std::path::Path;
use std::time::Duration;

use hub_model::Timestamp;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::DeliveryError;

/// Waiting deliveries by (due time in µs, sequence).
const OUTBOX: TableDefinition<(i64, u64), &[u8]> = TableDefinition::new("outbox");
/// Deliveries refused for good, by (time refused in µs, sequence).
const FAILED: TableDefinition<(i64, u64), &[u8]> = TableDefinition::new("failed");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// One notification for one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The `webhook-id`: stable across retries and restarts.
    pub notification_id: String,
    pub subscription_id: String,
    /// `webhook`, `alertmanager`, `kafka`, `email`.
    pub channel: String,
    pub alert_id: String,
    /// The body, made once so every retry sends (and signs) the same bytes.
    pub body: Vec<u8>,
    pub created_at: Timestamp,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// A waiting delivery's place in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub due: Timestamp,
    seq: u64,
}

/// What a delivery attempt's result means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Network errors, 5xx, 429, 408: try again later.
    Retry,
    /// Any other 4xx: the receiver refuses it; retrying will not help.
    Refused,
}

/// `status`: the HTTP status, or `None` when no response came (connection refused,
/// timeout, reset).
pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        None => Verdict::Retry,
        Some(s) if (200..300).contains(&s) => Verdict::Delivered,
        Some(408 | 429) => Verdict::Retry,
        Some(s) if s >= 500 => Verdict::Retry,
        Some(_) => Verdict::Refused,
    }
}

/// Exponential backoff with jitter: `base · 2^(attempt − 1)`, capped at `max`, then
/// scaled by a factor in `[0.5, 1.0)` from `jitter` (`0 ≤ jitter < 1`), so retries
/// from many deliveries do not arrive together ("equal jitter").
pub fn backoff(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(30));
    exp.min(max)
        .mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 0.999_999))
}

fn store_err(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Store(e.to_string())
}

pub struct Outbox {
    db: Database,
}

impl Outbox {
    pub fn open(path: &Path) -> Result<Self, DeliveryError> {
        let db = Database::create(path)
            .map_err(|e| DeliveryError::Store(format!("cannot open {}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(store_err)?;
        txn.open_table(OUTBOX).map_err(store_err)?;
        txn.open_table(FAILED).map_err(store_err)?;
        txn.open_table(META).map_err(store_err)?;
        txn.commit().map_err(store_err)?;
        Ok(Outbox { db })
    }

    /// Writes `deliveries`, due at `now`, in one transaction.
    pub fn enqueue(&self, deliveries: &[Delivery], now: Timestamp) -> Result<(), DeliveryError> {
        let txn = self.db.begin_write().map_err(store_err)?;
        {
            let mut meta = txn.open_table(META).map_err(store_err)?;
            let mut seq = meta.get("seq").map_err(store_err)?.map_or(0, |v| v.value());
            let mut t = txn.open_table(OUTBOX).map_err(store_err)?;
            for d in deliveries {
                seq += 1;
                let bytes = serde_json::to_vec(d).map_err(store_err)?;
                t.insert((now.0, seq), bytes.as_slice())
                    .map_err(store_err)?;
            }
            meta.insert("seq", seq).map_err(store_err)?;
        }
        txn.commit().map_err(store_err)
    }

    /// Up to `limit` deliveries due at `now`, oldest due first.
    pub fn due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Slot, Delivery)>, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(OUTBOX).map_err(store_err)?;
        let mut out = Vec::new();
        for entry in t
            .range(..=(now.0, u64::MAX))
            .map_err(store_err)?
            .take(limit)
        {
            let (k, v) = entry.map_err(store_err)?;
            let (due, seq) = k.value();
            let d: Delivery = serde_json::from_slice(v.value()).map_err(store_err)?;
            out.push((
                Slot {
                    due: Timestamp(due),
                    seq,
                },
                d,
            ));
        }
        Ok(out)
    }

    /// When the next delivery is due, if any is waiting.
    pub fn next_due(&self) -> Result<Option<Timestamp>, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(OUTBOX).map_err(store_err)?;
        let first = t.first().map_err(store_err)?;
        Ok(first.map(|(k, _)| Timestamp(k.value().0)))
    }

    pub fn delivered(&self, slot: Slot) -> Result<(), DeliveryError> {
        let txn = self.db.begin_write().map_err(store_err)?;
        {
            let mut t = txn.open_table(OUTBOX).map_err(store_err)?;
            t.remove((slot.due.0, slot.seq)).map_err(store_err)?;
        }
        txn.commit().map_err(store_err)
    }

    /// Moves a delivery to `due` with its attempt counted and the error kept.
    pub fn retry(
        &self,
        slot: Slot,
        d: Delivery,
        error: &str,
        due: Timestamp,
    ) -> Result<(), DeliveryError> {
        self.after_attempt(slot, d, error, OUTBOX, due)
    }

    /// Moves a delivery to the failed record (refused by the receiver).
    pub fn refused(
        &self,
        slot: Slot,
        d: Delivery,
        error: &str,
        now: Timestamp,
    ) -> Result<(), DeliveryError> {
        self.after_attempt(slot, d, error, FAILED, now)
    }

    /// Takes a delivery out of its slot and writes it, with the attempt counted and
    /// the error kept, into `table` at `at` — one transaction.
    fn after_attempt(
        &self,
        slot: Slot,
        mut d: Delivery,
        error: &str,
        table: TableDefinition<(i64, u64), &[u8]>,
        at: Timestamp,
    ) -> Result<(), DeliveryError> {
        d.attempts += 1;
        d.last_error = Some(error.to_string());
        let bytes = serde_json::to_vec(&d).map_err(store_err)?;
        let txn = self.db.begin_write().map_err(store_err)?;
        {
            let mut waiting = txn.open_table(OUTBOX).map_err(store_err)?;
            waiting.remove((slot.due.0, slot.seq)).map_err(store_err)?;
        }
        {
            let mut t = txn.open_table(table).map_err(store_err)?;
            t.insert((at.0, slot.seq), bytes.as_slice())
                .map_err(store_err)?;
        }
        txn.commit().map_err(store_err)
    }

    /// Deliveries waiting (the outbox depth).
    pub fn depth(&self) -> Result<u64, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(OUTBOX).map_err(store_err)?;
        t.len().map_err(store_err)
    }

    /// The failed record, oldest first.
    pub fn failed(&self) -> Result<Vec<(Timestamp, Delivery)>, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(FAILED).map_err(store_err)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(store_err)? {
            let (k, v) = entry.map_err(store_err)?;
            out.push((
                Timestamp(k.value().0),
                serde_json::from_slice(v.value()).map_err(store_err)?,
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn delivery(n: u32) -> Delivery {
        Delivery {
            notification_id: format!("ntf-{n}"),
            subscription_id: "sub-1".into(),
            channel: "webhook".into(),
            alert_id: "kiosk_pass_rate/market_id=M-1".into(),
            body: format!("{{\"n\": {n}}}").into_bytes(),
            created_at: Timestamp(0),
            attempts: 0,
            last_error: None,
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(Some(204)), Verdict::Delivered);
        assert_eq!(verdict(None), Verdict::Retry);
        assert_eq!(verdict(Some(503)), Verdict::Retry);
        assert_eq!(verdict(Some(429)), Verdict::Retry);
        assert_eq!(verdict(Some(408)), Verdict::Retry);
        assert_eq!(verdict(Some(400)), Verdict::Refused);
        assert_eq!(verdict(Some(410)), Verdict::Refused);
    }

    #[test]
    fn deliveries_wait_retry_fail_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.redb");
        {
            let o = Outbox::open(&path).unwrap();
            o.enqueue(&[delivery(1), delivery(2), delivery(3)], Timestamp(100))
                .unwrap();
            assert!(o.due(Timestamp(99), 10).unwrap().is_empty(), "not due yet");
            let due = o.due(Timestamp(100), 10).unwrap();
            assert_eq!(
                due.iter()
                    .map(|(_, d)| d.notification_id.as_str())
                    .collect::<Vec<_>>(),
                ["ntf-1", "ntf-2", "ntf-3"]
            );
            let (s1, d1) = due[0].clone();
            o.delivered(s1).unwrap();
            let (s2, d2) = due[1].clone();
            o.retry(s2, d2, "connection refused", Timestamp(500))
                .unwrap();
            let (s3, d3) = due[2].clone();
            o.refused(s3, d3, "HTTP 400", Timestamp(101)).unwrap();
            let _ = d1;
        }
        // A crash or restart: what was written is there.
        let o = Outbox::open(&path).unwrap();
        assert_eq!(o.depth().unwrap(), 1);
        assert_eq!(o.next_due().unwrap(), Some(Timestamp(500)));
        assert!(o.due(Timestamp(499), 10).unwrap().is_empty());
        let due = o.due(Timestamp(500), 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.notification_id, "ntf-2");
        assert_eq!(due[0].1.attempts, 1);
        assert_eq!(due[0].1.last_error.as_deref(), Some("connection refused"));
        assert_eq!(
            due[0].1.body,
            delivery(2).body,
            "the same bytes on every attempt"
        );
        let failed = o.failed().unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].1.notification_id, "ntf-3");
        // Sequence numbers keep counting after a reopen: no slot is reused.
        o.enqueue(&[delivery(4)], Timestamp(100)).unwrap();
        let due = o.due(Timestamp(1_000), 10).unwrap();
        assert_eq!(due.len(), 2);
        assert_ne!(due[0].0, due[1].0);
    }

    proptest! {
        #[test]
        fn backoff_grows_is_capped_and_jittered(attempt in 1u32..64, jitter in 0.0f64..1.0) {
            let base = Duration::from_millis(500);
            let max = Duration::from_secs(300);
            let d = backoff(attempt, base, max, jitter);
            prop_assert!(d <= max);
            prop_assert!(d >= base / 2);
            let full = base.saturating_mul(1u32 << (attempt - 1).min(30)).min(max);
            prop_assert!(d >= full / 2 && d <= full);
        }
    }
}
