//! The PostgreSQL wire endpoint against a running hub, with the real `psql` client:
//! the password is an `auth.tokens` token, queries see the same tables as HTTP, the
//! surface is read-only, errors reach the client with their message.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::feeds::{event, feed_counts};
use common::{produce_all, producer, wait_for, Broker, Hub};

const TOKEN: &str = "pg-test-token-0123456789";

fn psql(port: u16, password: &str, sql: &str) -> Output {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "analyst",
            "-d",
            "hub",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql (Debian postgresql-client; scripts/test installs it)")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).trim().to_string(),
        String::from_utf8_lossy(&o.stderr).trim().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_queries_the_hub_with_a_token_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(3);
    let n = 200;
    let events: Vec<_> = (0..n).map(|i| event("pg", i)).collect();
    produce_all(&producer(&broker.bootstrap()), &events).await;
    let mut hub = Hub::new(&broker.bootstrap(), &dir.path().join("hub"), "pg")
        .env("HUB__AUTH__TOKENS", &format!("[\"{TOKEN}\"]"));
    hub.start().await;
    let port = hub.pg_port;
    let (kiosk, _, _) = feed_counts(n);

    let count = wait_for(
        "the kiosk rows through psql",
        Duration::from_secs(60),
        || async move {
            let o = psql(port, TOKEN, "SELECT count(*) FROM kiosk_results");
            let (out, _) = text(&o);
            (o.status.success() && out == kiosk.to_string()).then_some(out)
        },
    )
    .await;
    assert_eq!(count, kiosk.to_string());

    // Typed columns and several rows.
    let o = psql(
        port,
        TOKEN,
        "SELECT region_code, count(*) AS n, min(tested_at) IS NOT NULL FROM kiosk_results GROUP BY region_code ORDER BY region_code",
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(
        lines[0].starts_with("330102|") && lines[0].ends_with("|t"),
        "{out}"
    );

    // A wrong password is refused, and says what to use.
    let o = psql(port, "not-the-token-000000", "SELECT 1");
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains(TOKEN));

    // Read-only, with the hub's message.
    let o = psql(port, TOKEN, "DROP TABLE kiosk_results");
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("read-only"), "{err}");
    let o = psql(port, TOKEN, "SELECT nope FROM kiosk_results");
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("nope"), "{err}");
    // The table is still there.
    let o = psql(port, TOKEN, "SELECT count(*) FROM kiosk_results");
    assert_eq!(text(&o).0, kiosk.to_string());
}
