//! The binary's configuration surface and `safety-hub simulate`: bad configuration is
//! refused with a message naming the key; a TOML file plus env works; the simulator's
//! `bad` scenario fills `dead_letters` without stopping the pipeline.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::{wait_for, Broker};

fn hub_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_safety-hub"))
}

#[test]
fn bad_configuration_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hub.toml");
    std::fs::write(
        &file,
        "[kafka]\nbrokers = \"127.0.0.1:1\"\nbrokerz = \"typo\"\n",
    )
    .unwrap();
    let out = hub_bin()
        .args(["run", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("brokerz"), "{err}");

    let out = hub_bin()
        .args(["run"])
        .env("HUB__HTTP__LISTEN", "0.0.0.0:18099")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("auth.tokens"));

    let out = hub_bin()
        .args(["run"])
        .env("HUB__INGEST__BATCH_MAX_WAIT", "soon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .to_lowercase()
        .contains("batch_max_wait"));

    // A bad subscription in the file: the field is named, the secret is not shown.
    std::fs::write(
        &file,
        "[[subscriptions]]\nname = \"customs\"\nagency = \"customs\"\n\
         channel = { type = \"webhook\", url = \"ftp://example.org/hook\", secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\" }\n",
    )
    .unwrap();
    let out = hub_bin()
        .args(["run", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("subscriptions[0].channel.url"), "{err}");
    assert!(!err.contains("MfKQ9r8"), "{err}");

    let out = hub_bin()
        .args(["run", "--config", "/nonexistent/hub.toml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/hub.toml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toml_config_and_simulated_bad_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(3);
    // The file names the broker and the data directory; env gives the rest.
    let file = dir.path().join("hub.toml");
    std::fs::write(
        &file,
        format!(
            "[kafka]\nbrokers = \"{}\"\ngroup_id = \"from-file\"\n\n[storage]\ndata_dir = \"{}\"\nroll_interval = \"1s\"\n",
            broker.bootstrap(),
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let port = common::free_port();
    let log = std::fs::File::create(dir.path().join("hub.log")).unwrap();
    let mut child = hub_bin()
        .args(["run", "--config"])
        .arg(&file)
        .env("HUB__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "HUB__SQL__PG_LISTEN",
            format!("127.0.0.1:{}", common::free_port()),
        )
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");

    let out = hub_bin()
        .args([
            "simulate",
            "--brokers",
            &broker.bootstrap(),
            "--scenario",
            "bad",
            "--rate",
            "400",
            "--duration",
            "5s",
            "--seed",
            "7",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(report.contains("invalid"), "{report}");

    let u = &url;
    let classes = wait_for("dead letters of several classes", Duration::from_secs(60), || async move {
        let r = reqwest::Client::new()
            .post(format!("{u}/api/v1/sql"))
            .json(&serde_json::json!({"sql": "SELECT count(DISTINCT reason_class), count(*) FROM dead_letters"}))
            .send()
            .await
            .ok()?;
        let v: serde_json::Value = r.json().await.ok()?;
        let distinct = v["rows"][0][0].as_i64()?;
        (distinct >= 5).then_some(distinct)
    })
    .await;
    assert!(classes >= 5);
    // The good messages around them are there too.
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/sql"))
        .json(&serde_json::json!({"sql": "SELECT count(*) FROM kiosk_results"}))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["rows"][0][0].as_i64().unwrap() > 1_000, "{v}");
    let _ = child.kill();
    let _ = child.wait();
}
