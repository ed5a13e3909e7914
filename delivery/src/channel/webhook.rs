//! The `webhook` channel: the CloudEvents body POSTed with Standard Webhooks headers.
//! A grouped delivery (a subscription with `group_wait`) is one POST of a JSON array
//! of events (`application/cloudevents-batch+json`) whose `webhook-id` is derived from
//! the ids of the events inside.

use std::time::Duration;

use crate::channel::{error_chain, Attempt};
use crate::cloudevent::{BATCH_CONTENT_TYPE, CONTENT_TYPE};
use crate::outbox::Delivery;
use crate::signature::WebhookSecret;
use crate::subscription::redact_url;

/// The `webhook-id`, content type and body for a batch of one or more deliveries.
pub fn envelope(batch: &[Delivery]) -> (String, &'static str, Vec<u8>) {
    if let [one] = batch {
        return (one.notification_id.clone(), CONTENT_TYPE, one.body.clone());
    }
    let mut body = Vec::with_capacity(batch.iter().map(|d| d.body.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, d) in batch.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&d.body);
    }
    body.push(b']');
    // FNV-1a over the member ids: the same batch always gets the same id.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for d in batch {
        for b in d.notification_id.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (
        format!("ntf-batch-{h:016x}-{}", batch.len()),
        BATCH_CONTENT_TYPE,
        body,
    )
}

/// POSTs `batch` to `url`, signed with `secret`.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: &WebhookSecret,
    batch: &[Delivery],
    timeout: Duration,
) -> Attempt {
    let (id, content_type, body) = envelope(batch);
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_secs() as i64);
    let signature = secret.sign(&id, timestamp, &body);
    let result = client
        .post(url)
        .timeout(timeout)
        .header("content-type", content_type)
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match result {
        Ok(r) => Attempt::from_status(r.status().as_u16()),
        // A request that cannot even be built (a URL reqwest refuses) will not work
        // on a retry either. reqwest's error text carries the URL: left out.
        Err(e) if e.is_builder() => Attempt::refused(format!(
            "cannot send to {}: {}",
            redact_url(url),
            e.without_url()
        )),
        Err(e) => Attempt::retry(format!(
            "no response from {}: {}",
            redact_url(url),
            error_chain(&e.without_url())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_model::Timestamp;

    fn d(id: &str) -> Delivery {
        Delivery {
            notification_id: id.into(),
            subscription_id: "s".into(),
            channel: "webhook".into(),
            alert_id: "a".into(),
            body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
            created_at: Timestamp(0),
            due: Timestamp(0),
            attempts: 0,
            last_error: None,
        }
    }

    #[test]
    fn one_event_or_a_batch_array_with_a_stable_id() {
        let (id, ct, body) = envelope(&[d("n1")]);
        assert_eq!((id.as_str(), ct), ("n1", CONTENT_TYPE));
        assert_eq!(body, br#"{"id":"n1"}"#);
        let (id, ct, body) = envelope(&[d("n1"), d("n2")]);
        assert_eq!(ct, BATCH_CONTENT_TYPE);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(id, envelope(&[d("n1"), d("n2")]).0);
        assert_ne!(id, envelope(&[d("n2"), d("n1")]).0);
    }
}
