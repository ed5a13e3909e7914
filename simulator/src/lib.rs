//! Realistic, reproducible traffic for safety-hub's three feeds — market kiosk rapid
//! tests (`kiosk.results`), slaughter plant period reports (`slaughter.reports`) and
//! export declarations (`export.declarations`) — and a paced Kafka producer for it.
//!
//! - [`Population`]: markets with 1–3 test kiosks, slaughter plants, export enterprises,
//!   in real GB/T 2260 counties of Hangzhou, Ningbo, Guangzhou, Chengdu, Jinan and
//!   Zhengzhou, generated from a seed.
//! - [`Generator`]: one message per call for a given event time; ~85 % kiosk tests,
//!   ~10 % export declaration versions, ~5 % slaughter reports. Three [`Scenario`]s:
//!   `steady`, `incidents` (see [`IncidentSites`]) and `bad` (invalid messages of every
//!   [`Defect`] in the contract).
//! - [`history`]: past traffic over an interval, following the daily [`rhythm`].
//! - [`produce`]: sends live traffic to a Kafka cluster at a rate.
//!
//! ```
//! use chrono::{TimeDelta, Utc};
//! use hub_simulator::{Generator, RunSpan, Scenario, SimConfig};
//!
//! let cfg = SimConfig { scenario: Scenario::Incidents, ..SimConfig::default() };
//! let start = Utc::now();
//! let mut generator = Generator::new(&cfg, RunSpan::new(start, std::time::Duration::from_secs(600)))?;
//! let message = generator.next_message(start + TimeDelta::seconds(1));
//! assert!(message.valid);
//! println!("{}", generator.incident_sites().map(|s| s.to_string()).unwrap_or_default());
//! # Ok::<(), hub_simulator::SimError>(())
//! ```

mod bad_records;
mod error;
mod export;
mod generator;
mod history;
mod ids;
mod incidents;
mod kiosk;
mod pacing;
mod population;
mod produce;
mod rapid_tests;
mod records;
mod regions;
mod rhythm;
mod sampling;
mod scenario;
mod slaughter;
mod trade;

#[cfg(test)]
mod tests;

pub use bad_records::{oversized_payload, Defect, BAD_SHARE};
pub use error::SimError;
pub use export::BATCH_MARKED_SHARE;
pub use generator::{Generator, SimConfig, SimMessage, EXPORT_SHARE, KIOSK_SHARE, SLAUGHTER_SHARE};
pub use history::{history, History};
pub use incidents::{
    IncidentSites, Site, FAILING_ENTERPRISE_FAIL, FAILING_ENTERPRISE_FROM,
    FAILING_ENTERPRISE_SHARE, GROWING_PLANT_FINAL_FACTOR, SILENT_PLANT_FROM, SINKING_MARKET_FAIL,
    SINKING_MARKET_SHARE,
};
pub use kiosk::INVALID_TEST_SHARE;
pub use population::{Enterprise, Grade, Kiosk, Market, Plant, Population, PopulationSize};
pub use produce::{
    produce, FeedCounts, ProduceConfig, ProduceReport, Topics, DEFAULT_EXPECTED_DURATION,
};
pub use regions::{City, County, CITIES, COUNTIES};
pub use rhythm::{local_hour, rhythm, LOCAL_OFFSET};
pub use scenario::{RunSpan, Scenario};
