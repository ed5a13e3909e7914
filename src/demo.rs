//! `safety-hub demo`: the whole system in one process with nothing installed — an
//! embedded Kafka-protocol broker (librdkafka's mock cluster), the simulator producing
//! incidents and bad records, the full pipeline, HTTP/metrics/SQL on localhost.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use hub_simulator::{produce, ProduceConfig, Scenario, SimConfig};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use tokio_util::sync::CancellationToken;

use crate::config::HubConfig;
use crate::hub::{self, RunningHub};
use crate::simulate::{parse_duration, topics_of};
use hub_delivery::subscription::SubscriptionSpec;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// HTTP address of the hub (metrics, health, SQL API).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
    /// PostgreSQL wire address of the hub (psql, BI tools).
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub pg: String,
    /// Simulated messages per second, all feeds together.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Stop after this long (e.g. 2m); default: until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Keep the archive and checkpoints here; default: a temporary directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Deliver every alert notification to this URL as signed CloudEvents (Standard
    /// Webhooks), e.g. http://127.0.0.1:9000/hook.
    #[arg(long)]
    pub webhook: Option<String>,
    /// The webhook signing secret (`whsec_<base64>`); default: a generated one,
    /// printed at start so the receiver can verify.
    #[arg(long, env = "HUB_DEMO_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
}

const PARTITIONS: i32 = 3;

pub async fn run(args: DemoArgs, cancel: CancellationToken) -> Result<()> {
    println!(
        "safety-hub demo: starting an embedded Kafka-protocol broker (librdkafka mock cluster)…"
    );
    let mock: MockCluster<'static, DefaultProducerContext> =
        MockCluster::new(1).context("starting the embedded broker")?;
    let mut config = HubConfig::default();
    config.kafka.brokers = mock.bootstrap_servers();
    config.kafka.group_id = "safety-hub-demo".into();
    let t = &config.kafka.topics;
    for topic in [&t.kiosk, &t.slaughter, &t.export, &t.dlq, &t.alerts] {
        mock.create_topic(topic, PARTITIONS, 1)
            .with_context(|| format!("creating topic {topic}"))?;
    }
    config.http.listen = args.http.clone();
    config.sql.pg_listen = args.pg.clone();
    config.storage.roll_interval = Duration::from_secs(5);
    // Without --data-dir the archive lives in a temporary directory removed at exit.
    let _temp;
    config.storage.data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            _temp = tempfile::Builder::new()
                .prefix("safety-hub-demo-")
                .tempdir()
                .context("creating a temporary data directory")?;
            _temp.path().to_path_buf()
        }
    };
    let webhook_note = match &args.webhook {
        Some(url) => {
            let (secret, generated) = match &args.webhook_secret {
                Some(s) => (s.clone(), false),
                None => (generated_secret(), true),
            };
            let spec = serde_json::json!({
                "name": "demo webhook",
                "agency": "all agencies",
                "channel": {"type": "webhook", "url": url, "secret": secret},
            });
            config.subscriptions.push(
                SubscriptionSpec::from_json(spec.to_string().as_bytes())
                    .map_err(|e| anyhow::anyhow!("--webhook: {e}"))?,
            );
            Some(if generated {
                format!("  webhook     {url} (signing secret {secret}, generated for this run)\n")
            } else {
                format!("  webhook     {url} (signed with --webhook-secret)\n")
            })
        }
        None => None,
    };
    config.validate()?;

    let mut hub = hub::start(&config, cancel.clone()).await?;
    if let Some(rx) = hub.transitions.take() {
        tokio::spawn(print_transitions(rx));
    }
    let url = format!("http://{}", hub.http_addr);
    println!(
        "\n  broker      {brokers} (topics {kiosk}, {slaughter}, {export}, {dlq})\n  \
         data dir    {data}\n  metrics     {url}/metrics\n  health      {url}/healthz  {url}/readyz\n  \
         SQL (HTTP)  curl -s {url}/api/v1/sql -d '{{\"sql\": \"SELECT reason_class, count(*) FROM dead_letters GROUP BY 1\"}}'\n  \
         SQL (psql)  psql -h {pg_host} -p {pg_port} -U hub -c 'SELECT rule, count(*) FROM rates GROUP BY rule'\n  \
         SQL (CLI)   safety-hub sql --url {url} \"SELECT market_id, count(*) AS tests, avg(CASE WHEN result = 'pass' THEN 1.0 ELSE 0.0 END) AS pass_rate FROM kiosk_results WHERE result <> 'invalid' GROUP BY market_id ORDER BY pass_rate LIMIT 5\"\n",
        brokers = config.kafka.brokers,
        kiosk = t.kiosk,
        slaughter = t.slaughter,
        export = t.export,
        dlq = t.dlq,
        data = config.storage.data_dir.display(),
        pg_host = hub.pg_addr.ip(),
        pg_port = hub.pg_addr.port(),
    );
    if let Some(note) = webhook_note {
        println!("{note}");
    }

    // Traffic: incidents at 90 % of the rate, bad records mixed in at 10 %.
    let topics = topics_of(&config);
    let mut producers = Vec::new();
    for (scenario, share, seed) in [
        (Scenario::Incidents, 0.9, args.seed),
        (Scenario::Bad, 0.1, args.seed + 1),
    ] {
        let cfg = ProduceConfig {
            rate: args.rate * share,
            duration: args.duration,
            expected_duration: Some(args.duration.unwrap_or(Duration::from_secs(600))),
            sim: SimConfig {
                seed,
                scenario,
                ..SimConfig::default()
            },
            ..ProduceConfig::default()
        };
        let (brokers, topics, cancel) =
            (config.kafka.brokers.clone(), topics.clone(), cancel.clone());
        producers.push(tokio::spawn(async move {
            produce(&brokers, &topics, cfg, cancel).await
        }));
    }
    println!("  simulator   {:.0} messages/s: scenario `incidents` plus `bad` records (Ctrl-C to stop)\n", args.rate);

    let stop = cancel.clone();
    if let Some(d) = args.duration {
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(d + Duration::from_secs(3)).await;
            c.cancel();
        });
    }
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => print_status(&hub).await,
        }
    }
    for p in producers {
        match p.await {
            Ok(Ok(report)) => println!(
                "simulator sent {} messages ({} invalid)",
                report.sent.total(),
                report.invalid
            ),
            Ok(Err(e)) => println!("simulator stopped: {e}"),
            Err(e) => println!("simulator task failed: {e}"),
        }
    }
    print_status(&hub).await;
    hub.wait().await?;
    drop(mock);
    println!("safety-hub demo: stopped");
    Ok(())
}

/// A fresh `whsec_` secret: 32 random bytes.
fn generated_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Prints alert transitions as they happen: what, where, who must act. Warnings whose
/// interval still straddles the bar (statistically unclear) are counted, not printed,
/// so the console shows the incidents rather than the noise of small samples.
async fn print_transitions(mut rx: tokio::sync::mpsc::Receiver<hub_model::AlertTransition>) {
    let mut shown = std::collections::HashSet::new();
    while let Some(t) = rx.recv().await {
        let a = &t.alert;
        let notable = a.severity != hub_model::Severity::Warning || a.clear_breach;
        if !(notable || shown.contains(&a.alert_id)) {
            continue;
        }
        if t.kind == hub_model::TransitionKind::Resolved {
            shown.remove(&a.alert_id);
        } else {
            shown.insert(a.alert_id.clone());
        }
        println!(
            "  ALERT {:<16} {:<13} {} → {}: {}",
            t.kind.as_str(),
            a.severity.as_str(),
            a.alert_id,
            a.agency,
            a.summary
        );
    }
}

/// One status block, read back through SQL like an analyst would.
async fn print_status(hub: &RunningHub) {
    let sql = "SELECT 'kiosk_results' AS t, count(*) AS n FROM kiosk_results \
               UNION ALL SELECT 'slaughter_reports', count(*) FROM slaughter_reports \
               UNION ALL SELECT 'export_declarations', count(*) FROM export_declarations \
               UNION ALL SELECT 'dead_letters', count(*) FROM dead_letters ORDER BY t";
    let counts = match hub.sql.query(sql).await {
        Ok(r) => rows_as_text(&r),
        Err(e) => format!("(query failed: {e})"),
    };
    let reasons = match hub
        .sql
        .query("SELECT reason_class, count(*) AS n FROM dead_letters GROUP BY reason_class ORDER BY n DESC")
        .await
    {
        Ok(r) => rows_as_text(&r),
        Err(e) => format!("(query failed: {e})"),
    };
    let alerts = match hub
        .sql
        .query("SELECT severity, count(*) AS n FROM rates WHERE state = 'firing' GROUP BY severity ORDER BY severity")
        .await
    {
        Ok(r) => rows_as_text(&r),
        Err(e) => format!("(query failed: {e})"),
    };
    let deliveries = if hub.dispatcher.subscriptions().is_empty() {
        String::new()
    } else {
        match hub
            .sql
            .query("SELECT status, count(*) AS n FROM deliveries GROUP BY status ORDER BY status")
            .await
        {
            Ok(r) => format!(" | notifications: {}", rows_as_text(&r)),
            Err(e) => format!(" | notifications: (query failed: {e})"),
        }
    };
    let lag: i64 = hub
        .ingest
        .progress
        .lags()
        .iter()
        .filter_map(|l| l.lag())
        .sum();
    println!(
        "[{}] ingested: {counts} | dead letters by reason: {} | alerts firing: {}{deliveries} | consumer lag {lag}",
        chrono::Utc::now().format("%H:%M:%S"),
        if reasons.is_empty() {
            "none yet".to_string()
        } else {
            reasons
        },
        if alerts.is_empty() { "none".to_string() } else { alerts }
    );
}

fn rows_as_text(r: &hub_sql::QueryResult) -> String {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    let mut parts = Vec::new();
    for b in &r.batches {
        // Text columns come back as Utf8View (hub-sql's table schema).
        let names = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)
            .expect("text casts to Utf8");
        let names = names.as_string::<i32>();
        let counts = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            if !names.is_null(i) {
                parts.push(format!("{} {}", names.value(i), counts.value(i)));
            }
        }
    }
    parts.join(", ")
}
