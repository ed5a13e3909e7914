//! The `[delivery]` section of the hub's config.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::channel::email::SmtpConfig;
use crate::DeliveryError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// The CloudEvents `source` of every notification (`safety-hub/<instance>`).
    pub source: String,
    /// Per attempt: HTTP request, SMTP session, Kafka produce.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// First retry delay; doubles per attempt (with jitter) up to `retry_max`.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// Most notifications in one grouped delivery (subscriptions with `group_wait`).
    pub max_batch: usize,
    /// How long finished deliveries stay in the `deliveries` table, and notification
    /// ids are remembered to drop duplicates.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// Alertmanager channel: `endsAt` of a firing alert is this far ahead (refreshed by
    /// reminders); the resolved notification ends it at once.
    #[serde(with = "humantime_serde")]
    pub alertmanager_hold: Duration,
    /// SMTP server for the `email` channel.
    pub smtp: Option<SmtpConfig>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            source: "safety-hub/hub-1".into(),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            max_batch: 100,
            retention: Duration::from_secs(30 * 86_400),
            alertmanager_hold: Duration::from_secs(24 * 3600),
            smtp: None,
        }
    }
}

impl DeliveryConfig {
    pub fn validate(&self) -> Result<(), DeliveryError> {
        let bad = |field: &str, message: &str| Err(DeliveryError::invalid(field, message));
        if self.source.trim().is_empty() {
            return bad(
                "delivery.source",
                "must not be empty, e.g. safety-hub/hub-1",
            );
        }
        if self.timeout.is_zero() {
            return bad("delivery.timeout", "must be more than 0s");
        }
        if self.retry_base.is_zero() || self.retry_max < self.retry_base {
            return bad(
                "delivery.retry_base",
                "must be more than 0s and at most delivery.retry_max",
            );
        }
        if self.max_batch == 0 {
            return bad("delivery.max_batch", "must be at least 1");
        }
        if self.retention < Duration::from_secs(3600) {
            return bad("delivery.retention", "must be at least 1h");
        }
        if let Some(smtp) = &self.smtp {
            smtp.validate()?;
        }
        Ok(())
    }
}
