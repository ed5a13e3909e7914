//! The `webhook` channel: the CloudEvents body POSTed with Standard Webhooks headers.

use std::time::Duration;

use crate::cloudevent::CONTENT_TYPE;
use crate::outbox::{verdict, Delivery, Verdict};
use crate::signature::WebhookSecret;

/// Sends one delivery; returns the verdict and, for anything but delivered, why.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: &WebhookSecret,
    d: &Delivery,
    timeout: Duration,
) -> (Verdict, Option<String>) {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_secs() as i64);
    let signature = secret.sign(&d.notification_id, timestamp, &d.body);
    let result = client
        .post(url)
        .timeout(timeout)
        .header("content-type", CONTENT_TYPE)
        .header("webhook-id", &d.notification_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.body.clone())
        .send()
        .await;
    match result {
        Ok(r) => {
            let status = r.status().as_u16();
            match verdict(Some(status)) {
                Verdict::Delivered => (Verdict::Delivered, None),
                v => (v, Some(format!("HTTP {status}"))),
            }
        }
        Err(e) => (verdict(None), Some(format!("no response: {e}"))),
    }
}
