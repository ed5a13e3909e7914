//! `safety-hub`: the one binary. Subcommands wire the library crates together.

mod config;
mod demo;
mod hub;
mod simulate;
mod sql_client;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::config::HubConfig;

#[derive(Parser)]
#[command(
    name = "safety-hub",
    version,
    about = "Streaming hub for food and product safety regulators"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub against a Kafka cluster (production).
    Run {
        /// TOML config file; HUB__SECTION__KEY environment variables override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// The whole system in one process: embedded broker, simulator, pipeline, HTTP.
    Demo(demo::DemoArgs),
    /// Produce realistic feed traffic into a Kafka cluster.
    Simulate(simulate::SimulateArgs),
    /// Run a SQL query against a running hub.
    Sql {
        /// The query, e.g. "SELECT feed, count(*) FROM dead_letters GROUP BY feed".
        query: String,
        /// The hub's HTTP address.
        #[arg(long, env = "HUB_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Bearer token (one of the hub's auth.tokens).
        #[arg(long, env = "HUB_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: sql_client::OutputFormat,
    },
}

fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The root token: cancelled on Ctrl-C or SIGTERM; every task stops gracefully from it.
fn root_token() -> CancellationToken {
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        c.cancel();
    });
    cancel
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => {
            init_logging("info");
            let config = HubConfig::load(config.as_deref())?;
            let cancel = root_token();
            let mut hub = hub::start(&config, cancel.clone()).await?;
            if let Some(rx) = hub.transitions.take() {
                tokio::spawn(hub::log_transitions(rx));
            }
            hub.wait().await
        }
        Command::Demo(args) => {
            init_logging("warn");
            demo::run(args, root_token()).await
        }
        Command::Simulate(args) => {
            init_logging("info");
            simulate::run(args, root_token()).await
        }
        Command::Sql {
            query,
            url,
            token,
            format,
        } => {
            let out = sql_client::run(&url, token.as_deref(), &query, format).await?;
            println!("{out}");
            Ok(())
        }
    }
}
