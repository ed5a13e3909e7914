//! `safety-hub simulate`: realistic feed traffic into any Kafka cluster.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use hub_simulator::{produce, ProduceConfig, Scenario, SimConfig, Topics};
use tokio_util::sync::CancellationToken;

use crate::config::HubConfig;

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime_serde::re::humantime::parse_duration(s)
        .map_err(|e| format!("`{s}`: {e} (e.g. 30s, 10m, 2h)"))
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Bootstrap servers; default: kafka.brokers of the config (127.0.0.1:9092).
    #[arg(long)]
    pub brokers: Option<String>,
    /// Hub config file, for kafka.brokers, kafka.topics and kafka.client.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Messages per second, all feeds together.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Stop after this long (e.g. 60s, 10m); default: until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// steady, incidents (a sinking market, a silent plant, a failing exporter, a
    /// growing non-designated plant) or bad (about 5 % invalid messages).
    #[arg(long, default_value = "steady")]
    pub scenario: Scenario,
    /// Modulate the rate with the markets' daily rhythm (busy mornings, quiet nights).
    #[arg(long)]
    pub daily_rhythm: bool,
}

pub fn topics_of(config: &HubConfig) -> Topics {
    let t = &config.kafka.topics;
    Topics {
        kiosk: t.kiosk.clone(),
        slaughter: t.slaughter.clone(),
        export: t.export.clone(),
    }
}

pub async fn run(args: SimulateArgs, cancel: CancellationToken) -> Result<()> {
    let config = HubConfig::load(args.config.as_deref())?;
    let brokers = args.brokers.unwrap_or_else(|| config.kafka.brokers.clone());
    let cfg = ProduceConfig {
        rate: args.rate,
        duration: args.duration,
        sim: SimConfig {
            seed: args.seed,
            scenario: args.scenario,
            ..SimConfig::default()
        },
        daily_rhythm: args.daily_rhythm,
        client_properties: config.kafka.client.clone(),
        ..ProduceConfig::default()
    };
    let report = produce(&brokers, &topics_of(&config), cfg, cancel).await?;
    println!(
        "sent {} messages ({} kiosk, {} slaughter, {} export; {} invalid) in {:.1} s, {:.0}/s; {} delivery errors",
        report.sent.total(),
        report.sent.kiosk,
        report.sent.slaughter,
        report.sent.export,
        report.invalid,
        report.elapsed.as_secs_f64(),
        report.rate(),
        report.delivery_errors
    );
    Ok(())
}
