//! The metrics the HTTP layer computes itself, at scrape time.

use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::IntGauge;

use crate::health::Readiness;

/// 1 while `/readyz` would answer 200, else 0.
pub const READY: &str = "hub_ready";

/// The scrape-time families: `hub_ready` from the readiness check.
pub fn scrape_time(readiness: &dyn Readiness) -> Vec<MetricFamily> {
    let ready = IntGauge::new(
        READY,
        "1 while the hub is ready (/readyz answers 200: every assigned partition caught up), else 0.",
    )
    .expect("a valid metric name");
    ready.set(i64::from(readiness.ready().is_ok()));
    ready.collect()
}
