//! Alert delivery end to end: the golden scenarios' events through a real broker into
//! the real hub, whose notifications go to a real webhook receiver (verifying every
//! signature with the Standard Webhooks reference implementation) and to the
//! `hub.alerts` Kafka topic. The receiver is down for minutes, the hub is `kill -9`ed
//! with deliveries pending; afterwards every notification the `alerts` table says
//! was due has arrived, each under its stable id.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::golden::{close_all_partitions, events, replay_hub, topic, wait_settled};
use common::{free_port, produce_all, producer, wait_for, Broker, Hub};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::Message;
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// How long the receiver stays down (3 minutes; `HUB_TEST_OUTAGE_SECS` shortens it
/// while developing).
fn outage() -> Duration {
    Duration::from_secs(
        std::env::var("HUB_TEST_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(180),
    )
}

struct Receiver {
    child: Child,
    out: PathBuf,
}

impl Receiver {
    fn start(port: u16, out: &Path) -> Receiver {
        let child = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("delivery/tests/receiver.py"))
            .args([
                port.to_string(),
                SECRET.to_string(),
                out.display().to_string(),
            ])
            .spawn()
            .expect("python3 with standardwebhooks (scripts/test installs it)");
        Receiver {
            child,
            out: out.to_path_buf(),
        }
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(hub: &Hub, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", hub.http))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn delete(hub: &Hub, path: &str) -> u16 {
    reqwest::Client::new()
        .delete(format!("{}{path}", hub.http))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn get(hub: &Hub, path: &str) -> Value {
    reqwest::get(format!("{}{path}", hub.http))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Notification ids the `alerts` table says must be delivered (pending transitions
/// and the withdrawal of an alert that never fired are not).
async fn due_notifications(hub: &Hub) -> BTreeMap<String, String> {
    let v = hub
        .sql(
            "SELECT notification_id, alert_id FROM alerts \
             WHERE kind IN ('firing', 'severity_changed', 'reminder') \
                OR (kind = 'resolved' AND fired_at IS NOT NULL)",
        )
        .await;
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn hub_with_delivery(broker: &Broker, dir: &Path) -> Hub {
    replay_hub(broker, dir, "dlv")
        .env("HUB__DELIVERY__RETRY_BASE", "500ms")
        .env("HUB__DELIVERY__RETRY_MAX", "5s")
        .env("HUB__DELIVERY__SOURCE", "safety-hub/test")
        .env("HUB__KAFKA__TOPICS__ALERTS", "dlv.alerts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_outage_and_a_kill_9_lose_no_notification() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    for feed in ["kiosk", "slaughter", "export"] {
        broker.create_topic(&topic("dlv", feed), 3);
    }
    broker.create_topic("dlv.alerts", 3);
    let port = free_port();
    let out = dir.path().join("received.jsonl");

    let mut hub = hub_with_delivery(&broker, dir.path());
    hub.start().await;
    // Subscriptions through the API: bad input is a 400 naming the field.
    let (status, body) = post(
        &hub,
        "/api/v1/subscriptions",
        json!({"name": "x", "agency": "a", "filter": {"region_prefix": "33a"}, "channel": {"type": "kafka"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("filter.region_prefix"),
        "{body}"
    );
    let (status, body) = post(
        &hub,
        "/api/v1/subscriptions",
        json!({"name": "x", "agency": "a", "filter": {"rules": ["export_marking_rate"]}, "channel": {"type": "kafka"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no rule `export_marking_rate`"),
        "{body}"
    );
    let (status, body) = post(
        &hub,
        "/api/v1/subscriptions",
        json!({"name": "every agency", "agency": "market_supervision",
               "channel": {"type": "webhook", "url": format!("http://127.0.0.1:{port}/hook"), "secret": SECRET}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let webhook_sub = body["id"].as_str().unwrap().to_string();
    // A subscription whose receiver refuses it (wrong key: the signature fails, 400).
    let (status, body) = post(
        &hub,
        "/api/v1/subscriptions",
        json!({"name": "wrong key", "agency": "customs", "filter": {"rules": ["export_batch_marking_rate", "beta_agonist_positive_rate"]},
               "channel": {"type": "webhook", "url": format!("http://127.0.0.1:{port}/hook"), "secret": OTHER_SECRET}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let refused_sub = body["id"].as_str().unwrap().to_string();
    let (status, body) = post(
        &hub,
        "/api/v1/subscriptions",
        json!({"name": "alerts topic", "agency": "all", "channel": {"type": "kafka"}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let listed = get(&hub, "/api/v1/subscriptions").await;
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    assert!(
        !listed.to_string().contains("MfKQ9r8"),
        "a secret was echoed: {listed}"
    );

    // The input, with the receiver down.
    let input: Vec<(String, Vec<u8>)> = events()
        .into_iter()
        .map(|(f, _, p)| (topic("dlv", &f), p))
        .collect();
    let half = input.len() / 2;
    produce_all(&producer(&broker.bootstrap()), &input[..half]).await;
    let outage_started = Instant::now();
    let h = &hub;
    wait_for(
        "deliveries retrying while the receiver is down",
        Duration::from_secs(120),
        || async move {
            let v = h
                .sql("SELECT count(*) FROM deliveries WHERE status = 'retrying'")
                .await;
            (v["rows"][0][0].as_i64().unwrap_or(0) > 0).then_some(())
        },
    )
    .await;
    // kill -9 with deliveries pending; they are in the outbox and go out after restart.
    hub.kill9();
    hub.start().await;
    produce_all(&producer(&broker.bootstrap()), &input[half..]).await;
    close_all_partitions(&broker.bootstrap(), "dlv").await;
    wait_settled(&hub).await;
    let due = due_notifications(&hub).await;
    assert!(
        due.len() >= 20,
        "the scenarios make notifications: {}",
        due.len()
    );
    let waiting = hub
        .sql("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'retrying') AND channel = 'webhook'")
        .await["rows"][0][0]
        .as_i64()
        .unwrap();
    assert!(waiting > 0, "notifications wait for the receiver");

    // The receiver comes back after the outage.
    let left = outage().saturating_sub(outage_started.elapsed());
    tokio::time::sleep(left).await; // the outage itself, not synchronisation
    let receiver = Receiver::start(port, &out);
    let rx = &receiver;
    let due_ref = &due;
    let got = wait_for(
        "every notification at the receiver",
        Duration::from_secs(120),
        || async move {
            let got: BTreeSet<String> = rx
                .requests()
                .iter()
                .filter(|r| r["verified"] == true)
                .flat_map(|r| r["events"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect();
            due_ref.keys().all(|id| got.contains(id)).then_some(got)
        },
    )
    .await;
    assert!(
        got.iter().all(|id| due.contains_key(id)),
        "only due notifications were sent"
    );

    // The deliveries table: every webhook notification delivered, retried ones show
    // their attempts, the refused subscription's are recorded as refused.
    let h = &hub;
    wait_for("the deliveries table to settle", Duration::from_secs(60), || async move {
        let v = h.sql("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'retrying') AND channel = 'webhook'").await;
        (v["rows"][0][0].as_i64() == Some(0)).then_some(())
    })
    .await;
    let v = hub
        .sql(&format!(
            "SELECT status, count(*), max(attempts) FROM deliveries WHERE subscription_id = '{webhook_sub}' GROUP BY status"
        ))
        .await;
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0][0], "delivered");
    assert!(rows[0][1].as_i64().unwrap() >= due.len() as i64, "{v}");
    assert!(rows[0][2].as_i64().unwrap() > 1, "retried: {v}");
    let v = hub
        .sql(&format!(
            "SELECT DISTINCT status, detail FROM deliveries WHERE subscription_id = '{refused_sub}'"
        ))
        .await;
    assert_eq!(v["rows"], json!([["refused", "HTTP 400"]]), "{v}");
    assert!(
        receiver
            .requests()
            .iter()
            .any(|r| r["verified"] == false && r["status"] == 400),
        "the wrong-key subscription's notifications reached the receiver and were refused"
    );
    let m = hub.metrics().await;
    for needle in [
        "hub_deliveries_total{channel=\"webhook\",outcome=\"delivered\"}",
        "hub_deliveries_total{channel=\"webhook\",outcome=\"refused\"}",
        "hub_delivery_attempts_total{channel=\"webhook\",result=\"retry\"}",
        "hub_delivery_latency_seconds_bucket{channel=\"webhook\"",
        "hub_outbox_depth 0",
    ] {
        assert!(m.contains(needle), "{needle} missing from /metrics");
    }

    // The Kafka channel: the same events on the alerts topic, keyed by alert id.
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "alerts-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["dlv.alerts"]).unwrap();
    let mut on_topic: BTreeMap<String, String> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !due.keys().all(|id| on_topic.contains_key(id)) {
        assert!(
            Instant::now() < deadline,
            "{} of {} notifications on the alerts topic",
            on_topic.len(),
            due.len()
        );
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await {
            let v: Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            let key = std::str::from_utf8(m.key().unwrap()).unwrap().to_string();
            assert_eq!(
                v["subject"].as_str(),
                Some(key.as_str()),
                "keyed by alert id"
            );
            assert_eq!(v["specversion"], "1.0");
            on_topic.insert(v["id"].as_str().unwrap().to_string(), key);
        }
    }
    for (id, alert) in &due {
        assert_eq!(on_topic.get(id), Some(alert));
    }

    // Open alerts through the API, and a subscription deleted.
    let firing = get(&hub, "/api/v1/alerts?state=firing").await;
    let firing_sql = hub
        .sql(
            "SELECT count(*) FROM (SELECT state, row_number() OVER (PARTITION BY alert_id ORDER BY at DESC, sequence DESC) AS rn \
             FROM alerts) WHERE rn = 1 AND state = 'firing'",
        )
        .await["rows"][0][0]
        .as_i64()
        .unwrap();
    assert_eq!(
        firing.as_array().unwrap().len() as i64,
        firing_sql,
        "{firing}"
    );
    assert!(firing
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["state"] == "firing" && a["agency"].is_string()));
    assert_eq!(
        delete(&hub, &format!("/api/v1/subscriptions/{refused_sub}")).await,
        204
    );
    assert_eq!(
        delete(&hub, &format!("/api/v1/subscriptions/{refused_sub}")).await,
        404
    );
    assert!(
        !hub.log_text().contains("MfKQ9r8"),
        "a secret reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_subscriptions_grouping_windows_and_silences() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    for feed in ["kiosk", "slaughter", "export"] {
        broker.create_topic(&topic("grp", feed), 3);
    }
    broker.create_topic("grp.alerts", 3);
    let port = free_port();
    let receiver = Receiver::start(port, &dir.path().join("received.jsonl"));
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[subscriptions]]
name = "Zhejiang kiosks, grouped"
agency = "market_supervision"
group_wait = "3s"
filter = {{ rules = ["kiosk_pass_rate"], region_prefix = "33" }}
channel = {{ type = "webhook", url = "http://127.0.0.1:{port}/grouped", secret = "{SECRET}" }}

[[subscriptions]]
name = "Everything"
agency = "all"
channel = {{ type = "webhook", url = "http://127.0.0.1:{port}/all", secret = "{SECRET}" }}
"#
        ),
    )
    .unwrap();
    let mut hub = replay_hub(&broker, dir.path(), "grp")
        .config_file(&config)
        .env("HUB__KAFKA__TOPICS__ALERTS", "grp.alerts");
    hub.start().await;
    let subs = get(&hub, "/api/v1/subscriptions").await;
    let ids: Vec<&str> = subs
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["cfg-everything", "cfg-zhejiang-kiosks-grouped"],
        "{subs}"
    );
    assert!(subs
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["origin"] == "config"));
    assert!(!subs.to_string().contains("MfKQ9r8"), "{subs}");
    assert_eq!(
        delete(&hub, "/api/v1/subscriptions/cfg-everything").await,
        400,
        "config subscriptions change in the file"
    );

    // Silence the beta-agonist rule: its notifications are recorded, not sent.
    let (status, body) = post(
        &hub,
        "/api/v1/silences",
        json!({"matchers": [{"name": "rule", "value": "beta_agonist_positive_rate"}],
               "ends_at": "2099-01-01T00:00:00Z", "created_by": "duty officer", "comment": "known incident"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let silence = body["id"].as_str().unwrap().to_string();
    let (status, body) = post(
        &hub,
        "/api/v1/silences",
        json!({"matchers": [], "ends_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().starts_with("matchers"),
        "{body}"
    );
    let listed = get(&hub, "/api/v1/silences").await;
    assert_eq!(listed[0]["id"], silence.as_str());
    assert_eq!(listed[0]["active"], true);

    let input: Vec<(String, Vec<u8>)> = events()
        .into_iter()
        .map(|(f, _, p)| (topic("grp", &f), p))
        .collect();
    produce_all(&producer(&broker.bootstrap()), &input).await;
    close_all_partitions(&broker.bootstrap(), "grp").await;
    wait_settled(&hub).await;
    let due = due_notifications(&hub).await;
    let silenced: BTreeSet<&String> = due
        .iter()
        .filter(|(_, alert)| alert.starts_with("beta_agonist_positive_rate/"))
        .map(|(id, _)| id)
        .collect();
    assert!(
        !silenced.is_empty(),
        "the scenarios make beta-agonist alerts"
    );
    let v = hub
        .sql("SELECT region_code, notification_id FROM alerts WHERE rule = 'kiosk_pass_rate' \
              AND (kind IN ('firing', 'severity_changed', 'reminder') OR (kind = 'resolved' AND fired_at IS NOT NULL))")
        .await;
    let grouped_due: BTreeSet<String> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[0].as_str().is_some_and(|c| c.starts_with("33")))
        .map(|r| r[1].as_str().unwrap().to_string())
        .collect();
    assert!(grouped_due.len() >= 2, "{v}");

    let rx = &receiver;
    let (due_ref, silenced_ref, grouped_ref) = (&due, &silenced, &grouped_due);
    let requests = wait_for(
        "every unsilenced notification at the receiver",
        Duration::from_secs(120),
        || async move {
            let reqs = rx.requests();
            let ids = |path: &str| -> BTreeSet<String> {
                reqs.iter()
                    .filter(|r| r["path"] == path && r["verified"] == true)
                    .flat_map(|r| r["events"].as_array().cloned().unwrap_or_default())
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            };
            let all = ids("/all");
            let grouped = ids("/grouped");
            let all_done = due_ref
                .keys()
                .filter(|id| !silenced_ref.contains(id))
                .all(|id| all.contains(id));
            (all_done && grouped_ref.iter().all(|id| grouped.contains(id))).then_some(reqs)
        },
    )
    .await;
    for r in requests.iter().filter(|r| r["path"] == "/all") {
        let events = r["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "no grouping without group_wait");
        assert!(
            !silenced.contains(&events[0].as_str().unwrap().to_string()),
            "a silenced notification was sent"
        );
    }
    let grouped: Vec<&Value> = requests
        .iter()
        .filter(|r| r["path"] == "/grouped")
        .collect();
    assert!(
        grouped.len() < grouped_due.len(),
        "grouping made fewer deliveries than notifications"
    );
    assert!(
        grouped.iter().any(
            |r| r["content_type"] == "application/cloudevents-batch+json"
                && r["events"].as_array().unwrap().len() > 1
        ),
        "a batch of several events"
    );
    let v = hub
        .sql(&format!(
            "SELECT count(*) FROM deliveries WHERE status = 'silenced' AND detail = '{silence}' AND subscription_id = 'cfg-everything'"
        ))
        .await;
    assert_eq!(
        v["rows"][0][0].as_i64(),
        Some(silenced.len() as i64),
        "silenced ones are recorded"
    );
    assert_eq!(
        delete(&hub, &format!("/api/v1/silences/{silence}")).await,
        204
    );
    assert_eq!(get(&hub, "/api/v1/silences").await, json!([]));
}
