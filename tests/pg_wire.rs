//! The PostgreSQL wire endpoint against a running hub, with the real `psql` client:
//! the password is an `auth.tokens` token, queries see the same tables as HTTP, the
//! surface is read-only, errors reach the client with their message.

use crate::common;

use std::process::{Command, Output};
use std::time::Duration;

use common::feeds::{event, feed_counts};
use common::{produce_all, producer, psql, wait_for, Broker, Hub};

const TOKEN: &str = "pg-test-token-0123456789";

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

/// psycopg 3 (PyPI) sends parameterised queries through the extended protocol: its
/// results must equal what psql gets through the simple protocol for the same query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_runs_prepared_statements_with_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(2);
    let n = 120;
    let events: Vec<_> = (0..n).map(|i| event("pgx", i)).collect();
    produce_all(&producer(&broker.bootstrap()), &events).await;
    let mut hub = Hub::new(&broker.bootstrap(), &dir.path().join("hub"), "pgx")
        .env("HUB__AUTH__TOKENS", &format!("[\"{TOKEN}\"]"));
    hub.start().await;
    let port = hub.pg_port;
    let (kiosk, _, _) = feed_counts(n);
    wait_for("the kiosk rows", Duration::from_secs(60), || async move {
        let o = psql(port, TOKEN, "SELECT count(*) FROM kiosk_results");
        (text(&o).0 == kiosk.to_string()).then_some(())
    })
    .await;
    let simple = |sql: &str| {
        let o = psql(port, TOKEN, sql);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{sql}: {err}");
        out
    };

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/psycopg_client.py"
    );
    let o = Command::new("python3")
        .args([script, &port.to_string(), TOKEN])
        .output()
        .expect("python3 with psycopg (scripts/test installs it)");
    let (out, err) = text(&o);
    assert!(o.status.success(), "psycopg client failed: {err}\n{out}");
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();

    let by_region = simple("SELECT count(*) FROM kiosk_results WHERE region_code = '330102'");
    let by_region: i64 = by_region.parse().unwrap();
    assert!(by_region > 0);
    assert_eq!(got["count_by_region_param"], by_region);
    assert_eq!(got["prepared_twice"], serde_json::json!([by_region, 0]));

    let grouped = simple(
        "SELECT region_code, count(*) FROM kiosk_results GROUP BY region_code \
         HAVING count(*) >= 1 ORDER BY region_code LIMIT 3",
    );
    let expected: Vec<serde_json::Value> = grouped
        .lines()
        .map(|l| {
            let (region, n) = l.split_once('|').unwrap();
            serde_json::json!([region, n.parse::<i64>().unwrap(), true])
        })
        .collect();
    assert_eq!(got["grouped"], serde_json::Value::from(expected));
    assert_eq!(
        got["grouped_columns"],
        serde_json::json!(["region_code", "n", "first"])
    );
    assert_eq!(got["binary"], serde_json::json!([by_region, true]));

    let delete = &got["delete"];
    assert_eq!(delete[0], "25006", "{got}");
    assert!(delete[1].as_str().unwrap().contains("read-only"), "{got}");
    assert_eq!(got["after_error"], "25P02");
    assert_eq!(got["after_rollback"], 42);
    assert_eq!(got["search_path"], "public");

    let columns = simple(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name = 'kiosk_results' ORDER BY ordinal_position",
    );
    let columns: Vec<&str> = columns.lines().collect();
    assert!(columns.contains(&"tested_at"), "{columns:?}");
    assert_eq!(got["kiosk_columns"], serde_json::json!(columns));
}

/// What Grafana, JDBC tools and DBeaver send to list tables and columns (verbatim, see
/// `tests/fixtures/bi_introspection.py`) finds the hub's tables and columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bi_tools_list_tables_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(1);
    let mut hub = Hub::new(&broker.bootstrap(), &dir.path().join("hub"), "pgbi")
        .env("HUB__AUTH__TOKENS", &format!("[\"{TOKEN}\"]"));
    hub.start().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bi_introspection.py"
    );
    let o = Command::new("python3")
        .args([script, &hub.pg_port.to_string(), TOKEN])
        .output()
        .expect("python3 with psycopg (scripts/test installs it)");
    let (out, err) = text(&o);
    assert!(
        o.status.success(),
        "introspection script failed: {err}\n{out}"
    );
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    let failed: Vec<String> = got
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.get("error").map(|e| format!("{k}: {e}")))
        .collect();
    assert!(
        failed.is_empty(),
        "client queries failed:\n{}",
        failed.join("\n")
    );
    // Every query: the first column of its rows.
    let first = |name: &str| -> Vec<String> {
        got[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| match &r[0] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    };
    let tables = [
        "alerts",
        "dead_letters",
        "deliveries",
        "export_declarations",
        "export_declarations_latest",
        "kiosk_results",
        "rates",
        "slaughter_reports",
    ];
    let has_all = |listed: &[String], what: &str| {
        for t in tables {
            assert!(
                listed.iter().any(|l| l == t),
                "{what}: {t} missing from {listed:?}"
            );
        }
    };
    assert_eq!(first("grafana_version"), ["1600"]);
    assert!(
        first("grafana_schemas").contains(&"public".to_string()),
        "{got}"
    );
    has_all(&first("grafana_tables"), "grafana_tables");
    has_all(&first("grafana_backend_tables"), "grafana_backend_tables");
    has_all(
        &got["jdbc_tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[2].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        "jdbc_tables",
    );
    has_all(
        &got["dbeaver_tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[1].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        "dbeaver_tables",
    );
    for (query, column) in [
        ("grafana_columns", 0),
        ("grafana_backend_columns", 0),
        ("jdbc_columns", 2),
    ] {
        let columns: Vec<&str> = got[query]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[column].as_str().unwrap())
            .collect();
        for c in ["event_id", "market_id", "tested_at", "result"] {
            assert!(
                columns.contains(&c),
                "{query}: {c} missing from {columns:?}"
            );
        }
    }
    // PostgreSQL type names, which Grafana's query builder maps to field kinds.
    let tested_at = got["grafana_backend_columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "tested_at")
        .unwrap();
    assert_eq!(tested_at[1], "timestamp with time zone", "{tested_at}");
    assert_eq!(tested_at[2], "timestamptz", "{tested_at}");
    // (`session_user` is always `postgres`: the hub has no roles.)
    assert_eq!(got["dbeaver_defaults"][0][0], "public", "{got}");
    assert_eq!(got["dbeaver_search_path"], serde_json::json!([["public"]]));
    assert!(first("dbeaver_schemas").len() >= 2, "{got}");
}
