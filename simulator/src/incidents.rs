//! The four incidents of the `incidents` scenario: which sites they strike, when, and
//! how hard (the table is on [`IncidentSites`]).

use std::fmt;

use chrono::{DateTime, Utc};
use hub_model::slaughter::Species;
use rand::{Rng, SeedableRng};

use crate::ids::stream_seed;
use crate::population::Population;
use crate::rhythm::local_rfc3339;
use crate::sampling::SimRng;
use crate::scenario::RunSpan;

/// Share of all kiosk tests drawn from the sinking market's kiosks, so its decline is
/// measured on enough samples.
pub const SINKING_MARKET_SHARE: f64 = 0.03;
/// Failure probability of the sinking market's tests at the start and at the end of
/// the run (beta-agonist strips excepted: the decline is in produce, not in pork).
pub const SINKING_MARKET_FAIL: (f64, f64) = (0.03, 0.46);
/// Fraction of the run after which the silent plant stops reporting.
pub const SILENT_PLANT_FROM: f64 = 0.10;
/// Fraction of the run after which the failing enterprise's inspections mostly fail.
pub const FAILING_ENTERPRISE_FROM: f64 = 0.20;
/// Probability that an inspection of the failing enterprise fails once it has turned.
pub const FAILING_ENTERPRISE_FAIL: f64 = 0.80;
/// Share of new declarations filed by the failing enterprise.
pub const FAILING_ENTERPRISE_SHARE: f64 = 0.05;
/// Head per report of the growing plant at the end of the run, relative to its start.
pub const GROWING_PLANT_FINAL_FACTOR: f64 = 20.0;

/// A site named in an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub region_code: String,
}

/// The sites the incidents strike and when, for tests to check and the demo to print.
///
/// Times are fractions of the run's [`RunSpan`]; after its end every incident stays at
/// full strength.
///
/// | incident | site | from | effect |
/// |---|---|---|---|
/// | sinking market | a market | start | pass rate slides from ~97 % to ~60 % by the end ([`SINKING_MARKET_FAIL`]); its kiosks get [`SINKING_MARKET_SHARE`] of all kiosk tests on top of their own |
/// | silent plant | a designated plant | [`SILENT_PLANT_FROM`] | sends no more reports |
/// | failing exporter | an enterprise | [`FAILING_ENTERPRISE_FROM`] | [`FAILING_ENTERPRISE_FAIL`] of its inspections fail; it files [`FAILING_ENTERPRISE_SHARE`] of the declarations |
/// | growing plant | a local (non-designated) pig plant beside a designated one | start | head per report grows linearly to [`GROWING_PLANT_FINAL_FACTOR`]× |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentSites {
    /// The market whose pass rate sinks over the run.
    pub sinking_market: Site,
    /// The designated plant that goes silent.
    pub silent_plant: Site,
    /// From when the silent plant sends no more reports.
    pub silent_from: DateTime<Utc>,
    /// The enterprise whose inspections mostly fail.
    pub failing_enterprise: Site,
    /// When its inspections start failing.
    pub failing_from: DateTime<Utc>,
    /// The non-designated plant whose volume keeps growing.
    pub growing_plant: Site,
}

impl fmt::Display for IncidentSites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let site = |s: &Site| format!("{} {} (region {})", s.id, s.name, s.region_code);
        writeln!(
            f,
            "sinking market:   {} — pass rate ~97 % → ~60 % over the run",
            site(&self.sinking_market)
        )?;
        writeln!(
            f,
            "silent plant:     {} — no reports from {}",
            site(&self.silent_plant),
            local_rfc3339(self.silent_from)
        )?;
        writeln!(
            f,
            "failing exporter: {} — inspections mostly fail from {}",
            site(&self.failing_enterprise),
            local_rfc3339(self.failing_from)
        )?;
        write!(
            f,
            "growing plant:    {} — non-designated, volume grows {GROWING_PLANT_FINAL_FACTOR}×",
            site(&self.growing_plant)
        )
    }
}

/// The incidents of one run, as indices into the population.
#[derive(Debug, Clone)]
pub(crate) struct Incidents {
    pub sites: IncidentSites,
    pub sinking_market: usize,
    pub silent_plant: usize,
    pub failing_enterprise: usize,
    pub growing_plant: usize,
}

impl Incidents {
    /// Chooses the struck sites from the population, reproducibly for `seed`.
    pub(crate) fn choose(population: &Population, seed: u64, span: RunSpan) -> Self {
        let mut rng = SimRng::seed_from_u64(stream_seed(seed, 3));
        let markets = population.markets();
        let plants = population.plants();
        let enterprises = population.enterprises();

        let sinking_market = rng.random_range(0..markets.len());
        let failing_enterprise = rng.random_range(0..enterprises.len());

        // The growing plant should eat into a region's designated share: a local pig
        // plant in a county with a designated pig plant (every population has one).
        let designated_pig = |i: usize| plants[i].designated && plants[i].species == Species::Pig;
        let local_pig: Vec<usize> = (0..plants.len())
            .filter(|&i| !plants[i].designated && plants[i].species == Species::Pig)
            .collect();
        let next_to_designated: Vec<usize> = local_pig
            .iter()
            .copied()
            .filter(|&i| {
                (0..plants.len()).any(|d| designated_pig(d) && plants[d].county == plants[i].county)
            })
            .collect();
        let local: Vec<usize> = (0..plants.len())
            .filter(|&i| !plants[i].designated)
            .collect();
        let growing_plant = pick(&mut rng, &next_to_designated)
            .or_else(|| pick(&mut rng, &local))
            .unwrap_or(plants.len() - 1);

        // The silent plant is a designated one elsewhere, so the two incidents don't mask
        // each other in the regional rates.
        let designated_elsewhere: Vec<usize> = (0..plants.len())
            .filter(|&i| {
                i != growing_plant
                    && plants[i].designated
                    && plants[i].county != plants[growing_plant].county
            })
            .collect();
        let any_other: Vec<usize> = (0..plants.len()).filter(|&i| i != growing_plant).collect();
        let silent_plant = pick(&mut rng, &designated_elsewhere)
            .or_else(|| pick(&mut rng, &any_other))
            .unwrap_or(0);

        let market = &markets[sinking_market];
        let sites = IncidentSites {
            sinking_market: Site {
                id: market.id.clone(),
                name: market.name.clone(),
                region_code: market.region_code.clone(),
            },
            silent_plant: plant_site(population, silent_plant),
            silent_from: span.at(SILENT_PLANT_FROM),
            failing_enterprise: Site {
                id: enterprises[failing_enterprise].id.clone(),
                name: enterprises[failing_enterprise].name.clone(),
                region_code: enterprises[failing_enterprise].region_code.clone(),
            },
            failing_from: span.at(FAILING_ENTERPRISE_FROM),
            growing_plant: plant_site(population, growing_plant),
        };
        Incidents {
            sites,
            sinking_market,
            silent_plant,
            failing_enterprise,
            growing_plant,
        }
    }

    /// The plant that has stopped reporting at `progress`, if it has yet.
    pub(crate) fn silenced_plant(&self, progress: f64) -> Option<usize> {
        (progress >= SILENT_PLANT_FROM).then_some(self.silent_plant)
    }

    /// Whether `enterprise` is failing at `progress`.
    pub(crate) fn enterprise_is_failing(&self, enterprise: usize, progress: f64) -> bool {
        enterprise == self.failing_enterprise && progress >= FAILING_ENTERPRISE_FROM
    }

    /// The head-count multiplier of `plant` at `progress`.
    pub(crate) fn growth(&self, plant: usize, progress: f64) -> f64 {
        if plant == self.growing_plant {
            1.0 + (GROWING_PLANT_FINAL_FACTOR - 1.0) * progress
        } else {
            1.0
        }
    }
}

/// Failure probability of a (non-beta-agonist) test at the sinking market at `progress`.
pub(crate) fn sinking_market_fail(progress: f64) -> f64 {
    let (from, to) = SINKING_MARKET_FAIL;
    from + (to - from) * progress
}

fn pick(rng: &mut SimRng, candidates: &[usize]) -> Option<usize> {
    if candidates.is_empty() {
        None
    } else {
        Some(candidates[rng.random_range(0..candidates.len())])
    }
}

fn plant_site(population: &Population, index: usize) -> Site {
    let plant = &population.plants()[index];
    Site {
        id: plant.id.clone(),
        name: plant.name.clone(),
        region_code: plant.region_code.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::population::PopulationSize;

    #[test]
    fn struck_sites_fit_their_story() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let span = RunSpan::new(start, Duration::from_secs(1000));
        for seed in 0..20 {
            let pop = Population::generate(seed, PopulationSize::default())
                .unwrap_or_else(|e| panic!("{e}"));
            let inc = Incidents::choose(&pop, seed, span);
            let plants = pop.plants();
            assert!(!plants[inc.growing_plant].designated);
            assert!(plants[inc.silent_plant].designated);
            assert_ne!(inc.silent_plant, inc.growing_plant);
            assert_eq!(
                inc.sites.silent_from,
                start + chrono::TimeDelta::seconds(100)
            );
            assert!(!inc.sites.to_string().is_empty());
        }
    }

    #[test]
    fn effects_follow_the_timeline() {
        assert!((sinking_market_fail(0.0) - 0.03).abs() < 1e-12);
        assert!((sinking_market_fail(1.0) - 0.46).abs() < 1e-12);
    }
}
