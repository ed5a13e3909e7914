//! The sender: from the outbox to the agencies. Each subscription's queue is worked
//! by at most one task at a time, head first: a batch (one notification, or what a
//! grouping window gathered) is attempted; delivered or refused batches leave the
//! queue, failed ones wait with exponential backoff and jitter while the queue
//! behind them waits too. Subscriptions proceed independently.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use hub_model::Timestamp;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::dispatcher::Dispatcher;
use crate::outbox::{backoff, Delivery, Outcome, Seq, Verdict};

/// How often the sender looks at the outbox when nothing wakes it, and prunes.
const IDLE_POLL: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub(crate) async fn run(d: Arc<Dispatcher>, cancel: CancellationToken) {
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut tasks: JoinSet<String> = JoinSet::new();
    let mut last_prune = tokio::time::Instant::now();
    loop {
        let now = Timestamp::now();
        let heads = match d.outbox.heads() {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "reading the outbox failed");
                Vec::new()
            }
        };
        let mut next_due: Option<Timestamp> = None;
        for (sub, due) in heads {
            if in_flight.contains(&sub) {
                continue;
            }
            if due <= now {
                in_flight.insert(sub.clone());
                tasks.spawn(work_queue(d.clone(), sub));
            } else {
                next_due = Some(next_due.map_or(due, |n| n.min(due)));
            }
        }
        if let Some(m) = &d.metrics {
            if let Ok(depth) = d.outbox.depth() {
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
            last_prune = tokio::time::Instant::now();
            let before = Timestamp(now.0.saturating_sub(d.config.retention.as_micros() as i64));
            if let Err(e) = d.outbox.prune(before) {
                tracing::warn!(error = %e, "pruning the delivery log failed");
            }
        }
        let sleep = next_due.map_or(IDLE_POLL, |t| {
            Duration::from_micros((t.0 - now.0).max(0) as u64).min(IDLE_POLL)
        });
        tokio::select! {
            _ = d.wake.notified() => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                match done {
                    Ok(sub) => { in_flight.remove(&sub); }
                    Err(e) => {
                        tracing::error!(error = %e, "a delivery task failed");
                        in_flight.clear();
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

/// Sends from `sub`'s queue while its head is due; returns `sub`.
async fn work_queue(d: Arc<Dispatcher>, sub: String) -> String {
    loop {
        let Some(spec) = d.subscription(&sub) else {
            // Deleted (or a config subscription gone) while this was queued.
            if let Err(e) = d.outbox.drop_subscription(&sub, Timestamp::now()) {
                tracing::error!(subscription = %sub, error = %e, "dropping deliveries failed");
            }
            return sub;
        };
        let max = if spec.group_wait.is_some_and(|w| !w.is_zero()) {
            d.config.max_batch
        } else {
            1
        };
        let batch = match d.outbox.due(&sub, Timestamp::now(), max) {
            Ok(b) if !b.is_empty() => b,
            Ok(_) => return sub,
            Err(e) => {
                tracing::error!(subscription = %sub, error = %e, "reading the outbox failed");
                return sub;
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
            Verdict::Delivered => finish(&d, &batch, Outcome::Delivered, None, now, channel),
            Verdict::Refused => {
                let why = attempt.error.as_deref().unwrap_or("refused");
                tracing::warn!(parent: &span, error = why, "the receiver refused the notification; it is recorded as failed and not retried");
                finish(&d, &batch, Outcome::Refused, Some(why), now, channel)
            }
            Verdict::Retry => {
                let why = attempt.error.as_deref().unwrap_or("failed");
                let attempts = batch[0].1.attempts + 1;
                let wait = backoff(
                    attempts,
                    d.config.retry_base,
                    d.config.retry_max,
                    rand::random::<f64>(),
                );
                tracing::info!(parent: &span, error = why, attempts, retry_in = ?wait, "delivery failed; will retry");
                let r = d.outbox.retry(&batch, why, now.plus(wait));
                if r.is_ok() {
                    return sub;
                }
                r
            }
        };
        if let Err(e) = stored {
            tracing::error!(subscription = %sub, error = %e, "recording a delivery outcome failed");
            return sub;
        }
    }
}

fn finish(
    d: &Dispatcher,
    batch: &[(Seq, Delivery)],
    outcome: Outcome,
    detail: Option<&str>,
    now: Timestamp,
    channel: &str,
) -> Result<(), crate::DeliveryError> {
    d.outbox.finish(batch, outcome, detail, now)?;
    if let Some(m) = &d.metrics {
        m.deliveries
            .with_label_values(&[channel, outcome.as_str()])
            .inc_by(batch.len() as u64);
        if outcome == Outcome::Delivered {
            for (_, x) in batch {
                m.latency
                    .with_label_values(&[channel])
                    .observe((now.0 - x.created_at.0).max(0) as f64 / 1e6);
            }
        }
    }
    Ok(())
}
