//! The durable outbox: every notification for every matching subscription is written
//! here (one durable redb transaction per batch of transitions) before any attempt to
//! send it, and leaves only when delivered or refused for good. A receiver outage or a
//! hub crash therefore loses nothing; a resend after a crash is recognised by receivers
//! through the stable notification id, and the outbox itself drops a notification it
//! already holds or delivered (the `known` table) when a replay makes it again.
//!
//! Each subscription is a FIFO queue keyed `(subscription id, sequence)`: its head is
//! retried (with backoff) before anything behind it is sent, so an agency sees a
//! firing before its resolved even across an outage. Subscriptions do not wait for
//! each other.

use std::path::Path;
use std::time::Duration;

use hub_model::Timestamp;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use serde::{Deserialize, Serialize};

use crate::DeliveryError;

/// Waiting deliveries by (subscription id, sequence).
const WAITING: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("waiting");
/// Every (subscription, notification) ever queued, with when: duplicates are dropped.
const KNOWN: TableDefinition<&str, i64> = TableDefinition::new("known");
/// Finished deliveries (delivered, refused, silenced, dropped) by (finished µs, seq).
const LOG: TableDefinition<(i64, u64), &[u8]> = TableDefinition::new("log");
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
    /// The body (the CloudEvent), made once so every retry sends the same bytes.
    pub body: Vec<u8>,
    pub created_at: Timestamp,
    /// When the next attempt is due.
    pub due: Timestamp,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// How a delivery left the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    /// A 4xx (other than 408/429) or a permanent SMTP error: not retried.
    Refused,
    /// Matched an active silence: recorded, never sent.
    Silenced,
    /// Its subscription was deleted while it waited.
    Dropped,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Delivered,
        Outcome::Refused,
        Outcome::Silenced,
        Outcome::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Refused => "refused",
            Outcome::Silenced => "silenced",
            Outcome::Dropped => "dropped",
        }
    }
}

/// A finished delivery, as the `deliveries` table shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub notification_id: String,
    pub subscription_id: String,
    pub channel: String,
    pub alert_id: String,
    pub outcome: Outcome,
    pub attempts: u32,
    /// The last error, or for `silenced` the silence id.
    pub detail: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Timestamp,
}

impl Record {
    pub fn finish(d: &Delivery, outcome: Outcome, detail: Option<String>, at: Timestamp) -> Self {
        Record {
            notification_id: d.notification_id.clone(),
            subscription_id: d.subscription_id.clone(),
            channel: d.channel.clone(),
            alert_id: d.alert_id.clone(),
            outcome,
            attempts: d.attempts,
            detail,
            created_at: d.created_at,
            finished_at: at,
        }
    }
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
    DeliveryError::Store(format!("outbox: {e}"))
}

fn known_key(d: &Delivery) -> String {
    format!("{}\n{}", d.subscription_id, d.notification_id)
}

/// A queued delivery's place: its subscription's queue and its sequence there.
pub type Seq = u64;

pub struct Outbox {
    db: Database,
}

impl Outbox {
    pub fn open(path: &Path) -> Result<Self, DeliveryError> {
        let db = Database::create(path)
            .map_err(|e| DeliveryError::Store(format!("cannot open {}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(store_err)?;
        txn.open_table(WAITING).map_err(store_err)?;
        txn.open_table(KNOWN).map_err(store_err)?;
        txn.open_table(LOG).map_err(store_err)?;
        txn.open_table(META).map_err(store_err)?;
        txn.commit().map_err(store_err)?;
        Ok(Outbox { db })
    }

    /// Queues `deliveries` and records `finished` (e.g. silenced ones) in one durable
    /// transaction; a (subscription, notification) already known is skipped. Returns
    /// how many were queued.
    pub fn enqueue(
        &self,
        deliveries: &[Delivery],
        finished: &[Record],
    ) -> Result<usize, DeliveryError> {
        let txn = self.db.begin_write().map_err(store_err)?;
        let mut queued = 0;
        {
            let mut meta = txn.open_table(META).map_err(store_err)?;
            let mut seq = meta.get("seq").map_err(store_err)?.map_or(0, |v| v.value());
            let mut waiting = txn.open_table(WAITING).map_err(store_err)?;
            let mut known = txn.open_table(KNOWN).map_err(store_err)?;
            for d in deliveries {
                let key = known_key(d);
                if known.get(key.as_str()).map_err(store_err)?.is_some() {
                    continue;
                }
                known
                    .insert(key.as_str(), d.created_at.0)
                    .map_err(store_err)?;
                seq += 1;
                let bytes = serde_json::to_vec(d).map_err(store_err)?;
                waiting
                    .insert((d.subscription_id.as_str(), seq), bytes.as_slice())
                    .map_err(store_err)?;
                queued += 1;
            }
            let mut log = txn.open_table(LOG).map_err(store_err)?;
            for r in finished {
                // A silenced notification is known too: a replay after the silence
                // ended must not send it.
                let key = format!("{}\n{}", r.subscription_id, r.notification_id);
                if known.get(key.as_str()).map_err(store_err)?.is_some() {
                    continue;
                }
                known
                    .insert(key.as_str(), r.created_at.0)
                    .map_err(store_err)?;
                seq += 1;
                let bytes = serde_json::to_vec(r).map_err(store_err)?;
                log.insert((r.finished_at.0, seq), bytes.as_slice())
                    .map_err(store_err)?;
            }
            meta.insert("seq", seq).map_err(store_err)?;
        }
        txn.commit().map_err(store_err)?;
        Ok(queued)
    }

    /// Subscriptions with waiting deliveries and when each one's head is due.
    pub fn heads(&self) -> Result<Vec<(String, Timestamp)>, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(WAITING).map_err(store_err)?;
        let mut out = Vec::new();
        let mut from: Option<String> = None;
        loop {
            let next = match &from {
                None => t.first().map_err(store_err)?,
                Some(after) => {
                    // The first key past every `(after, _)`: `after` + NUL sorts next.
                    let bound = format!("{after}\0");
                    let mut r = t.range((bound.as_str(), 0)..).map_err(store_err)?;
                    r.next().transpose().map_err(store_err)?
                }
            };
            let Some((k, v)) = next else { break };
            let sub = k.value().0.to_string();
            let d: Delivery = serde_json::from_slice(v.value()).map_err(store_err)?;
            out.push((sub.clone(), d.due));
            from = Some(sub);
        }
        Ok(out)
    }

    /// The head of `subscription`'s queue and the deliveries right behind it that are
    /// also due at `now` (at most `max`), in order; empty if the head is not due.
    pub fn due(
        &self,
        subscription: &str,
        now: Timestamp,
        max: usize,
    ) -> Result<Vec<(Seq, Delivery)>, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(WAITING).map_err(store_err)?;
        let mut out = Vec::new();
        for entry in t
            .range((subscription, 0)..=(subscription, u64::MAX))
            .map_err(store_err)?
        {
            let (k, v) = entry.map_err(store_err)?;
            let d: Delivery = serde_json::from_slice(v.value()).map_err(store_err)?;
            if d.due > now || out.len() >= max {
                break;
            }
            out.push((k.value().1, d));
        }
        Ok(out)
    }

    /// Takes `batch` out of the queue and logs it as `outcome` (rows no longer queued —
    /// dropped meanwhile — are left alone). Delivered batches are committed without an
    /// fsync: they become durable with the next durable commit (any enqueue, retry,
    /// refusal or drop), so a crash resends at most what was delivered since then,
    /// with the same ids. Refusals and drops are durable.
    pub fn finish(
        &self,
        batch: &[(Seq, Delivery)],
        outcome: Outcome,
        detail: Option<&str>,
        now: Timestamp,
    ) -> Result<(), DeliveryError> {
        let mut txn = self.db.begin_write().map_err(store_err)?;
        if outcome == Outcome::Delivered {
            txn.set_durability(Durability::None).map_err(store_err)?;
        }
        {
            let mut waiting = txn.open_table(WAITING).map_err(store_err)?;
            let mut log = txn.open_table(LOG).map_err(store_err)?;
            for (seq, d) in batch {
                let removed = waiting
                    .remove((d.subscription_id.as_str(), *seq))
                    .map_err(store_err)?
                    .is_some();
                if !removed {
                    continue; // already finished (its subscription was deleted meanwhile)
                }
                let mut d = d.clone();
                d.attempts += 1;
                let r = Record::finish(&d, outcome, detail.map(str::to_string), now);
                let bytes = serde_json::to_vec(&r).map_err(store_err)?;
                log.insert((now.0, *seq), bytes.as_slice())
                    .map_err(store_err)?;
            }
        }
        txn.commit().map_err(store_err)
    }

    /// Counts a failed attempt on `batch` and makes it due again at `due`.
    pub fn retry(
        &self,
        batch: &[(Seq, Delivery)],
        error: &str,
        due: Timestamp,
    ) -> Result<(), DeliveryError> {
        let txn = self.db.begin_write().map_err(store_err)?;
        {
            let mut waiting = txn.open_table(WAITING).map_err(store_err)?;
            for (seq, d) in batch {
                let key = (d.subscription_id.as_str(), *seq);
                if waiting.get(key).map_err(store_err)?.is_none() {
                    continue; // dropped meanwhile (its subscription was deleted)
                }
                let mut d = d.clone();
                d.attempts += 1;
                d.last_error = Some(error.to_string());
                d.due = due;
                let bytes = serde_json::to_vec(&d).map_err(store_err)?;
                waiting
                    .insert((d.subscription_id.as_str(), *seq), bytes.as_slice())
                    .map_err(store_err)?;
            }
        }
        txn.commit().map_err(store_err)
    }

    /// Drops every waiting delivery of a deleted subscription (logged as `dropped`).
    pub fn drop_subscription(
        &self,
        subscription: &str,
        now: Timestamp,
    ) -> Result<usize, DeliveryError> {
        let batch = self.due(subscription, Timestamp(i64::MAX), usize::MAX)?;
        if !batch.is_empty() {
            self.finish(&batch, Outcome::Dropped, Some("subscription deleted"), now)?;
        }
        Ok(batch.len())
    }

    /// Deliveries waiting (the outbox depth).
    pub fn depth(&self) -> Result<u64, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(WAITING).map_err(store_err)?;
        t.len().map_err(store_err)
    }

    /// Every waiting delivery, by subscription then order.
    pub fn waiting(&self) -> Result<Vec<Delivery>, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(WAITING).map_err(store_err)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(store_err)? {
            let (_, v) = entry.map_err(store_err)?;
            out.push(serde_json::from_slice(v.value()).map_err(store_err)?);
        }
        Ok(out)
    }

    /// The finished record, oldest first.
    pub fn log(&self) -> Result<Vec<Record>, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(LOG).map_err(store_err)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(store_err)? {
            let (_, v) = entry.map_err(store_err)?;
            out.push(serde_json::from_slice(v.value()).map_err(store_err)?);
        }
        Ok(out)
    }

    /// Forgets finished records and known ids older than `before`.
    pub fn prune(&self, before: Timestamp) -> Result<(), DeliveryError> {
        let txn = self.db.begin_write().map_err(store_err)?;
        {
            let mut log = txn.open_table(LOG).map_err(store_err)?;
            log.retain_in(..(before.0, 0), |_, _| false)
                .map_err(store_err)?;
            let mut known = txn.open_table(KNOWN).map_err(store_err)?;
            known.retain(|_, t| t >= before.0).map_err(store_err)?;
        }
        txn.commit().map_err(store_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn delivery(sub: &str, n: u32) -> Delivery {
        Delivery {
            notification_id: format!("ntf-{n}"),
            subscription_id: sub.into(),
            channel: "webhook".into(),
            alert_id: "kiosk_pass_rate/market_id=M-1".into(),
            body: format!("{{\"n\": {n}}}").into_bytes(),
            created_at: Timestamp(100),
            due: Timestamp(100),
            attempts: 0,
            last_error: None,
        }
    }

    fn ids(batch: &[(Seq, Delivery)]) -> Vec<&str> {
        batch
            .iter()
            .map(|(_, d)| d.notification_id.as_str())
            .collect()
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
    fn queues_per_subscription_in_order_with_head_of_line_retry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.redb");
        {
            let o = Outbox::open(&path).unwrap();
            let all = [
                delivery("a", 1),
                delivery("b", 2),
                delivery("a", 3),
                delivery("a", 4),
            ];
            assert_eq!(o.enqueue(&all, &[]).unwrap(), 4);
            assert_eq!(
                o.enqueue(&all[..2], &[]).unwrap(),
                0,
                "duplicates are dropped"
            );
            assert_eq!(
                o.heads().unwrap(),
                [
                    ("a".to_string(), Timestamp(100)),
                    ("b".to_string(), Timestamp(100))
                ]
            );
            assert!(
                o.due("a", Timestamp(99), 10).unwrap().is_empty(),
                "not due yet"
            );
            let a = o.due("a", Timestamp(100), 10).unwrap();
            assert_eq!(ids(&a), ["ntf-1", "ntf-3", "ntf-4"]);
            // The head fails: it and everything behind it wait.
            o.retry(&a[..1], "connection refused", Timestamp(500))
                .unwrap();
            assert!(
                o.due("a", Timestamp(499), 10).unwrap().is_empty(),
                "head-of-line"
            );
            let b = o.due("b", Timestamp(100), 10).unwrap();
            o.finish(&b, Outcome::Refused, Some("HTTP 400"), Timestamp(101))
                .unwrap();
        }
        // A crash or restart: what was written is there.
        let o = Outbox::open(&path).unwrap();
        assert_eq!(o.depth().unwrap(), 3);
        assert_eq!(o.heads().unwrap(), [("a".to_string(), Timestamp(500))]);
        let a = o.due("a", Timestamp(500), 1).unwrap();
        assert_eq!(ids(&a), ["ntf-1"]);
        assert_eq!(a[0].1.attempts, 1);
        assert_eq!(a[0].1.last_error.as_deref(), Some("connection refused"));
        assert_eq!(
            a[0].1.body,
            delivery("a", 1).body,
            "the same bytes every attempt"
        );
        o.finish(&a, Outcome::Delivered, None, Timestamp(501))
            .unwrap();
        assert_eq!(
            ids(&o.due("a", Timestamp(501), 10).unwrap()),
            ["ntf-3", "ntf-4"]
        );
        let log = o.log().unwrap();
        assert_eq!(
            log.iter()
                .map(|r| (r.notification_id.as_str(), r.outcome, r.attempts))
                .collect::<Vec<_>>(),
            [
                ("ntf-2", Outcome::Refused, 1),
                ("ntf-1", Outcome::Delivered, 2)
            ]
        );
        // Delivered ones stay known: a replay after a crash does not queue them again.
        assert_eq!(o.enqueue(&[delivery("a", 1)], &[]).unwrap(), 0);
        assert_eq!(o.drop_subscription("a", Timestamp(600)).unwrap(), 2);
        assert_eq!(o.depth().unwrap(), 0);
        o.prune(Timestamp(550)).unwrap();
        assert_eq!(o.log().unwrap().len(), 2, "the two drops at 600 remain");
        assert_eq!(
            o.enqueue(&[delivery("a", 1)], &[]).unwrap(),
            1,
            "forgotten once pruned"
        );
    }

    #[test]
    fn an_attempt_ending_after_its_subscription_was_dropped_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(&dir.path().join("outbox.redb")).unwrap();
        o.enqueue(&[delivery("a", 1), delivery("a", 2)], &[])
            .unwrap();
        let in_flight = o.due("a", Timestamp(100), 1).unwrap();
        assert_eq!(o.drop_subscription("a", Timestamp(150)).unwrap(), 2);
        // The attempt that was in flight fails, or succeeds: neither resurrects it.
        o.retry(&in_flight, "HTTP 503", Timestamp(500)).unwrap();
        assert_eq!(o.depth().unwrap(), 0);
        o.finish(&in_flight, Outcome::Delivered, None, Timestamp(160))
            .unwrap();
        let log = o.log().unwrap();
        assert_eq!(log.len(), 2, "logged once, as dropped: {log:?}");
        assert!(log.iter().all(|r| r.outcome == Outcome::Dropped));
    }

    #[test]
    fn silenced_notifications_are_known() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(&dir.path().join("outbox.redb")).unwrap();
        let d = delivery("a", 1);
        let silenced = Record::finish(&d, Outcome::Silenced, Some("sil-1".into()), Timestamp(100));
        o.enqueue(&[], std::slice::from_ref(&silenced)).unwrap();
        o.enqueue(&[], &[silenced]).unwrap();
        assert_eq!(o.log().unwrap().len(), 1, "recorded once");
        assert_eq!(
            o.enqueue(&[d], &[]).unwrap(),
            0,
            "a replay after the silence ended does not send it"
        );
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
