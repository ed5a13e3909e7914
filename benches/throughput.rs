//! Benchmark (b): the hub's sustained ingest rate through a real tansu broker, next to a
//! bare rdkafka consumer draining the same topics on the same broker in the same run.
//! Run: `cargo bench --bench throughput` (needs `tansu` on PATH or TANSU_BIN).
//!
//! Method: one tansu broker (memory storage) on a free port; the feed topics with 3
//! partitions each; N realistic messages (simulator `steady` history, all feeds)
//! produced up front. Then, in turn: a bare `StreamConsumer` that only counts messages
//! and bytes, and the hub's full ingest (decode, validate, dedup, Arrow, archive,
//! checkpoints, in-process) each drain all N from offset 0 under their own group id.
//! Each drain is timed from start to the last message processed; bare, hub, hub with
//! rules, hub with rules while an analyst query loops, bare again.
//!
//! The heavy query (issue 5, "a heavy analyst query cannot starve ingest"): a
//! self-join aggregation over `kiosk_results` (every market's tests against every
//! other test of its market), run back to back on the SQL pool (default limits:
//! 2 threads, 512 MiB, 30 s) for the whole drain.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use hub_ingest::{Ingest, IngestConfig, KafkaConfig, StorageConfig};
use hub_processors::rules::config::{default_rules, EvaluationConfig};
use hub_processors::rules::rule::CompiledRule;
use hub_processors::rules::stage::RuleStage;
use hub_processors::DeclarationLedger;
use hub_simulator::{history, SimConfig};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

const N: usize = 300_000;

fn tansu() -> String {
    std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into())
}

async fn bare_drain(bootstrap: &str, group: &str) -> Duration {
    let c: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // The hub's setting (tansu holds a fetch for the whole max wait).
        .set("fetch.wait.max.ms", "50")
        .create()
        .unwrap();
    c.subscribe(&["kiosk.results", "slaughter.reports", "export.declarations"])
        .unwrap();
    let started = Instant::now();
    let (mut n, mut bytes) = (0usize, 0usize);
    while n < N {
        let m = c.recv().await.unwrap();
        bytes += m.payload().map_or(0, |p| p.len());
        n += 1;
    }
    std::hint::black_box(bytes);
    started.elapsed()
}

/// The hub's ingest; with `rules`, also the stages `safety-hub run` has (the export
/// ledger and every built-in rule).
const HEAVY_QUERY: &str = "SELECT a.market_id, count(*) AS pairs, avg(length(b.sample_name)) AS l \
     FROM kiosk_results a JOIN kiosk_results b ON a.market_id = b.market_id \
     GROUP BY a.market_id ORDER BY pairs DESC LIMIT 10";

async fn hub_drain(bootstrap: &str, group: &str, rules: bool) -> Duration {
    hub_drain_with(bootstrap, group, rules, false).await.0
}

/// Also returns how many heavy queries ran (and how many failed, e.g. on the limits).
async fn hub_drain_with(
    bootstrap: &str,
    group: &str,
    rules: bool,
    heavy: bool,
) -> (Duration, usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut kafka = KafkaConfig {
        brokers: bootstrap.into(),
        group_id: group.into(),
        ..KafkaConfig::default()
    };
    kafka.created_topic_partitions = 3;
    let ingest = Ingest {
        kafka,
        ingest: IngestConfig::default(),
        storage: StorageConfig {
            data_dir: dir.path().into(),
            ..StorageConfig::default()
        },
    };
    let cancel = CancellationToken::new();
    let registry = prometheus::Registry::new();
    let started = Instant::now();
    let mut stages: Vec<Box<dyn hub_model::StatefulStage>> = Vec::new();
    if rules {
        let compiled = CompiledRule::compile_all(&default_rules()).unwrap();
        stages.push(Box::new(DeclarationLedger::new(
            IngestConfig::default().declaration_retention,
            None,
        )));
        stages.push(Box::new(RuleStage::new(
            compiled,
            EvaluationConfig::default(),
            None,
        )));
    }
    let handle = ingest
        .start(stages, &registry, cancel.clone())
        .await
        .unwrap();
    let queries = heavy.then(|| {
        let engine = std::sync::Arc::new(
            hub_sql::SqlEngine::new(
                hub_sql::Catalog::new(handle.tables.clone()),
                hub_sql::SqlConfig::default(),
                &registry,
            )
            .unwrap(),
        );
        let stop = cancel.clone();
        tokio::spawn(async move {
            let (mut ran, mut failed) = (0, 0);
            while !stop.is_cancelled() {
                ran += 1;
                if engine.query(HEAVY_QUERY).await.is_err() {
                    failed += 1;
                }
            }
            (ran, failed)
        })
    });
    loop {
        let done: i64 = handle.progress.offsets().iter().map(|(_, _, o)| *o).sum();
        if done as usize >= N {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    cancel.cancel();
    handle.wait().await.unwrap();
    let (ran, failed) = match queries {
        Some(q) => q.await.unwrap(),
        None => (0, 0),
    };
    (took, ran, failed)
}

#[tokio::main]
async fn main() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let mut broker = Command::new(tansu())
        .args([
            "broker",
            "--storage-engine",
            "memory://tansu/",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu on PATH or TANSU_BIN");
    let bootstrap = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&bootstrap).is_err() {
        assert!(Instant::now() < deadline, "tansu did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for t in [
        "kiosk.results",
        "slaughter.reports",
        "export.declarations",
        "hub.dlq",
        "hub.alerts",
    ] {
        let ok = Command::new(tansu())
            .args(["topic", "create", t, "--partitions", "3", "--broker", &url])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    let end = Utc::now() - TimeDelta::hours(1);
    let messages: Vec<_> = history(&SimConfig::default(), end - TimeDelta::days(2), end, 10.0)
        .unwrap()
        .filter(|m| m.valid)
        .take(N)
        .collect();
    assert_eq!(messages.len(), N);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .create()
        .unwrap();
    let t = Instant::now();
    let mut pending = Vec::new();
    for m in &messages {
        let topic = m.feed.default_topic();
        loop {
            match producer.send_result(FutureRecord::to(topic).key(&m.key).payload(&m.payload)) {
                Ok(f) => {
                    pending.push(f);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
        if pending.len() >= 50_000 {
            for f in pending.drain(..) {
                f.await.unwrap().unwrap();
            }
        }
    }
    for f in pending {
        f.await.unwrap().unwrap();
    }
    println!(
        "produced {N} messages in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let rate = |d: Duration| N as f64 / d.as_secs_f64();
    let bare1 = bare_drain(&bootstrap, "bench-bare-1").await;
    println!("bare rdkafka consumer   {:>10.0} messages/s", rate(bare1));
    let hub = hub_drain(&bootstrap, "bench-hub", false).await;
    println!("hub ingest              {:>10.0} messages/s", rate(hub));
    let hub_rules = hub_drain(&bootstrap, "bench-hub-rules", true).await;
    println!(
        "hub ingest + rules      {:>10.0} messages/s",
        rate(hub_rules)
    );
    let (hub_heavy, ran, failed) = hub_drain_with(&bootstrap, "bench-hub-heavy", true, true).await;
    println!(
        "hub + rules + queries  {:>10.0} messages/s ({ran} heavy queries, {failed} stopped by a limit)",
        rate(hub_heavy)
    );
    let bare2 = bare_drain(&bootstrap, "bench-bare-2").await;
    println!(
        "bare rdkafka consumer   {:>10.0} messages/s (again)",
        rate(bare2)
    );
    let best_bare = rate(bare1.min(bare2));
    println!("ratio hub / best bare   {:>10.2}", rate(hub) / best_bare);
    println!(
        "ratio hub+rules / bare  {:>10.2}",
        rate(hub_rules) / best_bare
    );
    println!(
        "ratio with / without the heavy query {:>6.2}",
        rate(hub_heavy) / rate(hub_rules)
    );
    let _ = broker.kill();
    let _ = broker.wait();
}
