//! Metric names of delivery, in one place.

use prometheus::core::Collector;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

use crate::DeliveryError;

pub const DELIVERIES: &str = "hub_deliveries_total";
pub const ATTEMPTS: &str = "hub_delivery_attempts_total";
pub const LATENCY: &str = "hub_delivery_latency_seconds";
pub const OUTBOX_DEPTH: &str = "hub_outbox_depth";
pub const SUBSCRIPTIONS: &str = "hub_subscriptions";
pub const SILENCES_ACTIVE: &str = "hub_silences_active";

#[derive(Clone)]
pub struct DeliveryMetrics {
    /// Finished deliveries by channel and outcome (delivered, refused, silenced,
    /// dropped).
    pub deliveries: IntCounterVec,
    /// Attempts by channel and result (delivered, retry, refused).
    pub attempts: IntCounterVec,
    /// From the notification being queued to its receiver accepting it, by channel.
    pub latency: HistogramVec,
    pub outbox_depth: IntGauge,
    pub subscriptions: IntGauge,
    pub silences_active: IntGauge,
}

fn metric_err(name: &'static str) -> impl Fn(prometheus::Error) -> DeliveryError {
    move |e| DeliveryError::Metric(format!("{name}: {e}"))
}

fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    name: &'static str,
    c: C,
) -> Result<C, DeliveryError> {
    registry
        .register(Box::new(c.clone()))
        .map_err(metric_err(name))?;
    Ok(c)
}

impl DeliveryMetrics {
    pub fn new(registry: &Registry) -> Result<Self, DeliveryError> {
        Ok(DeliveryMetrics {
            deliveries: register(
                registry,
                DELIVERIES,
                IntCounterVec::new(
                    Opts::new(DELIVERIES, "Finished deliveries by channel and outcome: delivered, refused (not retried), silenced (matched a silence: recorded, not sent), dropped (subscription deleted)."),
                    &["channel", "outcome"],
                )
                .map_err(metric_err(DELIVERIES))?,
            )?,
            attempts: register(
                registry,
                ATTEMPTS,
                IntCounterVec::new(
                    Opts::new(ATTEMPTS, "Delivery attempts by channel and result: delivered, retry (network error, 5xx, 429, 408), refused (other 4xx)."),
                    &["channel", "result"],
                )
                .map_err(metric_err(ATTEMPTS))?,
            )?,
            latency: register(
                registry,
                LATENCY,
                HistogramVec::new(
                    HistogramOpts::new(LATENCY, "Seconds from a notification being queued to its receiver accepting it, by channel.")
                        .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0]),
                    &["channel"],
                )
                .map_err(metric_err(LATENCY))?,
            )?,
            outbox_depth: register(
                registry,
                OUTBOX_DEPTH,
                IntGauge::new(OUTBOX_DEPTH, "Notifications waiting in the durable outbox (queued or retrying).")
                    .map_err(metric_err(OUTBOX_DEPTH))?,
            )?,
            subscriptions: register(
                registry,
                SUBSCRIPTIONS,
                IntGauge::new(SUBSCRIPTIONS, "Subscriptions (config file and API).")
                    .map_err(metric_err(SUBSCRIPTIONS))?,
            )?,
            silences_active: register(
                registry,
                SILENCES_ACTIVE,
                IntGauge::new(SILENCES_ACTIVE, "Silences in force now.")
                    .map_err(metric_err(SILENCES_ACTIVE))?,
            )?,
        })
    }
}
