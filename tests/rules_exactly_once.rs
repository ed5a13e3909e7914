//! Rules exactly once, end to end through a real broker: the golden scenarios' events
//! (every default rule) go through two hubs. The clean hub reads them once, in
//! event-time order. The other reads them with duplicates, reordered within the
//! allowed lateness, and is `kill -9`ed in the middle. Both must end with the identical
//! `rates` table and the identical sequence of alert transitions in `alerts`.

use crate::common;

use std::time::Duration;

use common::golden::{
    close_all_partitions, count_sql_inner, events, replay_hub as hub, topic, wait_settled,
};
use common::{produce_all, producer, wait_for, Broker, Hub};
use serde_json::Value;

async fn snapshot(hub: &Hub) -> (Value, Value) {
    let alerts = hub
        .sql("SELECT notification_id, kind, state, severity, at, alert_id, sequence, value, samples, summary, evidence \
              FROM alerts ORDER BY at, alert_id, sequence")
        .await;
    let rates = hub
        .sql("SELECT rule, group_key, value, numerator, samples, interval_low, interval_high, state, severity, \
              trend_statistic, evaluated_at FROM rates ORDER BY rule, group_key")
        .await;
    (alerts["rows"].clone(), rates["rows"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_reordering_and_kill_9_give_the_clean_runs_rates_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    for prefix in ["clean", "crash"] {
        for feed in ["kiosk", "slaughter", "export"] {
            broker.create_topic(&topic(prefix, feed), 3);
        }
    }
    let events = events();
    let n = events.len() as i64;
    let count_sql = format!("SELECT {}", count_sql_inner());
    let t = Duration::from_secs(120);

    // The clean run: every event once, in event-time order.
    let clean: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|(f, _, p)| (topic("clean", f), p.clone()))
        .collect();
    produce_all(&producer(&broker.bootstrap()), &clean).await;
    close_all_partitions(&broker.bootstrap(), "clean").await;
    let mut a = hub(&broker, dir.path(), "clean");
    a.start().await;
    a.wait_count(&count_sql, n + 9, t).await;
    wait_settled(&a).await;
    let (clean_alerts, clean_rates) = snapshot(&a).await;
    assert!(
        clean_alerts.as_array().unwrap().len() >= 20,
        "the scenarios make alerts: {clean_alerts}"
    );
    assert!(!clean_rates.as_array().unwrap().is_empty());
    // The rule metrics: bounded labels (rule, province, severity), the latency histogram.
    let m = a.metrics().await;
    for needle in [
        "hub_rule_value{region=\"33\",rule=\"beta_agonist_positive_rate\"}",
        "hub_alerts_open{rule=\"beta_agonist_positive_rate\",severity=\"critical\"}",
        "hub_alert_transitions_total{kind=\"firing\",rule=\"kiosk_pass_rate\"}",
        "hub_rule_evaluation_latency_seconds_count",
        "hub_rule_groups{rule=\"feed_silence\"}",
    ] {
        assert!(m.contains(needle), "{needle} missing from /metrics");
    }
    assert!(!m.contains("market_id="), "no per-market labels");
    // A graceful restart neither forgets an open alert nor fires it again: the alert
    // state comes back from the checkpoint and nothing new is derived.
    assert!(a.terminate().success());
    a.start().await;
    wait_settled(&a).await;
    let (again_alerts, again_rates) = snapshot(&a).await;
    assert_eq!(again_alerts, clean_alerts, "a restart changed the alerts");
    assert_eq!(again_rates, clean_rates, "a restart changed the rates");
    assert!(a.terminate().success());

    // The perturbed run: runs of events less than 50 minutes apart reversed, every 7th
    // event sent a second time a little later, and a kill -9 in the middle.
    let mut perturbed: Vec<(String, Vec<u8>)> = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let mut j = i;
        while j + 1 < events.len()
            && j - i < 5
            && minutes_between(&events[i].1, &events[j + 1].1) < 50
        {
            j += 1;
        }
        for k in (i..=j).rev() {
            perturbed.push((topic("crash", &events[k].0), events[k].2.clone()));
            if k % 7 == 3 {
                perturbed.push((topic("crash", &events[k].0), events[k].2.clone()));
            }
        }
        i = j + 1;
    }
    let bootstrap = broker.bootstrap();
    let producing = tokio::spawn(async move {
        let p = producer(&bootstrap);
        for chunk in perturbed.chunks(25) {
            produce_all(&p, chunk).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    let mut b = hub(&broker, dir.path(), "crash");
    b.start().await;
    let hb = &b;
    let half = n / 2;
    wait_for("half of the events in the crash run", t, || async move {
        let (status, v) = hb
            .sql_raw(&format!("SELECT {half} <= ({})", count_sql_inner()))
            .await;
        (status.is_success() && v["rows"][0][0].as_bool() == Some(true)).then_some(())
    })
    .await;
    b.kill9();
    b.start().await;
    producing.await.unwrap();
    close_all_partitions(&broker.bootstrap(), "crash").await;
    b.wait_count(&count_sql, n + 9, Duration::from_secs(180))
        .await;
    wait_settled(&b).await;
    let (crash_alerts, crash_rates) = snapshot(&b).await;
    assert!(b.log_text().matches("recovered from checkpoint").count() >= 2);

    assert_eq!(crash_rates, clean_rates, "rates differ from the clean run");
    let lines = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect()
    };
    assert_eq!(
        lines(&crash_alerts),
        lines(&clean_alerts),
        "alert transitions differ from the clean run"
    );
}

fn minutes_between(a: &str, b: &str) -> i64 {
    let p = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
    (p(b) - p(a)).abs() / 60
}
