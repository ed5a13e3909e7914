//! The traffic generator: one message of the three feeds per call, for a given event
//! time, reproducible from the seed.

use chrono::{DateTime, SubsecRound, Utc};
use hub_model::Feed;
use rand::{Rng, SeedableRng};

use crate::bad_records::{spoil, Defect, BAD_SHARE};
use crate::error::SimError;
use crate::export::ExportDesk;
use crate::ids::{stream_seed, RunTag};
use crate::incidents::{IncidentSites, Incidents};
use crate::kiosk::KioskDesk;
use crate::population::{Population, PopulationSize};
use crate::records::{to_json, to_value, KioskRecord, SlaughterRecord};
use crate::sampling::SimRng;
use crate::scenario::{RunSpan, Scenario};
use crate::slaughter::SlaughterDesk;

/// Share of messages that are kiosk tests; the rest are export declarations and
/// slaughter reports.
pub const KIOSK_SHARE: f64 = 0.85;
/// Share of messages that are export declaration versions.
pub const EXPORT_SHARE: f64 = 0.10;
/// Share of messages that are slaughter reports.
pub const SLAUGHTER_SHARE: f64 = 1.0 - KIOSK_SHARE - EXPORT_SHARE;

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SimConfig {
    /// Seeds the population and the traffic: the same seed gives the same sites and,
    /// for the same event times, the same messages.
    pub seed: u64,
    pub scenario: Scenario,
    pub population: PopulationSize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 2026,
            scenario: Scenario::Steady,
            population: PopulationSize::default(),
        }
    }
}

/// One message for one of the three topics.
#[derive(Debug, Clone, PartialEq)]
pub struct SimMessage {
    pub feed: Feed,
    /// The message key: the `region_code` (as a producer should key by it).
    pub key: String,
    /// The JSON message (or, for some invalid messages, not JSON at all).
    pub payload: Vec<u8>,
    /// The message's `event_id`, when it carries a readable one.
    pub event_id: Option<String>,
    /// `false` for the deliberately invalid messages of the `bad` scenario.
    pub valid: bool,
    /// What is wrong with an invalid message; `None` exactly when `valid`.
    pub defect: Option<Defect>,
    /// The message's event time (`tested_at`, `period_end`, `declared_at` or
    /// `inspected_at`). Late export versions carry an event time before the one they
    /// were generated at. Invalid messages carry the time they were generated at.
    pub event_time: DateTime<Utc>,
}

/// What the desks need to know about the moment they generate for.
pub(crate) struct Moment<'a> {
    pub population: &'a Population,
    pub incidents: Option<&'a Incidents>,
    pub tag: &'a RunTag,
    /// The event time, in whole seconds as the feeds write it.
    pub at: DateTime<Utc>,
    /// How far into the run `at` lies (0.0–1.0).
    pub progress: f64,
}

/// Generates realistic messages of all three feeds.
///
/// Deterministic: two generators built from the same [`SimConfig`] and [`RunSpan`] and
/// asked for messages at the same sequence of event times return byte-identical
/// messages. Event times should not go backwards.
#[derive(Debug)]
pub struct Generator {
    scenario: Scenario,
    span: RunSpan,
    population: Population,
    incidents: Option<Incidents>,
    tag: RunTag,
    rng: SimRng,
    kiosks: KioskDesk,
    plants: SlaughterDesk,
    customs: ExportDesk,
    defects_planted: usize,
}

impl Generator {
    /// A generator for a run expected to cover `span` (the incidents scenario unfolds
    /// over it; the others ignore it, but it also makes the run's ids distinct).
    pub fn new(cfg: &SimConfig, span: RunSpan) -> Result<Self, SimError> {
        let population = Population::generate(cfg.seed, cfg.population)?;
        let incidents = (cfg.scenario == Scenario::Incidents)
            .then(|| Incidents::choose(&population, cfg.seed, span));
        Ok(Generator {
            scenario: cfg.scenario,
            span,
            kiosks: KioskDesk::new(population.kiosks().len()),
            plants: SlaughterDesk::new(population.plants()),
            customs: ExportDesk::default(),
            population,
            incidents,
            tag: RunTag::new(cfg.seed, span.start),
            rng: SimRng::seed_from_u64(stream_seed(cfg.seed, 2)),
            defects_planted: 0,
        })
    }

    pub fn population(&self) -> &Population {
        &self.population
    }

    /// The struck sites, in the incidents scenario.
    pub fn incident_sites(&self) -> Option<&IncidentSites> {
        self.incidents.as_ref().map(|i| &i.sites)
    }

    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    pub fn span(&self) -> RunSpan {
        self.span
    }

    /// The next message, for event time `at` (truncated to whole seconds).
    pub fn next_message(&mut self, at: DateTime<Utc>) -> SimMessage {
        let at = at.trunc_subsecs(0);
        let moment = Moment {
            population: &self.population,
            incidents: self.incidents.as_ref(),
            tag: &self.tag,
            at,
            progress: self.span.progress(at),
        };
        let rng = &mut self.rng;
        if self.scenario == Scenario::Bad && rng.random_bool(BAD_SHARE) {
            let defect = Defect::IN_STREAM[self.defects_planted % Defect::IN_STREAM.len()];
            self.defects_planted += 1;
            let specimen = match defect.feed() {
                Feed::Kiosk => to_value(&self.kiosks.test(&moment, rng)),
                Feed::Slaughter => to_value(&self.plants.report(&moment, rng)),
                Feed::Export => to_value(&self.customs.failed_record(&moment, rng)),
            };
            let spoiled = spoil(defect, specimen, at);
            return SimMessage {
                feed: defect.feed(),
                key: spoiled.key,
                payload: spoiled.payload,
                event_id: spoiled.event_id,
                valid: false,
                defect: Some(defect),
                event_time: at,
            };
        }
        let roll: f64 = rng.random();
        if roll < KIOSK_SHARE {
            kiosk_message(self.kiosks.test(&moment, rng), at)
        } else if roll < KIOSK_SHARE + EXPORT_SHARE {
            self.customs.next(&moment, rng)
        } else {
            slaughter_message(self.plants.report(&moment, rng), at)
        }
    }
}

fn kiosk_message(record: KioskRecord, at: DateTime<Utc>) -> SimMessage {
    SimMessage {
        feed: Feed::Kiosk,
        payload: to_json(&record),
        key: record.region_code,
        event_id: Some(record.event_id),
        valid: true,
        defect: None,
        event_time: at,
    }
}

fn slaughter_message(record: SlaughterRecord, at: DateTime<Utc>) -> SimMessage {
    SimMessage {
        feed: Feed::Slaughter,
        payload: to_json(&record),
        key: record.region_code,
        event_id: Some(record.event_id),
        valid: true,
        defect: None,
        event_time: at,
    }
}
