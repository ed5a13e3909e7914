//! The HTTP surface against a running hub: bearer auth, SQL in three formats, the
//! read-only guard, metrics, readiness, the `safety-hub sql` CLI, and an archive that
//! DuckDB and pandas read as it is.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::feeds::{event, feed_counts};
use common::{produce_all, producer, wait_for, Broker, Hub};

const TOKEN: &str = "test-token-0123456789abcdef";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_auth_formats_guard_metrics_cli_and_archive() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(3);
    let data = dir.path().join("data");
    let mut hub = Hub::new(&broker.bootstrap(), &data, "api")
        .env("HUB__AUTH__TOKENS", &format!("[\"{TOKEN}\"]"));
    hub.start().await;
    let stream: Vec<_> = (0..2_000).map(|i| event("api", i)).collect();
    produce_all(&producer(&broker.bootstrap()), &stream).await;
    let (kiosk, _, _) = feed_counts(2_000);
    let sql_url = format!("{}/api/v1/sql", hub.http);
    let body = serde_json::json!({ "sql": "SELECT count(*) FROM kiosk_results" });

    // Without a token: 401 with a JSON error; with a wrong one too.
    let r = client().post(&sql_url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.json::<serde_json::Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("bearer"));
    let r = client()
        .post(&sql_url)
        .bearer_auth("wrong-token-0123456789")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // With it: every row arrives.
    let h = &hub;
    let (u, b) = (&sql_url, &body);
    wait_for(
        "all kiosk rows via the API",
        Duration::from_secs(60),
        || async move {
            let r = client()
                .post(u)
                .bearer_auth(TOKEN)
                .json(b)
                .send()
                .await
                .ok()?;
            let v: serde_json::Value = r.json().await.ok()?;
            (v["rows"][0][0].as_i64() == Some(kiosk)).then_some(())
        },
    )
    .await;

    // CSV and Arrow IPC.
    let q = serde_json::json!({ "sql": "SELECT market_id, count(*) AS n FROM kiosk_results GROUP BY market_id ORDER BY market_id" });
    let r = client()
        .post(&sql_url)
        .bearer_auth(TOKEN)
        .header("Accept", "text/csv")
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().next(), Some("market_id,n"));
    assert!(csv.lines().count() > 2, "{csv}");
    let r = client()
        .post(&sql_url)
        .bearer_auth(TOKEN)
        .header("Accept", "application/vnd.apache.arrow.stream")
        .json(&q)
        .send()
        .await
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    let reader =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, csv.lines().count() - 1);

    // Read-only, and errors say why with a fitting status.
    for (sql, status, needle) in [
        ("DROP TABLE kiosk_results", 403, "read-only"),
        (
            "INSERT INTO kiosk_results SELECT * FROM kiosk_results",
            403,
            "read-only",
        ),
        ("COPY kiosk_results TO '/tmp/out.parquet'", 403, "COPY"),
        (
            "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/etc/'",
            403,
            "CREATE EXTERNAL TABLE",
        ),
        ("SELECT * FROM '/etc/passwd'", 400, ""),
        ("SELECT nope FROM kiosk_results", 400, "nope"),
        ("SELEC 1", 400, "syntax"),
    ] {
        let r = client()
            .post(&sql_url)
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "sql": sql }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{sql}");
        let e = r.json::<serde_json::Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(e.contains(needle), "{sql}: {e}");
    }
    let r = client()
        .post(&sql_url)
        .bearer_auth(TOKEN)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    wait_for(
        "/readyz to say ready",
        Duration::from_secs(60),
        || async move {
            let r = reqwest::get(format!("{}/readyz", h.http)).await.ok()?;
            (r.status() == 200).then_some(())
        },
    )
    .await;

    // The CLI prints a table.
    let out = Command::new(env!("CARGO_BIN_EXE_safety-hub"))
        .args([
            "sql",
            "--url",
            &hub.http,
            "SELECT count(*) AS kiosk_tests FROM kiosk_results",
        ])
        .env("HUB_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("kiosk_tests") && stdout.contains(&kiosk.to_string()),
        "{stdout}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_safety-hub"))
        .args(["sql", "--url", &hub.http, "DELETE FROM kiosk_results"])
        .env("HUB_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));

    // The archive as DuckDB and pandas see it, once everything is rolled.
    let archive = data.join("archive");
    let script = format!(
        "import duckdb, pandas\n\
         n = duckdb.sql(\"SELECT count(*) FROM read_parquet('{dir}/kiosk_results/*/*.parquet', hive_partitioning=true)\").fetchall()[0][0]\n\
         df = pandas.read_parquet('{dir}/kiosk_results')\n\
         assert len(df) == n, (len(df), n)\n\
         assert 'sample_category' in df.columns and 'date' in df.columns\n\
         print(n)\n",
        dir = archive.display()
    );
    let script = &script;
    wait_for(
        "DuckDB and pandas to read every kiosk row from the archive",
        Duration::from_secs(60),
        || async move {
            let out = Command::new("python3")
                .args(["-c", script])
                .output()
                .expect("python3");
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    !err.contains("ModuleNotFoundError"),
                    "install the readers: pip install duckdb pyarrow pandas\n{err}"
                );
                return None;
            }
            (String::from_utf8_lossy(&out.stdout).trim() == kiosk.to_string()).then_some(())
        },
    )
    .await;

    // Metrics: the contract's families are there with their labels.
    let metrics = hub.metrics().await;
    for family in [
        "hub_ingest_records_total{feed=\"kiosk\",outcome=\"accepted\"}",
        "hub_consumer_lag_messages{partition=\"0\",topic=\"kiosk.results\"}",
        "hub_ingest_batch_latency_seconds_bucket",
        "hub_checkpoint_age_seconds",
        "hub_checkpoints_total{outcome=\"ok\"}",
        "hub_archive_files_written_total{table=\"kiosk_results\"}",
        "hub_sql_queries_total{outcome=\"refused\"}",
    ] {
        assert!(metrics.contains(family), "no {family} in\n{metrics}");
    }
    // Readiness as a metric: 1 once caught up (the rows above are all in).
    let h = &hub;
    wait_for("hub_ready 1", Duration::from_secs(30), || async move {
        h.metrics()
            .await
            .lines()
            .any(|l| l == "hub_ready 1")
            .then_some(())
    })
    .await;
    // The token never reaches the log.
    assert!(!hub.log_text().contains(TOKEN));
}
