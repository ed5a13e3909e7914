//! A queued notification read back from its stored body (the CloudEvent): what the
//! channels other than `webhook` render from.

use hub_model::alert::Alert;
use hub_model::Timestamp;
use serde::Deserialize;

use crate::DeliveryError;

#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    /// `safety_hub.alert.firing` | `.resolved` | `.reminder`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The notification id (`webhook-id`), stable across retries.
    pub id: String,
    /// When the hub made the notification.
    pub time: Timestamp,
    pub data: Alert,
}

impl Notification {
    pub fn parse(body: &[u8]) -> Result<Self, DeliveryError> {
        serde_json::from_slice(body)
            .map_err(|e| DeliveryError::Store(format!("a queued notification is unreadable: {e}")))
    }

    pub fn is_resolved(&self) -> bool {
        self.event_type == crate::cloudevent::RESOLVED
    }
}
