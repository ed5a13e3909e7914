//! The intake: alert transitions from the rule stage into the outbox. Each batch
//! received is routed to the matching subscriptions, silenced ones recorded, the rest
//! queued — one durable transaction — and only then counted as handed off, so the
//! pipeline's next checkpoint never covers a transition the outbox does not hold.

use std::sync::Arc;
use std::time::Duration;

use hub_model::alert::AlertTransition;
use hub_model::handoff::TransitionHandoff;
use hub_model::Timestamp;
use tokio::sync::mpsc;

use crate::dispatcher::Dispatcher;
use crate::outbox::{Delivery, Outcome, Record};
use crate::router::route;

/// Transitions taken from the channel per outbox transaction, at most.
const INTAKE_BATCH: usize = 1024;

pub(crate) async fn run(
    d: Arc<Dispatcher>,
    mut rx: mpsc::Receiver<AlertTransition>,
    handoff: Option<Arc<TransitionHandoff>>,
    observer: Option<mpsc::Sender<AlertTransition>>,
) {
    let mut buf = Vec::with_capacity(INTAKE_BATCH);
    loop {
        buf.clear();
        if rx.recv_many(&mut buf, INTAKE_BATCH).await == 0 {
            return; // the rule stage is gone: the pipeline has stopped
        }
        let (queue, finished) = plan(&d, &buf, Timestamp::now());
        let mut failures = 0u32;
        loop {
            let (outbox, q, f) = (d.outbox.clone(), queue.clone(), finished.clone());
            let result = tokio::task::spawn_blocking(move || outbox.enqueue(&q, &f))
                .await
                .expect("outbox task panicked");
            match result {
                Ok(_) => break,
                Err(e) => {
                    // Not handed off: the checkpoint waits (and fails after its
                    // timeout) rather than commit past transitions we could not keep.
                    failures += 1;
                    tracing::error!(error = %e, attempt = failures, "cannot queue alert notifications; retrying");
                    tokio::time::sleep(Duration::from_millis(200) * failures.min(25)).await;
                }
            }
        }
        if let Some(h) = &handoff {
            h.durable(buf.len() as u64);
        }
        if let Some(m) = &d.metrics {
            for r in &finished {
                m.deliveries
                    .with_label_values(&[r.channel.as_str(), r.outcome.as_str()])
                    .inc();
            }
            if let Ok(depth) = d.outbox.depth() {
                m.outbox_depth.set(depth as i64);
            }
        }
        if !queue.is_empty() {
            d.wake.notify_one();
        }
        if let Some(o) = &observer {
            for t in buf.drain(..) {
                let _ = o.try_send(t);
            }
        }
    }
}

/// The deliveries to queue and the silenced ones to record for `transitions`.
fn plan(
    d: &Dispatcher,
    transitions: &[AlertTransition],
    now: Timestamp,
) -> (Vec<Delivery>, Vec<Record>) {
    let subs = d.current_subscriptions();
    let silences = d.current_silences();
    let mut queue = Vec::new();
    let mut finished = Vec::new();
    let mut windows = d.windows.lock().expect("windows lock");
    for t in transitions {
        let silence = silences
            .iter()
            .find(|s| s.active(now) && s.matches(&t.alert));
        for mut delivery in route(t, &subs, &d.config.source, now) {
            if let Some(s) = silence {
                tracing::debug!(alert = %t.alert.alert_id, silence = %s.id, "silenced");
                finished.push(Record::finish(
                    &delivery,
                    Outcome::Silenced,
                    Some(s.id.clone()),
                    now,
                ));
                continue;
            }
            let wait = subs
                .iter()
                .find(|(id, _)| *id == delivery.subscription_id)
                .and_then(|(_, s)| s.group_wait)
                .filter(|w| !w.is_zero());
            if let Some(wait) = wait {
                // The first notification opens the window; those within it join.
                let close = windows
                    .entry(delivery.subscription_id.clone())
                    .or_insert(Timestamp(0));
                if *close <= now {
                    *close = now.plus(wait);
                }
                delivery.due = *close;
            }
            queue.push(delivery);
        }
    }
    (queue, finished)
}
