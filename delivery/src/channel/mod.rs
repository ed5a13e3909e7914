//! The four channels and what one delivery attempt through them came to.

pub mod alertmanager;
pub mod email;
pub mod kafka;
pub mod webhook;

use std::time::Duration;

use crate::notification::Notification;
use crate::outbox::{verdict, Delivery, Verdict};
use crate::signature::WebhookSecret;
use crate::subscription::Channel;

/// The result of one attempt: the verdict and, for anything but delivered, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub verdict: Verdict,
    pub error: Option<String>,
}

impl Attempt {
    pub fn delivered() -> Self {
        Attempt {
            verdict: Verdict::Delivered,
            error: None,
        }
    }

    /// Worth retrying: a network error, a timeout, a transient refusal.
    pub fn retry(error: impl Into<String>) -> Self {
        Attempt {
            verdict: Verdict::Retry,
            error: Some(error.into()),
        }
    }

    /// Refused for good: retrying the same notification will not help.
    pub fn refused(error: impl Into<String>) -> Self {
        Attempt {
            verdict: Verdict::Refused,
            error: Some(error.into()),
        }
    }

    /// From an HTTP status: 2xx delivered; 408, 429, 5xx retried; other 4xx refused.
    pub fn from_status(status: u16) -> Self {
        match verdict(Some(status)) {
            Verdict::Delivered => Attempt::delivered(),
            v => Attempt {
                verdict: v,
                error: Some(format!("HTTP {status}")),
            },
        }
    }
}

/// An error and the causes its `Display` leaves out ("connection refused"), without
/// saying anything twice in a row (lettre nests its connection errors).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    let mut parts: Vec<&str> = s.split(": ").collect();
    parts.dedup();
    parts.join(": ")
}

/// What the channels share: one HTTP client, the Kafka producer, the SMTP transport.
pub struct Channels {
    pub http: reqwest::Client,
    pub timeout: Duration,
    /// `endsAt` of a firing alert sent to an Alertmanager, from now.
    pub alertmanager_hold: Duration,
    pub kafka: Option<kafka::KafkaSink>,
    pub email: Option<email::EmailSender>,
}

impl Channels {
    pub fn new(timeout: Duration, alertmanager_hold: Duration) -> Self {
        // No redirects: a 301/302 would turn the POST into a body-less GET whose 2xx
        // would count as delivered. A redirect is a refusal: fix the URL.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a default HTTP client builds");
        Channels {
            http,
            timeout,
            alertmanager_hold,
            kafka: None,
            email: None,
        }
    }

    pub fn with_kafka(mut self, sink: kafka::KafkaSink) -> Self {
        self.kafka = Some(sink);
        self
    }

    pub fn with_email(mut self, sender: email::EmailSender) -> Self {
        self.email = Some(sender);
        self
    }

    /// One attempt to deliver `batch` (one or more notifications for one
    /// subscription, in order) through `channel`.
    pub async fn send(&self, channel: &Channel, batch: &[Delivery]) -> Attempt {
        let notifications = || {
            batch
                .iter()
                .map(|d| Notification::parse(&d.body))
                .collect::<Result<Vec<_>, _>>()
        };
        match channel {
            Channel::Webhook { url, secret } => match WebhookSecret::parse(secret) {
                Ok(secret) => webhook::send(&self.http, url, &secret, batch, self.timeout).await,
                Err(e) => Attempt::refused(e.to_string()),
            },
            Channel::Kafka => match &self.kafka {
                Some(k) => k.send(batch, self.timeout).await,
                None => Attempt::retry("the kafka channel has no producer"),
            },
            Channel::Alertmanager { url } => match notifications() {
                Ok(n) => {
                    alertmanager::send(&self.http, url, &n, self.alertmanager_hold, self.timeout)
                        .await
                }
                Err(e) => Attempt::refused(e.to_string()),
            },
            Channel::Email { to } => match (&self.email, notifications()) {
                (None, _) => Attempt::retry(
                    "no SMTP server is configured ([delivery.smtp] in the config file)",
                ),
                (Some(_), Err(e)) => Attempt::refused(e.to_string()),
                (Some(sender), Ok(n)) => sender.send(to, &n).await,
            },
        }
    }
}
