//! Wiring: one running hub (ingest, processors, SQL, HTTP) from a [`HubConfig`].
//! Shared by `run` and `demo`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hub_api::{ApiState, Readiness};
use hub_delivery::channel::email::EmailSender;
use hub_delivery::channel::kafka::KafkaSink;
use hub_delivery::channel::Channels;
use hub_delivery::metrics::DeliveryMetrics;
use hub_delivery::Dispatcher;
use hub_ingest::{Ingest, IngestHandle, Progress};
use hub_model::handoff::TransitionHandoff;
use hub_model::{AlertTransition, StatefulStage};
use hub_processors::metrics::{ProcessorMetrics, RuleMetrics};
use hub_processors::rules::stage::RuleStage;
use hub_processors::DeclarationLedger;
use hub_sql::{Catalog, SqlEngine};
use prometheus::Registry;
use rdkafka::producer::FutureProducer;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::HubConfig;

pub struct RunningHub {
    pub ingest: IngestHandle,
    pub sql: Arc<SqlEngine>,
    pub http_addr: std::net::SocketAddr,
    /// Where the PostgreSQL wire endpoint listens.
    pub pg_addr: std::net::SocketAddr,
    /// Alert transitions once delivery has queued them, for printing or logging
    /// (bounded; dropped, not waited for, when nobody reads).
    pub transitions: Option<mpsc::Receiver<AlertTransition>>,
    pub dispatcher: Arc<Dispatcher>,
    http_task: JoinHandle<Result<(), hub_api::ApiError>>,
    delivery_task: JoinHandle<()>,
}

/// Ready once every assigned partition is within this many messages of its end.
const READY_MAX_LAG: i64 = 1_000;

struct IngestReadiness(Arc<Progress>);

impl Readiness for IngestReadiness {
    fn ready(&self) -> Result<(), String> {
        if self.0.caught_up(READY_MAX_LAG) {
            return Ok(());
        }
        let lags = self.0.lags();
        if lags.is_empty() {
            return Err("no partitions assigned yet".into());
        }
        let behind: Vec<String> = lags
            .iter()
            .filter(|l| l.lag().is_none_or(|lag| lag > READY_MAX_LAG))
            .map(|l| match l.lag() {
                Some(lag) => format!("{}/{} lags {lag}", l.topic, l.partition),
                None => format!("{}/{} has no watermark yet", l.topic, l.partition),
            })
            .collect();
        Err(format!("catching up: {}", behind.join(", ")))
    }
}

pub async fn start(config: &HubConfig, cancel: CancellationToken) -> Result<RunningHub> {
    let registry = Registry::new();
    if config.auth.is_open() {
        tracing::warn!(listen = %config.http.listen, "auth.tokens is empty: the /api/v1 endpoints are open (loopback only)");
    }
    let processor_metrics = ProcessorMetrics::new(&registry)?;
    let rules = config.compile_rules()?;
    tracing::info!(rules = rules.len(), lateness = ?config.evaluation.allowed_lateness, "rules compiled");
    let (tx, transitions) = mpsc::channel(config.evaluation.transition_queue);
    let handoff = Arc::new(TransitionHandoff::new());
    let rule_stage = RuleStage::new(
        rules,
        config.evaluation.clone(),
        Some(RuleMetrics::new(&registry)?),
    )
    .with_transitions(tx)
    .with_handoff(handoff.clone());
    let rates = rule_stage.rates();
    let open_alerts = rule_stage.open_alerts();
    let rule_names: Vec<String> = rule_stage
        .engine()
        .rules()
        .iter()
        .map(|r| r.name.clone())
        .collect();
    let dispatcher = open_dispatcher(config, rule_names, &registry)?;
    let stages: Vec<Box<dyn StatefulStage>> = vec![
        Box::new(DeclarationLedger::new(
            config.ingest.declaration_retention,
            Some(processor_metrics),
        )),
        Box::new(rule_stage),
    ];
    let ingest = Ingest {
        kafka: config.kafka.clone(),
        ingest: config.ingest.clone(),
        storage: config.storage.clone(),
    }
    .start(stages, &registry, cancel.clone())
    .await
    .context("starting ingest")?;

    let (observer, observed) = mpsc::channel(OBSERVED_QUEUE);
    let delivery_task = tokio::spawn(dispatcher.clone().run(
        transitions,
        Some(handoff),
        Some(observer),
        cancel.child_token(),
    ));
    let catalog = Catalog::new(ingest.tables.clone())
        .with_current(rates)
        .with_current(dispatcher.deliveries_table());
    let sql = Arc::new(SqlEngine::new(catalog, config.sql.clone(), &registry)?);
    let state = ApiState {
        registry: registry.clone(),
        sql: sql.clone(),
        readiness: Arc::new(IngestReadiness(ingest.progress.clone())),
        auth: config.auth.clone(),
        alerts: open_alerts,
        delivery: Some(dispatcher.clone()),
    };
    let listener = hub_api::bind(config.http.addr()?).await.with_context(|| {
        format!(
            "cannot listen on http.listen = {} (in use? pick another port)",
            config.http.listen
        )
    })?;
    let http_addr = listener.local_addr()?;
    let pg_listener = tokio::net::TcpListener::bind(&config.sql.pg_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on sql.pg_listen = {} (in use? pick another port)",
                config.sql.pg_listen
            )
        })?;
    let pg_addr = pg_listener.local_addr()?;
    let tokens: Option<hub_sql::pg::TokenCheck> = if config.auth.is_open() {
        None
    } else {
        let auth = config.auth.clone();
        Some(Arc::new(move |password: &str| auth.accepts(password)))
    };
    tokio::spawn(hub_sql::pg::serve(
        pg_listener,
        sql.clone(),
        tokens,
        cancel.clone(),
    ));
    let http_task = tokio::spawn(hub_api::serve(
        listener,
        hub_api::router(state),
        cancel.clone(),
    ));
    tracing::info!(http = %http_addr, postgres = %pg_addr, brokers = %config.kafka.brokers, data_dir = %config.storage.data_dir.display(), "safety-hub running");
    Ok(RunningHub {
        ingest,
        sql,
        http_addr,
        pg_addr,
        transitions: Some(observed),
        dispatcher,
        http_task,
        delivery_task,
    })
}

/// Transitions kept for a slow printer before they are dropped from its view.
const OBSERVED_QUEUE: usize = 4096;

/// The delivery side: stores under `<data_dir>/delivery`, the four channels.
fn open_dispatcher(
    config: &HubConfig,
    rules: Vec<String>,
    registry: &Registry,
) -> Result<Arc<Dispatcher>> {
    let d = &config.delivery;
    let producer: FutureProducer = hub_ingest::consumer::client_config(&config.kafka)
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", d.timeout.as_millis().to_string())
        .create()
        .context("creating the Kafka producer for the alerts topic")?;
    let mut channels = Channels::new(d.timeout, d.alertmanager_hold)
        .with_kafka(KafkaSink::new(producer, &config.kafka.topics.alerts));
    if let Some(smtp) = &d.smtp {
        channels = channels.with_email(EmailSender::new(smtp)?);
    }
    let dispatcher = Dispatcher::open(
        &config.storage.data_dir.join("delivery"),
        d.clone(),
        rules,
        &config.subscriptions,
        channels,
        Some(DeliveryMetrics::new(registry)?),
    )?;
    tracing::info!(
        subscriptions = dispatcher.subscriptions().len(),
        waiting = dispatcher.waiting(),
        "alert delivery ready"
    );
    Ok(dispatcher)
}

impl RunningHub {
    /// Waits for the graceful stop that follows the root token's cancellation.
    pub async fn wait(self) -> Result<()> {
        let ingest = self.ingest.wait();
        let http = async {
            match tokio::time::timeout(Duration::from_secs(10), self.http_task).await {
                Ok(Ok(r)) => r.map_err(anyhow::Error::from),
                Ok(Err(e)) => Err(anyhow::anyhow!("HTTP task failed: {e}")),
                Err(_) => Ok(()),
            }
        };
        let delivery = async {
            // Ends once the pipeline has stopped (and handed off its last
            // transitions) and the in-flight attempts are recorded.
            if let Err(e) = self.delivery_task.await {
                tracing::error!(error = %e, "the delivery task failed");
            }
        };
        let (i, h, ()) = tokio::join!(ingest, http, delivery);
        i.context("ingest")?;
        h
    }
}

/// Logs every alert transition.
pub async fn log_transitions(mut rx: mpsc::Receiver<AlertTransition>) {
    while let Some(t) = rx.recv().await {
        tracing::info!(
            alert = %t.alert.alert_id,
            kind = t.kind.as_str(),
            severity = t.alert.severity.as_str(),
            agency = %t.alert.agency,
            notification = %t.notification_id,
            "{}",
            t.alert.summary
        );
    }
}
