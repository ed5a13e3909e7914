//! The `alertmanager` channel against a real Prometheus Alertmanager (Debian package
//! `prometheus-alertmanager`; `ALERTMANAGER` names another binary): what it stores
//! from the hub's POSTs is read back through its own `GET /api/v2/alerts`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hub_delivery::channel::alertmanager;
use hub_delivery::cloudevent;
use hub_delivery::notification::Notification;
use hub_delivery::outbox::Verdict;
use hub_model::alert::{Alert, AlertState, AlertTransition, Severity, TransitionKind, WindowSpan};
use hub_model::Timestamp;
use serde_json::{json, Value};

const HOLD: Duration = Duration::from_secs(3600);
const TIMEOUT: Duration = Duration::from_secs(5);

struct Alertmanager {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Alertmanager on a free port with every alert routed to a receiver that
/// sends nothing, and waits (with a deadline) until `/-/ready` answers.
async fn alertmanager(dir: &Path) -> Alertmanager {
    let bin =
        std::env::var("ALERTMANAGER").unwrap_or_else(|_| "/usr/bin/prometheus-alertmanager".into());
    assert!(
        Path::new(&bin).is_file(),
        "{bin} not found: install Alertmanager (`apt-get install prometheus-alertmanager`; \
         scripts/test installs it) or point ALERTMANAGER at its binary"
    );
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = free_port();
    let log = dir.join("alertmanager.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(&bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg("--cluster.listen-address=")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let mut am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client
            .get(format!("{}/-/ready", am.url))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return am;
        }
        if let Ok(Some(status)) = am.child.try_wait() {
            panic!("Alertmanager exited ({status}):\n{}", am.log());
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager not ready within 30s:\n{}",
            am.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Alertmanager {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every alert Alertmanager holds and has not seen end, by `alert_id` label;
    /// one hub alert is never more than one of them.
    async fn alerts(&self) -> BTreeMap<String, Value> {
        let r = reqwest::get(format!("{}/api/v2/alerts", self.url))
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let list: Vec<Value> = r.json().await.unwrap();
        let mut held = BTreeMap::new();
        for a in list {
            let id = a["labels"]["alert_id"].as_str().unwrap().to_string();
            if let Some(other) = held.insert(id, a.clone()) {
                panic!("two active alerts for one hub alert:\n{other}\n{a}");
            }
        }
        held
    }
}

fn market() -> Alert {
    let mut a = Alert::sample();
    a.summary = "Market M-330102-003 (330102): kiosk pass rate 80.0% over 24h (30 tests) is below the 85% floor".into();
    a.evidence = vec!["kq-330102-017-000002".into(), "kq-330102-017-000019".into()];
    a.window = Some(WindowSpan {
        length: "24h".into(),
        start: Timestamp(a.started_at.0 - 86_400_000_000),
        end: a.started_at,
    });
    a
}

fn region() -> Alert {
    let mut a = Alert::sample();
    a.alert_id = "kiosk_region_pass_rate/region_code=3301".into();
    a.rule = "kiosk_region_pass_rate".into();
    a.severity = Severity::Warning;
    a.group = BTreeMap::from([("region_code".into(), "3301".into())]);
    a.value = 0.93;
    a.threshold = 0.95;
    a.samples = 400;
    a.summary =
        "Region 3301: pass rate 93.0% over 7d (400 samples) is below the 95% standard".into();
    a
}

/// The notification the hub would queue for `alert`: its CloudEvent, read back.
fn notification(
    alert: &Alert,
    kind: TransitionKind,
    sequence: u32,
    time: Timestamp,
) -> Notification {
    let t = AlertTransition {
        notification_id: AlertTransition::notification_id(alert, sequence),
        kind,
        at: alert.started_at,
        sequence,
        alert: alert.clone(),
    };
    let body = cloudevent::to_json(&t, "safety-hub/test", time).expect("a delivered transition");
    Notification::parse(&body).unwrap()
}

fn instant(v: &Value) -> Timestamp {
    Timestamp::parse_rfc3339(v.as_str().unwrap_or_default())
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

/// Alertmanager keeps milliseconds.
fn assert_near(got: &Value, want: Timestamp) {
    let got = instant(got);
    assert!((got.0 - want.0).abs() < 1_000, "{got} != {want}");
}

#[tokio::test]
async fn alertmanager_holds_firing_alerts_until_the_hub_resolves_them() {
    let dir = tempfile::tempdir().unwrap();
    let am = alertmanager(dir.path()).await;
    let client = reqwest::Client::new();
    // When the hub made the notifications: in the past, as a notification's time
    // always is once it is sent.
    let made = Timestamp(Timestamp::now().0 - 1_200_000_000);

    // Firing: two alerts in one POST, the base URL with a trailing slash.
    let firing = [
        notification(&market(), TransitionKind::Firing, 1, made),
        notification(&region(), TransitionKind::Firing, 1, made),
    ];
    let a = alertmanager::send(&client, &format!("{}/", am.url), &firing, HOLD, TIMEOUT).await;
    assert_eq!(a.verdict, Verdict::Delivered, "{:?}", a.error);

    let held = am.alerts().await;
    let m = &held["kiosk_pass_rate/market_id=M-330102-003"];
    assert_eq!(
        m["labels"],
        json!({
            "alertname": "kiosk_pass_rate",
            "alert_id": "kiosk_pass_rate/market_id=M-330102-003",
            "severity": "critical",
            "agency": "market_supervision",
            "feed": "kiosk",
            "market_id": "M-330102-003",
            "region_code": "330102",
        })
    );
    let n = &m["annotations"];
    assert_eq!(n["summary"], market().summary.as_str());
    assert_eq!(n["value"], "0.8");
    assert_eq!(n["threshold"], "0.85");
    assert_eq!(n["comparison"], "below");
    assert_eq!(n["samples"], "30");
    assert_eq!(n["window"], "24h");
    assert_eq!(n["interval"], "0.627–0.905 @ 0.95");
    assert_eq!(n["evidence"], "kq-330102-017-000002,kq-330102-017-000019");
    assert_eq!(n["notification_id"], firing[0].id.as_str());
    assert_eq!(m["status"]["state"], "active", "{m}");
    assert_eq!(m["receivers"][0]["name"], "blackhole");
    assert_near(&m["startsAt"], market().fired_at.unwrap());
    // Held open for the hold, not Alertmanager's own resolve_timeout (5 minutes).
    assert_near(&m["endsAt"], Timestamp(made.0 + 3_600_000_000));
    let r = &held["kiosk_region_pass_rate/region_code=3301"];
    assert_eq!(r["labels"]["severity"], "warning");
    assert_eq!(r["labels"]["region_code"], "3301");
    assert!(r["labels"].get("market_id").is_none(), "{r}");
    assert_eq!(r["status"]["state"], "active");

    // A reminder pushes the end further and carries its own notification id.
    let later = Timestamp(made.0 + 600_000_000);
    assert!(later < Timestamp::now());
    let reminder = [notification(&market(), TransitionKind::Reminder, 2, later)];
    let a = alertmanager::send(&client, &am.url, &reminder, HOLD, TIMEOUT).await;
    assert_eq!(a.verdict, Verdict::Delivered, "{:?}", a.error);
    let m = &am.alerts().await["kiosk_pass_rate/market_id=M-330102-003"];
    assert_near(&m["endsAt"], Timestamp(later.0 + 3_600_000_000));
    assert_eq!(m["annotations"]["notification_id"], reminder[0].id.as_str());

    // The region's alert turns critical: Alertmanager then holds it as critical only
    // (alerts() fails on a lingering warning).
    let mut worse = region();
    worse.severity = Severity::Critical;
    worse.value = 0.8;
    worse.threshold = 0.85;
    let changed = [notification(
        &worse,
        TransitionKind::SeverityChanged,
        2,
        later,
    )];
    let a = alertmanager::send(&client, &am.url, &changed, HOLD, TIMEOUT).await;
    assert_eq!(a.verdict, Verdict::Delivered, "{:?}", a.error);
    let r = &am.alerts().await["kiosk_region_pass_rate/region_code=3301"];
    assert_eq!(r["labels"]["severity"], "critical", "{r}");
    assert_eq!(r["annotations"]["threshold"], "0.85");

    // Resolved: Alertmanager no longer lists the market's alert; the region's stays.
    let mut fixed = market();
    fixed.state = AlertState::Resolved;
    fixed.value = 0.96;
    fixed.resolved_at = Some(Timestamp(fixed.fired_at.unwrap().0 + 7_200_000_000));
    let resolved = [notification(&fixed, TransitionKind::Resolved, 3, later)];
    assert!(resolved[0].is_resolved());
    let a = alertmanager::send(&client, &am.url, &resolved, HOLD, TIMEOUT).await;
    assert_eq!(a.verdict, Verdict::Delivered, "{:?}", a.error);
    let held = am.alerts().await;
    assert!(
        !held.contains_key("kiosk_pass_rate/market_id=M-330102-003"),
        "{held:?}"
    );
    let r = &held["kiosk_region_pass_rate/region_code=3301"];
    assert_eq!(r["status"]["state"], "active");
    assert_eq!(r["labels"]["severity"], "critical");

    // A path that is not an Alertmanager's: refused, not retried.
    let a = alertmanager::send(
        &client,
        &format!("{}/not-alertmanager", am.url),
        &firing,
        HOLD,
        TIMEOUT,
    )
    .await;
    assert_eq!(a.verdict, Verdict::Refused, "{:?}", a.error);
    let why = a.error.unwrap();
    assert!(why.starts_with("HTTP 4"), "{why}");
}

#[tokio::test]
async fn no_alertmanager_means_retry() {
    let port = free_port();
    let batch = [notification(
        &market(),
        TransitionKind::Firing,
        1,
        Timestamp::now(),
    )];
    let a = alertmanager::send(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{port}"),
        &batch,
        HOLD,
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(a.verdict, Verdict::Retry);
    let why = a.error.unwrap();
    assert!(
        why.starts_with(&format!(
            "no response from http://127.0.0.1:{port}/api/v2/alerts: "
        )),
        "{why}"
    );
}
