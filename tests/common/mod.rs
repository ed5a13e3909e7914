//! Fixtures for the integration tests: a real `tansu` broker, the real `safety-hub`
//! binary as a child process, a producer, and SQL over the hub's HTTP API.
//! Every wait polls with a deadline; nothing sleeps to synchronise.

#![allow(dead_code)]

pub mod feeds;
pub mod golden;
pub mod golden_file;
pub mod moto;

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;

pub const FEED_TOPICS: [&str; 3] = ["kiosk.results", "slaughter.reports", "export.declarations"];

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn tansu_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TANSU_BIN") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let cargo_bin = Path::new(&home).join(".cargo/bin/tansu");
    if cargo_bin.exists() {
        return cargo_bin;
    }
    PathBuf::from("tansu")
}

/// A tansu broker on a free port, memory storage, killed on drop.
pub struct Broker {
    pub port: u16,
    storage: String,
    dir: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

impl Broker {
    pub async fn start(log_dir: &Path) -> Broker {
        Self::start_with(log_dir, "memory://tansu/".to_string()).await
    }

    /// A broker whose log survives a restart (tansu's SQLite storage engine).
    pub async fn start_persistent(dir: &Path) -> Broker {
        // tansu resolves `sqlite://<name>` against its working directory: `dir`.
        Self::start_with(dir, "sqlite://tansu.db".to_string()).await
    }

    async fn start_with(log_dir: &Path, storage: String) -> Broker {
        let port = free_port();
        let mut b = Broker {
            port,
            storage,
            dir: log_dir.to_path_buf(),
            child: None,
            log: log_dir.join(format!("tansu-{port}.log")),
        };
        b.spawn().await;
        b
    }

    async fn spawn(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(tansu_bin())
            .args(["broker", "--storage-engine", &self.storage, "--listener-url", &url, "--advertised-listener-url", &url])
            .current_dir(&self.dir)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting tansu: install it with `cargo install tansu --locked --features dynostore` or set TANSU_BIN");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        wait_for(
            "the tansu broker to listen",
            Duration::from_secs(20),
            || {
                let addr = addr.clone();
                async move { tokio::net::TcpStream::connect(&addr).await.ok().map(|_| ()) }
            },
        )
        .await;
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(tansu_bin())
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
            ])
            .stdout(Stdio::null())
            .status()
            .expect("running `tansu topic create`");
        assert!(status.success(), "tansu topic create {name} failed");
    }

    pub fn create_feed_topics(&self, partitions: u32) {
        for t in FEED_TOPICS {
            self.create_topic(t, partitions);
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops and starts the broker on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A producer for the tests. One record per batch: tansu 0.6 answers a fetch at an
/// offset inside a record batch with nothing from that batch (Kafka returns the batch
/// and the client skips the records before the offset), so a consumer that resumes
/// from a checkpoint mid-batch would silently miss the rest of it on tansu.
pub fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("batch.num.messages", "1")
        .set("message.timeout.ms", "60000")
        .create()
        .expect("producer")
}

/// Produces `(topic, payload)` pairs, keyed by index, and waits for every delivery.
pub async fn produce_all(producer: &FutureProducer, messages: &[(String, Vec<u8>)]) {
    let mut futures = Vec::with_capacity(messages.len());
    for (i, (topic, payload)) in messages.iter().enumerate() {
        // Producers key by region_code (the contract); unparseable payloads by index.
        let key = serde_json::from_slice::<Value>(payload)
            .ok()
            .and_then(|v| {
                v.get("region_code")
                    .and_then(|r| r.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| format!("k{}", i % 97));
        loop {
            match producer.send_result(FutureRecord::to(topic).key(&key).payload(payload)) {
                Ok(f) => {
                    futures.push(f);
                    break;
                }
                Err((_, _)) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }
    for f in futures {
        f.await.expect("delivery future").expect("delivered");
    }
}

/// The `safety-hub run` binary as a child process with an env-only configuration.
pub struct Hub {
    pub http: String,
    /// The PostgreSQL wire port on 127.0.0.1.
    pub pg_port: u16,
    pub data_dir: PathBuf,
    env: Vec<(String, String)>,
    args: Vec<String>,
    child: Option<Child>,
    log: PathBuf,
}

impl Hub {
    pub fn new(bootstrap: &str, data_dir: &Path, group: &str) -> Hub {
        let port = free_port();
        let pg_port = free_port();
        let env = vec![
            ("HUB__KAFKA__BROKERS".to_string(), bootstrap.to_string()),
            ("HUB__KAFKA__GROUP_ID".to_string(), group.to_string()),
            (
                "HUB__STORAGE__DATA_DIR".to_string(),
                data_dir.display().to_string(),
            ),
            ("HUB__STORAGE__ROLL_INTERVAL".to_string(), "1s".to_string()),
            ("HUB__HTTP__LISTEN".to_string(), format!("127.0.0.1:{port}")),
            (
                "HUB__SQL__PG_LISTEN".to_string(),
                format!("127.0.0.1:{pg_port}"),
            ),
            ("RUST_LOG".to_string(), "info".to_string()),
        ];
        Hub {
            http: format!("http://127.0.0.1:{port}"),
            pg_port,
            data_dir: data_dir.to_path_buf(),
            env,
            args: Vec::new(),
            child: None,
            log: data_dir.with_extension("hub.log"),
        }
    }

    /// Runs with `--config <file>` (env variables still override it).
    pub fn config_file(mut self, file: &Path) -> Self {
        self.args = vec!["--config".into(), file.display().to_string()];
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_safety-hub"));
        cmd.arg("run")
            .args(&self.args)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("starting safety-hub"));
        let url = format!("{}/healthz", self.http);
        let log_path = self.log.clone();
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "safety-hub exited with {status}:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "safety-hub did not answer /healthz:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9`: no shutdown hooks, no final checkpoint.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the graceful stop.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("hub running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        c.wait().unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs SQL over HTTP; panics with the hub's error message on failure.
    pub async fn sql(&self, sql: &str) -> Value {
        let (status, body) = self.sql_raw(sql).await;
        assert!(
            status.is_success(),
            "SQL `{sql}` failed with {status}: {body}"
        );
        body
    }

    pub async fn sql_raw(&self, sql: &str) -> (reqwest::StatusCode, Value) {
        let sent = reqwest::Client::new()
            .post(format!("{}/api/v1/sql", self.http))
            .json(&serde_json::json!({ "sql": sql }))
            .send()
            .await;
        match sent {
            Ok(r) => {
                let status = r.status();
                (status, r.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (
                reqwest::StatusCode::SERVICE_UNAVAILABLE,
                Value::String(e.to_string()),
            ),
        }
    }

    /// The single integer a `SELECT count(*) …` returns.
    pub async fn count(&self, sql: &str) -> i64 {
        let v = self.sql(sql).await;
        v["rows"][0][0]
            .as_i64()
            .unwrap_or_else(|| panic!("`{sql}` gave {v}"))
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.http))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits until the three feed tables hold exactly `(kiosk, slaughter, export)` rows.
    pub async fn wait_feed_counts(
        &self,
        (kiosk, slaughter, export): (i64, i64, i64),
        timeout: Duration,
    ) {
        for (table, n) in [
            ("kiosk_results", kiosk),
            ("slaughter_reports", slaughter),
            ("export_declarations", export),
        ] {
            self.wait_count(&format!("SELECT count(*) FROM {table}"), n, timeout)
                .await;
        }
    }

    pub async fn wait_count(&self, sql: &str, expected: i64, timeout: Duration) {
        let mut last = -1;
        let deadline = Instant::now() + timeout;
        loop {
            let (status, v) = self.sql_raw(sql).await;
            if status.is_success() {
                last = v["rows"][0][0].as_i64().unwrap_or(-1);
                if last == expected {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "`{sql}` is {last}, expected {expected} after {timeout:?}\n--- hub log tail ---\n{}", tail(&self.log_text(), 40));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// `psql -c sql` against the hub's PostgreSQL endpoint on 127.0.0.1:`port`, with
/// `password` (a token; any when the hub has none).
pub fn psql(port: u16, password: &str, sql: &str) -> Output {
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
