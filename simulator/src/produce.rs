//! The paced Kafka producer: generates the simulated feeds at a rate and sends them to
//! their topics, keyed by region code.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hub_model::Feed;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::error::SimError;
use crate::generator::{Generator, SimConfig, SimMessage};
use crate::pacing::Pacer;
use crate::rhythm::{local_hour, rhythm};
use crate::scenario::RunSpan;

/// How often the pacer wakes up.
const TICK: Duration = Duration::from_millis(10);
/// At most this many messages per tick, so a backlog drains without starving the runtime.
const MAX_BURST: u64 = 10_000;
/// Delivery reports awaited at once; more blocks the producer (backpressure).
const IN_FLIGHT: usize = 65_536;
/// Wait before retrying when librdkafka's local queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(5);
/// Progress log interval.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How long the final flush may take before undelivered messages are given up.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// The span incidents unfold over when the run has neither a duration nor an expected
/// duration.
pub const DEFAULT_EXPECTED_DURATION: Duration = Duration::from_secs(30 * 60);

/// The topic of each feed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Topics {
    pub kiosk: String,
    pub slaughter: String,
    pub export: String,
}

impl Default for Topics {
    /// The contract's topics: `kiosk.results`, `slaughter.reports`, `export.declarations`.
    fn default() -> Self {
        Topics {
            kiosk: Feed::Kiosk.default_topic().to_string(),
            slaughter: Feed::Slaughter.default_topic().to_string(),
            export: Feed::Export.default_topic().to_string(),
        }
    }
}

impl Topics {
    pub fn topic(&self, feed: Feed) -> &str {
        match feed {
            Feed::Kiosk => &self.kiosk,
            Feed::Slaughter => &self.slaughter,
            Feed::Export => &self.export,
        }
    }
}

/// How to produce.
#[derive(Debug, Clone)]
pub struct ProduceConfig {
    /// Messages per second (all feeds together).
    pub rate: f64,
    /// Stop after this long; `None` runs until cancelled.
    pub duration: Option<Duration>,
    /// The span the incidents scenario unfolds over. Default: `duration`, else
    /// [`DEFAULT_EXPECTED_DURATION`]. After it, the incidents stay at full strength.
    pub expected_duration: Option<Duration>,
    pub sim: SimConfig,
    /// Follow the daily rhythm: the rate becomes `rate × rhythm(local hour)`.
    /// Off by default, so a demo at night still gets traffic.
    pub daily_rhythm: bool,
    /// How long to wait for a broker to answer before giving up.
    pub connect_timeout: Duration,
    /// librdkafka properties set after (and so overriding) the simulator's own, e.g.
    /// `security.protocol`, `compression.type`.
    pub client_properties: BTreeMap<String, String>,
}

impl Default for ProduceConfig {
    fn default() -> Self {
        ProduceConfig {
            rate: 100.0,
            duration: None,
            expected_duration: None,
            sim: SimConfig::default(),
            daily_rhythm: false,
            connect_timeout: Duration::from_secs(10),
            client_properties: BTreeMap::new(),
        }
    }
}

/// Messages per feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounts {
    pub kiosk: u64,
    pub slaughter: u64,
    pub export: u64,
}

impl FeedCounts {
    pub fn get(&self, feed: Feed) -> u64 {
        match feed {
            Feed::Kiosk => self.kiosk,
            Feed::Slaughter => self.slaughter,
            Feed::Export => self.export,
        }
    }

    pub fn add(&mut self, feed: Feed) {
        match feed {
            Feed::Kiosk => self.kiosk += 1,
            Feed::Slaughter => self.slaughter += 1,
            Feed::Export => self.export += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.kiosk + self.slaughter + self.export
    }
}

/// What a [`produce`] run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProduceReport {
    /// Messages handed to the producer, per feed (invalid ones included).
    pub sent: FeedCounts,
    /// Of those, deliberately invalid messages (the `bad` scenario).
    pub invalid: u64,
    /// Messages the brokers acknowledged.
    pub delivered: u64,
    /// Messages that could not be enqueued or delivered.
    pub delivery_errors: u64,
    pub elapsed: Duration,
}

impl ProduceReport {
    /// Messages sent per second over the run.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.sent.total() as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for ProduceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {} messages in {:.1} s ({:.1}/s): kiosk {}, slaughter {}, export {}; \
             {} invalid on purpose; {} delivered, {} delivery errors",
            self.sent.total(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.sent.kiosk,
            self.sent.slaughter,
            self.sent.export,
            self.invalid,
            self.delivered,
            self.delivery_errors
        )
    }
}

/// Delivery outcomes, counted by the collector task.
#[derive(Debug, Default)]
struct Deliveries {
    delivered: AtomicU64,
    failed: AtomicU64,
}

/// Produces simulated traffic to `brokers` at `cfg.rate` messages per second, with the
/// event time of each message the wall clock when it is generated, until `cfg.duration`
/// has passed or `cancel` fires. Then flushes and reports.
///
/// Fails early if no broker answers within `cfg.connect_timeout`. Delivery errors after
/// that do not stop the run: they are logged and counted in the report.
pub async fn produce(
    brokers: &str,
    topics: &Topics,
    cfg: ProduceConfig,
    cancel: CancellationToken,
) -> Result<ProduceReport, SimError> {
    check(brokers, &cfg)?;
    let producer = connect(brokers, &cfg)?;
    if !wait_for_broker(&producer, brokers, topics, cfg.connect_timeout, &cancel).await? {
        return Ok(ProduceReport::default());
    }

    let started = Instant::now();
    let span = RunSpan::new(
        Utc::now(),
        cfg.expected_duration
            .or(cfg.duration)
            .unwrap_or(DEFAULT_EXPECTED_DURATION),
    );
    let mut generator = Generator::new(&cfg.sim, span)?;
    if let Some(sites) = generator.incident_sites() {
        info!("incidents scenario, struck sites:\n{sites}");
    }
    info!(
        brokers,
        rate = cfg.rate,
        scenario = %cfg.sim.scenario,
        seed = cfg.sim.seed,
        "simulator producing"
    );

    let deliveries = Arc::new(Deliveries::default());
    let (reports, collector) = collect_deliveries(Arc::clone(&deliveries));
    let mut report = ProduceReport::default();
    let mut pacer = Pacer::new(cfg.rate);
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_tick = started;
    let mut last_log = started;
    let deadline = cfg.duration.map(|d| started + d);

    'run: loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let now = deadline.map_or(Instant::now(), |d| Instant::now().min(d));
        let weight = if cfg.daily_rhythm {
            rhythm(local_hour(Utc::now()))
        } else {
            1.0
        };
        pacer.credit(now - last_tick, weight);
        last_tick = now;

        for _ in 0..pacer.due().min(MAX_BURST) {
            let Ok(slot) = (tokio::select! {
                biased;
                () = cancel.cancelled() => break 'run,
                slot = reports.reserve() => slot,
            }) else {
                break 'run; // the collector is gone: nothing more can be counted
            };
            let message = generator.next_message(Utc::now());
            match send(&producer, topics, &message, &cancel).await {
                Sent::Enqueued(delivery) => slot.send(delivery),
                Sent::Refused => report.delivery_errors += 1,
                Sent::Cancelled => break 'run,
            }
            pacer.mark_sent();
            report.sent.add(message.feed);
            report.invalid += u64::from(!message.valid);
        }

        if last_log.elapsed() >= PROGRESS_EVERY {
            last_log = Instant::now();
            let elapsed = started.elapsed().as_secs_f64();
            info!(
                sent = report.sent.total(),
                delivered = deliveries.delivered.load(Ordering::Relaxed),
                errors = report.delivery_errors + deliveries.failed.load(Ordering::Relaxed),
                rate = format_args!("{:.1}/s", report.sent.total() as f64 / elapsed),
                "simulator progress"
            );
        }
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
    }

    report.elapsed = started.elapsed();
    drop(reports);
    flush(&producer).await?;
    collector
        .await
        .map_err(|e| SimError::Task(format!("delivery collector: {e}")))?;
    report.delivered = deliveries.delivered.load(Ordering::Relaxed);
    report.delivery_errors += deliveries.failed.load(Ordering::Relaxed);
    info!(%report, "simulator done");
    Ok(report)
}

fn check(brokers: &str, cfg: &ProduceConfig) -> Result<(), SimError> {
    if brokers.trim().is_empty() {
        return Err(SimError::InvalidConfig(
            "no brokers given: set the bootstrap servers, e.g. 127.0.0.1:9092".into(),
        ));
    }
    if !(cfg.rate.is_finite() && cfg.rate > 0.0) {
        return Err(SimError::InvalidConfig(format!(
            "the rate must be a positive number of messages per second, got {}",
            cfg.rate
        )));
    }
    if cfg.duration.is_some_and(|d| d.is_zero()) {
        return Err(SimError::InvalidConfig(
            "the duration must be longer than zero (leave it unset to run until stopped)".into(),
        ));
    }
    cfg.sim.population.validate()
}

fn connect(brokers: &str, cfg: &ProduceConfig) -> Result<FutureProducer, SimError> {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", brokers)
        .set("client.id", "hub-simulator")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
    for (key, value) in &cfg.client_properties {
        client.set(key, value);
    }
    client
        .create()
        .map_err(|source| SimError::Producer { source })
}

/// Asks the cluster for its metadata. `Ok(false)` when cancelled meanwhile.
async fn wait_for_broker(
    producer: &FutureProducer,
    brokers: &str,
    topics: &Topics,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<bool, SimError> {
    let probe = producer.clone();
    let lookup = tokio::task::spawn_blocking(move || probe.client().fetch_metadata(None, timeout));
    let metadata = tokio::select! {
        () = cancel.cancelled() => return Ok(false),
        joined = lookup => joined.map_err(|e| SimError::Task(format!("metadata lookup: {e}")))?,
    };
    let metadata = metadata.map_err(|source| SimError::BrokerUnreachable {
        brokers: brokers.to_string(),
        timeout_secs: timeout.as_secs(),
        source,
    })?;
    for feed in Feed::ALL {
        let topic = topics.topic(feed);
        if !metadata.topics().iter().any(|t| t.name() == topic) {
            warn!(
                topic,
                "topic does not exist yet; the broker must auto-create it, or deliveries fail"
            );
        }
    }
    debug!(
        brokers = metadata.brokers().len(),
        "connected to the cluster"
    );
    Ok(true)
}

enum Sent {
    Enqueued(DeliveryFuture),
    Refused,
    Cancelled,
}

/// Enqueues one message, waiting while librdkafka's local queue is full.
async fn send(
    producer: &FutureProducer,
    topics: &Topics,
    message: &SimMessage,
    cancel: &CancellationToken,
) -> Sent {
    let mut record = FutureRecord::to(topics.topic(message.feed))
        .key(message.key.as_str())
        .payload(message.payload.as_slice());
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Sent::Enqueued(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                tokio::select! {
                    () = cancel.cancelled() => return Sent::Cancelled,
                    () = tokio::time::sleep(QUEUE_FULL_BACKOFF) => {}
                }
            }
            Err((error, _)) => {
                warn!(%error, topic = topics.topic(message.feed), "message refused by the producer");
                return Sent::Refused;
            }
        }
    }
}

/// A bounded channel of delivery futures and the task that awaits them in order. The
/// producer never waits on a delivery; when too many are outstanding, reserving a slot
/// waits instead.
fn collect_deliveries(
    deliveries: Arc<Deliveries>,
) -> (mpsc::Sender<DeliveryFuture>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<DeliveryFuture>(IN_FLIGHT);
    let task = tokio::spawn(async move {
        while let Some(delivery) = rx.recv().await {
            let error = match delivery.await {
                Ok(Ok(_)) => {
                    deliveries.delivered.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Ok(Err((error, _))) => error.to_string(),
                Err(_) => "the producer dropped the delivery report".to_string(),
            };
            let failed = deliveries.failed.fetch_add(1, Ordering::Relaxed) + 1;
            if failed <= 5 || failed.is_multiple_of(10_000) {
                warn!(%error, failed, "delivery failed");
            }
        }
    });
    (tx, task)
}

/// Flushes outstanding messages; gives up (purging them, so their reports resolve as
/// errors) after [`FLUSH_TIMEOUT`].
async fn flush(producer: &FutureProducer) -> Result<(), SimError> {
    let flusher = producer.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(error) = flusher.flush(Timeout::After(FLUSH_TIMEOUT)) {
            warn!(%error, "flush timed out; undelivered messages are dropped");
            flusher.purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
            // Let the purged messages' delivery reports fire.
            let _ = flusher.flush(Timeout::After(Duration::from_secs(1)));
        }
    })
    .await
    .map_err(|e| SimError::Task(format!("flush: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_topics_are_the_contracts() {
        let topics = Topics::default();
        assert_eq!(topics.topic(Feed::Kiosk), "kiosk.results");
        assert_eq!(topics.topic(Feed::Slaughter), "slaughter.reports");
        assert_eq!(topics.topic(Feed::Export), "export.declarations");
    }

    #[tokio::test]
    async fn refuses_a_bad_rate_before_connecting() {
        let cfg = ProduceConfig {
            rate: -1.0,
            ..ProduceConfig::default()
        };
        let result = produce(
            "127.0.0.1:9092",
            &Topics::default(),
            cfg,
            CancellationToken::new(),
        )
        .await;
        assert!(matches!(result, Err(SimError::InvalidConfig(_))));
    }

    #[tokio::test]
    async fn says_when_no_broker_answers() {
        // Port 1 on loopback: nothing listens there.
        let cfg = ProduceConfig {
            connect_timeout: Duration::from_secs(1),
            duration: Some(Duration::from_secs(1)),
            ..ProduceConfig::default()
        };
        let result = produce(
            "127.0.0.1:1",
            &Topics::default(),
            cfg,
            CancellationToken::new(),
        )
        .await;
        match result {
            Err(e @ SimError::BrokerUnreachable { .. }) => {
                assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
            }
            other => panic!("expected BrokerUnreachable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn cancelled_before_connecting_reports_nothing() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let cfg = ProduceConfig {
            connect_timeout: Duration::from_secs(1),
            ..ProduceConfig::default()
        };
        let report = produce("127.0.0.1:1", &Topics::default(), cfg, cancel).await;
        assert_eq!(report.ok().map(|r| r.sent.total()), Some(0));
    }
}
