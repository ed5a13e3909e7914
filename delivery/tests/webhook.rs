//! The webhook channel against a real HTTP receiver that verifies the signature with
//! the Standard Webhooks reference implementation (`tests/receiver.py`, PyPI
//! `standardwebhooks`), not with the hub's own code.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hub_delivery::channel::webhook;
use hub_delivery::outbox::Verdict;
use hub_delivery::router::route;
use hub_delivery::signature::WebhookSecret;
use hub_delivery::subscription::SubscriptionSpec;
use hub_model::alert::{Alert, AlertTransition, TransitionKind};
use hub_model::Timestamp;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Receiver {
    child: Child,
    url: String,
    out: std::path::PathBuf,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn receiver(dir: &Path, secret: &str) -> Receiver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = dir.join(format!("received-{port}.jsonl"));
    let child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/receiver.py"))
        .args([
            port.to_string(),
            secret.to_string(),
            out.display().to_string(),
        ])
        .spawn()
        .expect("python3 with standardwebhooks (scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the receiver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Receiver {
        child,
        url: format!("http://127.0.0.1:{port}/hook"),
        out,
    }
}

fn transition() -> AlertTransition {
    AlertTransition::first(Alert::sample(), TransitionKind::Firing)
}

fn received(r: &Receiver) -> Vec<serde_json::Value> {
    std::fs::read_to_string(&r.out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_signed_cloudevent_verifies_with_the_reference_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let rx = receiver(dir.path(), SECRET);
    let sub = SubscriptionSpec::from_json(
        format!(
            r#"{{"name": "Hangzhou", "agency": "market_supervision", "filter": {{"region_prefix": "3301"}},
                "channel": {{"type": "webhook", "url": "{}", "secret": "{SECRET}"}}}}"#,
            rx.url
        )
        .as_bytes(),
    )
    .unwrap();
    let t = transition();
    let deliveries = route(
        &t,
        &[("sub-1".into(), sub)],
        "safety-hub/test",
        Timestamp::now(),
    );
    assert_eq!(deliveries.len(), 1);
    let client = reqwest::Client::new();
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let a = webhook::send(
        &client,
        &rx.url,
        &secret,
        std::slice::from_ref(&deliveries[0]),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(a.verdict, Verdict::Delivered, "{:?}", a.error);
    let got = received(&rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["verified"], true, "{got:?}");
    assert_eq!(got[0]["id"], t.notification_id.as_str());
    assert_eq!(got[0]["type"], "safety_hub.alert.firing");
    assert_eq!(got[0]["content_type"], "application/cloudevents+json");

    // Signed with another key: the receiver refuses it, and a refusal is not retried.
    let other = WebhookSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
    let a = webhook::send(
        &client,
        &rx.url,
        &other,
        std::slice::from_ref(&deliveries[0]),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        (a.verdict, a.error.as_deref()),
        (Verdict::Refused, Some("HTTP 400"))
    );
    assert_eq!(received(&rx)[1]["verified"], false);
}

#[tokio::test]
async fn no_receiver_means_retry() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = transition();
    let sub = SubscriptionSpec::from_json(
        format!(r#"{{"name": "n", "agency": "a", "channel": {{"type": "webhook", "url": "http://127.0.0.1:{port}/", "secret": "{SECRET}"}}}}"#).as_bytes(),
    )
    .unwrap();
    let d = route(
        &t,
        &[("sub-1".into(), sub)],
        "safety-hub/test",
        Timestamp::now(),
    )
    .remove(0);
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let a = webhook::send(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{port}/"),
        &secret,
        std::slice::from_ref(&d),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(a.verdict, Verdict::Retry);
    assert!(a.error.unwrap().starts_with("no response"));
}
