//! Every Grafana panel works, checked the way Grafana would run it (Grafana itself is
//! not installable here): a real Prometheus (Debian's) scrapes a hub that ingests
//! simulated traffic (incidents, bad records, alerts delivered to a real HTTP
//! receiver); every PromQL expression of every panel, template variables substituted
//! as Grafana does with "All", returns at least one series through Prometheus's HTTP
//! API; every SQL panel, with Grafana's `$__timeFilter` macro expanded, returns rows on
//! the hub's PostgreSQL endpoint (psql); no panel names a metric the hub does not
//! export; the checked-in JSON is what `dashboards/generate.py` writes and fits Grafana's
//! dashboard schema (`dashboards/check_schema.py`). Prometheus also loads
//! `deploy/prometheus/safety-hub-rules.yml`.

use crate::common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use common::{free_port, psql, wait_for, Broker, Hub};
use serde_json::Value;

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn prometheus_bin() -> Option<PathBuf> {
    let bin = std::env::var_os("PROMETHEUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
    bin.exists().then_some(bin)
}

/// A real Prometheus scraping `target` every second; killed on drop.
struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    async fn start(bin: &Path, dir: &Path, target: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        let rules = root().join("deploy/prometheus/safety-hub-rules.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
                 rule_files: ['{}']\n\
                 scrape_configs:\n  - job_name: safety-hub\n    static_configs:\n      - targets: ['{target}']\n",
                rules.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("prometheus starts");
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let ready = format!("{}/-/ready", p.url);
        let log_path = dir.join("prometheus.log");
        wait_for("Prometheus ready", Duration::from_secs(60), || {
            let ready = ready.clone();
            async move {
                reqwest::get(&ready)
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            }
        })
        .await;
        // The rules file loaded (a bad one would leave no groups).
        let rules: Value = reqwest::get(format!("{}/api/v1/rules", p.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            rules["data"]["groups"][0]["rules"].as_array().map(Vec::len),
            Some(7),
            "Prometheus did not load the hub's rules: {rules}\n{}",
            std::fs::read_to_string(log_path).unwrap_or_default()
        );
        p
    }

    /// The instant query's series, or Prometheus's error.
    async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let r: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if r["status"] != "success" {
            return Err(r.to_string());
        }
        Ok(r["data"]["result"].as_array().cloned().unwrap_or_default())
    }
}

/// A webhook receiver answering 204 to everything, on its own thread.
fn start_receiver() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                if line == "\r\n" {
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    let _ = reader.get_mut().write_all(
                        b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    break;
                }
            }
        }
    });
    port
}

struct Panel {
    dashboard: String,
    title: String,
    /// `prometheus` or `grafana-postgresql-datasource`.
    kind: String,
    query: String,
}

fn panels() -> Vec<Panel> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let d: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                let kind = t["datasource"]["type"].as_str().unwrap().to_string();
                let query = t["expr"]
                    .as_str()
                    .or(t["rawSql"].as_str())
                    .unwrap()
                    .to_string();
                out.push(Panel {
                    dashboard: d["title"].as_str().unwrap().to_string(),
                    title: p["title"].as_str().unwrap().to_string(),
                    kind,
                    query,
                });
            }
        }
    }
    out
}

/// PromQL as Grafana sends it with every variable at "All" (`allValue`s: region "",
/// feed ".*") and a 30 s rate interval.
fn promql(expr: &str) -> String {
    expr.replace("$__rate_interval", "30s")
        .replace("$region", "")
        .replace("$feed", ".*")
}

/// SQL as Grafana's PostgreSQL data source sends it: `$__timeFilter(col)` expanded to
/// the dashboard's range (the last 6 hours; to the next hour for clock skew), variables
/// at "All".
fn grafana_sql(sql: &str) -> String {
    let now = Utc::now();
    let from = (now - chrono::Duration::hours(6)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = (now + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let mut out = sql.replace("${region}", "");
    while let Some(start) = out.find("$__timeFilter(") {
        let end = start + out[start..].find(')').unwrap();
        let column = &out[start + "$__timeFilter(".len()..end];
        let expanded = format!("{column} BETWEEN '{from}' AND '{to}'");
        out.replace_range(start..=end, &expanded);
    }
    out
}

fn psql_rows(pg_port: u16, sql: &str) -> Result<usize, String> {
    let out = psql(pg_port, "", sql);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().count())
}

/// `hub_…` metric names in a PromQL expression (histogram series by their family).
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("hub_"))
        .map(|w| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| w.strip_suffix(s))
                .unwrap_or(w)
                .to_string()
        })
        .collect()
}

#[test]
fn checked_in_dashboards_are_what_the_generator_writes() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(root().join("dashboards/generate.py"))
        .env("DASHBOARDS_OUT", out.path())
        .status()
        .expect("python3");
    assert!(status.success());
    let mut n = 0;
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        let checked_in = std::fs::read_to_string(root().join("dashboards").join(name))
            .unwrap_or_else(|_| panic!("dashboards/{name:?} is not checked in"));
        assert_eq!(
            checked_in,
            std::fs::read_to_string(&path).unwrap(),
            "dashboards/{name:?} differs from generate.py's output: run python3 dashboards/generate.py"
        );
        n += 1;
    }
    assert_eq!(n, 5, "five dashboards");
}

/// Grafana's dashboard schema (grafana-foundation-sdk from PyPI: Grafana's published
/// schemas as typed models) knows every field of every dashboard and panel options.
#[test]
fn dashboards_fit_grafanas_dashboard_schema() {
    let have_sdk = Command::new("python3")
        .args(["-c", "import grafana_foundation_sdk"])
        .status()
        .is_ok_and(|s| s.success());
    if !have_sdk {
        assert!(
            std::env::var_os("CI").is_none(),
            "grafana-foundation-sdk is not installed (pip install grafana-foundation-sdk)"
        );
        eprintln!(
            "\n\n*** SKIPPED dashboard schema check: pip install grafana-foundation-sdk ***\n\n"
        );
        return;
    }
    let out = Command::new("python3")
        .arg(root().join("dashboards/check_schema.py"))
        .output()
        .expect("python3");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("5 dashboards checked, 0 problems"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_query_returns_data_from_a_live_hub() {
    let Some(prometheus) = prometheus_bin() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Prometheus is not installed (apt-get install prometheus): the dashboards cannot be checked"
        );
        eprintln!("\n\n*** SKIPPED dashboards: /usr/bin/prometheus is missing (apt-get install prometheus) ***\n\n");
        return;
    };
    let panels = panels();
    let prom_panels: Vec<&Panel> = panels.iter().filter(|p| p.kind == "prometheus").collect();
    let sql_panels: Vec<&Panel> = panels
        .iter()
        .filter(|p| p.kind == "grafana-postgresql-datasource")
        .collect();
    assert_eq!(prom_panels.len() + sql_panels.len(), panels.len());
    assert!(prom_panels.len() >= 20 && sql_panels.len() >= 7);

    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    broker.create_feed_topics(3);
    let receiver = start_receiver();
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "[[subscriptions]]\nname = \"everything\"\nagency = \"all\"\n\
             channel = {{ type = \"webhook\", url = \"http://127.0.0.1:{receiver}/hook\", secret = \"{WEBHOOK_SECRET}\" }}\n"
        ),
    )
    .unwrap();
    let mut hub =
        Hub::new(&broker.bootstrap(), &dir.path().join("data"), "dash").config_file(&config);
    hub.start().await;
    let target = hub.http.trim_start_matches("http://").to_string();
    let prom = Prometheus::start(&prometheus, dir.path(), &target).await;

    // Traffic: the incidents scenario (alerts) and bad records (dead letters), for as
    // long as the checks take.
    let mut simulators: Vec<Child> = [("incidents", "150"), ("bad", "20")]
        .iter()
        .map(|(scenario, rate)| {
            Command::new(env!("CARGO_BIN_EXE_safety-hub"))
                .args(["simulate", "--brokers", &broker.bootstrap()])
                .args(["--scenario", scenario, "--rate", rate, "--duration", "180s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();

    // An analyst's query, as Grafana's SQL panels will make (the SQL metrics' series).
    hub.sql("SELECT count(*) FROM kiosk_results").await;

    // No panel names a metric the hub does not export (labelled families appear in
    // /metrics once traffic has touched them, so this polls).
    let wanted: BTreeSet<String> = prom_panels
        .iter()
        .flat_map(|p| metric_names(&p.query))
        .collect();
    let mut missing = wanted.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !missing.is_empty() {
        let metrics = hub.metrics().await;
        let exported: BTreeSet<&str> = metrics
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        missing.retain(|m| !exported.contains(m.as_str()));
        assert!(
            std::time::Instant::now() < deadline,
            "panels use metrics the hub does not export: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every PromQL expression returns series.
    for p in &prom_panels {
        let expr = promql(&p.query);
        let prom = &prom;
        wait_for(
            &format!("{} / {}: `{expr}` returns series", p.dashboard, p.title),
            Duration::from_secs(120),
            || {
                let expr = expr.clone();
                async move {
                    match prom.query(&expr).await {
                        Ok(series) if !series.is_empty() => Some(()),
                        Ok(_) => None,
                        Err(e) => panic!("Prometheus refused `{expr}`: {e}"),
                    }
                }
            },
        )
        .await;
    }

    // The variables: each one's label_values query offers values, and each value
    // selects data in at least one of the panels that use the variable.
    for (var, label, metric) in [
        ("$region", "region", "hub_rule_value"),
        ("$feed", "feed", "hub_ingest_records_total"),
    ] {
        let r: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/label/{label}/values", prom.url))
            .query(&[("match[]", metric)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let values: Vec<String> = r["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert!(!values.is_empty(), "{var} offers no values: {r}");
        let users: Vec<&&Panel> = prom_panels
            .iter()
            .filter(|p| p.query.contains(var))
            .collect();
        assert!(!users.is_empty(), "no panel uses {var}");
        for value in &values {
            let mut selected = 0;
            for p in &users {
                let expr = promql(&p.query.replace(var, value));
                if !prom.query(&expr).await.unwrap().is_empty() {
                    selected += 1;
                }
            }
            assert!(selected > 0, "{var} = {value} selects nothing in any panel");
        }
    }

    // Every SQL panel returns rows on the PostgreSQL endpoint.
    for p in &sql_panels {
        let sql = grafana_sql(&p.query);
        let port = hub.pg_port;
        wait_for(
            &format!("{} / {}: SQL returns rows", p.dashboard, p.title),
            Duration::from_secs(120),
            || {
                let sql = sql.clone();
                async move {
                    match psql_rows(port, &sql) {
                        Ok(n) if n > 0 => Some(()),
                        Ok(_) => None,
                        Err(e) => panic!("{} / {}: `{sql}` failed: {e}", p.dashboard, p.title),
                    }
                }
            },
        )
        .await;
    }

    for s in &mut simulators {
        let _ = s.kill();
        let _ = s.wait();
    }
}
