//! The sender: from the outbox to the agencies. Each subscription's queue is worked
//! by at most one task at a time, head first: a batch (one notification, or what a
//! grouping window gathered) is attempted; delivered or refused batches leave the
//! queue, failed ones wait with exponential backoff and jitter while the queue
//! behind them waits too. Subscriptions proceed independently. Outbox reads and
//! writes (redb, with fsync) run on the blocking pool, not on the async workers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hub_model::Timestamp;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::dispatcher::Dispatcher;
use crate::outbox::{backoff, Delivery, Outbox, Outcome, Seq, Verdict};
use crate::DeliveryError;

/// How often the sender looks at the outbox when nothing wakes it, and prunes.
const IDLE_POLL: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// A queue whose outbox bookkeeping failed (disk full, …) rests this long before
/// it is tried again, so a stored-but-unrecorded success is not re-sent in a loop.
const STORE_ERROR_PAUSE: Duration = Duration::from_secs(5);

/// Runs an outbox operation on the blocking pool.
async fn outbox<T: Send + 'static>(
    d: &Dispatcher,
    f: impl FnOnce(&Outbox) -> Result<T, DeliveryError> + Send + 'static,
) -> Result<T, DeliveryError> {
    let o = d.outbox.clone();
    tokio::task::spawn_blocking(move || f(&o))
        .await
        .map_err(|e| DeliveryError::Store(format!("outbox task failed: {e}")))?
}

pub(crate) async fn run(d: Arc<Dispatcher>, cancel: CancellationToken) {
    // Subscription id by the task working its queue.
    let mut in_flight: HashMap<Id, String> = HashMap::new();
    // Queues resting after a store error, until then.
    let mut resting: HashMap<String, Instant> = HashMap::new();
    let mut tasks: JoinSet<Option<Duration>> = JoinSet::new();
    let mut last_prune = Instant::now();
    loop {
        let now = Timestamp::now();
        let heads = match outbox(&d, |o| o.heads()).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "reading the outbox failed");
                Vec::new()
            }
        };
        resting.retain(|_, until| *until > Instant::now());
        let mut next_due: Option<Timestamp> = None;
        for (sub, due) in heads {
            if resting.contains_key(&sub) || in_flight.values().any(|s| *s == sub) {
                continue;
            }
            if due <= now {
                let h = tasks.spawn(work_queue(d.clone(), sub.clone(), cancel.clone()));
                in_flight.insert(h.id(), sub);
            } else {
                next_due = Some(next_due.map_or(due, |n| n.min(due)));
            }
        }
        if let Some(m) = &d.metrics {
            if let Ok(depth) = outbox(&d, |o| o.depth()).await {
                m.outbox_depth.set(depth as i64);
            }
            let active = d
                .current_silences()
                .iter()
                .filter(|s| s.active(now))
                .count();
            m.silences_active.set(active as i64);
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            let before = Timestamp(now.0.saturating_sub(d.config.retention.as_micros() as i64));
            if let Err(e) = outbox(&d, move |o| o.prune(before)).await {
                tracing::warn!(error = %e, "pruning the delivery log failed");
            }
        }
        let sleep = next_due.map_or(IDLE_POLL, |t| {
            Duration::from_micros((t.0 - now.0).max(0) as u64).min(IDLE_POLL)
        });
        tokio::select! {
            _ = d.wake.notified() => {}
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (id, pause) = match done {
                    Ok((id, pause)) => (id, pause),
                    Err(e) => {
                        tracing::error!(error = %e, "a delivery task failed");
                        (e.id(), Some(STORE_ERROR_PAUSE))
                    }
                };
                if let Some(sub) = in_flight.remove(&id) {
                    if let Some(p) = pause {
                        resting.insert(sub, Instant::now() + p);
                    }
                }
            }
            _ = tokio::time::sleep(sleep) => {}
            _ = cancel.cancelled() => break,
        }
    }
    // In-flight attempts finish (bounded by the channel timeout) so their outcome is
    // recorded; anything else waits in the outbox for the next start.
    while tasks.join_next().await.is_some() {}
}

/// Sends from `sub`'s queue while its head is due (and the hub is not stopping).
/// Returns a pause when the outbox could not be read or written.
async fn work_queue(
    d: Arc<Dispatcher>,
    sub: String,
    cancel: CancellationToken,
) -> Option<Duration> {
    while !cancel.is_cancelled() {
        let Some(spec) = d.subscription(&sub) else {
            // Deleted (or a config subscription gone) while this was queued.
            let (s, now) = (sub.clone(), Timestamp::now());
            if let Err(e) = outbox(&d, move |o| o.drop_subscription(&s, now)).await {
                tracing::error!(subscription = %sub, error = %e, "dropping deliveries failed");
                return Some(STORE_ERROR_PAUSE);
            }
            return None;
        };
        let max = if spec.group_wait.is_some_and(|w| !w.is_zero()) {
            d.config.max_batch
        } else {
            1
        };
        let (s, now) = (sub.clone(), Timestamp::now());
        let batch = match outbox(&d, move |o| o.due(&s, now, max)).await {
            Ok(b) if !b.is_empty() => b,
            Ok(_) => return None,
            Err(e) => {
                tracing::error!(subscription = %sub, error = %e, "reading the outbox failed");
                return Some(STORE_ERROR_PAUSE);
            }
        };
        let channel = spec.channel.kind();
        let deliveries: Vec<Delivery> = batch.iter().map(|(_, d)| d.clone()).collect();
        let span = tracing::info_span!("deliver", subscription = %sub, channel, notifications = deliveries.len(), first = %deliveries[0].notification_id);
        let attempt = d
            .channels
            .send(&spec.channel, &deliveries)
            .instrument(span.clone())
            .await;
        let now = Timestamp::now();
        if let Some(m) = &d.metrics {
            let result = match attempt.verdict {
                Verdict::Delivered => "delivered",
                Verdict::Retry => "retry",
                Verdict::Refused => "refused",
            };
            m.attempts.with_label_values(&[channel, result]).inc();
        }
        let stored = match attempt.verdict {
            Verdict::Delivered => finish(&d, batch, Outcome::Delivered, None, now, channel).await,
            Verdict::Refused => {
                let why = attempt.error.unwrap_or_else(|| "refused".into());
                tracing::warn!(parent: &span, error = %why, "the receiver refused the notification; it is recorded as failed and not retried");
                finish(&d, batch, Outcome::Refused, Some(why), now, channel).await
            }
            Verdict::Retry => {
                let why = attempt.error.unwrap_or_else(|| "failed".into());
                let attempts = batch[0].1.attempts + 1;
                let wait = backoff(
                    attempts,
                    d.config.retry_base,
                    d.config.retry_max,
                    rand::random::<f64>(),
                );
                tracing::info!(parent: &span, error = %why, attempts, retry_in = ?wait, "delivery failed; will retry");
                let due = now.plus(wait);
                match outbox(&d, move |o| o.retry(&batch, &why, due)).await {
                    Ok(()) => return None,
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = stored {
            tracing::error!(subscription = %sub, error = %e, "recording a delivery outcome failed");
            return Some(STORE_ERROR_PAUSE);
        }
    }
    None
}

async fn finish(
    d: &Dispatcher,
    batch: Vec<(Seq, Delivery)>,
    outcome: Outcome,
    detail: Option<String>,
    now: Timestamp,
    channel: &str,
) -> Result<(), DeliveryError> {
    let created: Vec<Timestamp> = batch.iter().map(|(_, x)| x.created_at).collect();
    outbox(d, move |o| {
        o.finish(&batch, outcome, detail.as_deref(), now)
    })
    .await?;
    if let Some(m) = &d.metrics {
        m.deliveries
            .with_label_values(&[channel, outcome.as_str()])
            .inc_by(created.len() as u64);
        if outcome == Outcome::Delivered {
            for c in created {
                m.latency
                    .with_label_values(&[channel])
                    .observe((now.0 - c.0).max(0) as f64 / 1e6);
            }
        }
    }
    Ok(())
}
