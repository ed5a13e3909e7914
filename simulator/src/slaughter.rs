//! Slaughter plants' period reports (`slaughter.reports`).

use chrono::TimeDelta;
use hub_model::slaughter::Species;

use crate::generator::Moment;
use crate::population::Plant;
use crate::records::SlaughterRecord;
use crate::rhythm::{local_rfc3339, local_yyyymmdd};
use crate::sampling::{normal, rare_count, round_to, Cumulative, SimRng};

/// Per-report variation of a plant's throughput (coefficient of variation).
const THROUGHPUT_CV: f64 = 0.08;

/// What a species' reports look like.
struct SpeciesProfile {
    /// Share of head tested for beta-agonists (urine or tissue strips).
    beta_agonist_tested: f64,
    /// Carcass weight in kg: mean and standard deviation.
    carcass_kg: (f64, f64),
}

fn profile(species: Species) -> SpeciesProfile {
    match species {
        Species::Pig => SpeciesProfile {
            beta_agonist_tested: 0.10,
            carcass_kg: (75.0, 5.0),
        },
        Species::Cattle => SpeciesProfile {
            beta_agonist_tested: 0.15,
            carcass_kg: (260.0, 30.0),
        },
        Species::Sheep => SpeciesProfile {
            beta_agonist_tested: 0.10,
            carcass_kg: (17.0, 2.0),
        },
        Species::Poultry => SpeciesProfile {
            beta_agonist_tested: 0.0,
            carcass_kg: (1.9, 0.2),
        },
    }
}

/// Quarantine failure and beta-agonist positive probabilities: designated plants work
/// under an official veterinarian; local slaughter points don't.
fn risks(plant: &Plant) -> (f64, f64) {
    if plant.designated {
        (0.003, 0.0005)
    } else {
        (0.008, 0.004)
    }
}

/// The plants' running report counters.
#[derive(Debug, Clone)]
pub(crate) struct SlaughterDesk {
    reports: Vec<u32>,
    /// Plants weighted by how often they report (1 / period length), so that each
    /// plant's share of the reported head matches its share of real throughput.
    frequency: Cumulative,
}

impl SlaughterDesk {
    pub(crate) fn new(plants: &[Plant]) -> Self {
        SlaughterDesk {
            reports: vec![0; plants.len()],
            frequency: Cumulative::new(
                plants
                    .iter()
                    .map(|p| 1.0 / f64::from(p.report_hours.max(1))),
            ),
        }
    }

    /// The next report, from a plant drawn among those still reporting in proportion to
    /// how often it reports. The period ends at the moment and lasts the plant's report
    /// period. When the simulated rate is higher than real life, a plant's successive
    /// periods overlap; each report on its own stays realistic.
    pub(crate) fn report(&mut self, m: &Moment<'_>, rng: &mut SimRng) -> SlaughterRecord {
        let plants = m.population.plants();
        let silenced = m.incidents.and_then(|i| i.silenced_plant(m.progress));
        let mut index = self.frequency.sample(rng);
        // Redraw while the silent plant comes up; a few tries make it vanishingly rare,
        // and the fallback keeps the loop bounded.
        for _ in 0..32 {
            if Some(index) != silenced {
                break;
            }
            index = self.frequency.sample(rng);
        }
        if Some(index) == silenced {
            index = (index + 1) % plants.len();
        }
        let plant = &plants[index];
        self.reports[index] += 1;

        let growth = m.incidents.map_or(1.0, |i| i.growth(index, m.progress));
        let expected =
            f64::from(plant.daily_capacity) * f64::from(plant.report_hours) / 24.0 * growth;
        let head_count = normal(rng, expected, expected * THROUGHPUT_CV)
            .round()
            .max(0.0) as u64;
        let (quarantine_risk, positive_risk) = risks(plant);
        let quarantine_failed = rare_count(rng, head_count, quarantine_risk);
        let quarantine_passed = head_count - quarantine_failed;
        let condemned =
            (quarantine_failed + rare_count(rng, quarantine_passed, 0.001)).min(head_count);
        let species = profile(plant.species);
        let mut tested = (head_count as f64 * species.beta_agonist_tested).round() as u64;
        if head_count > 0 && species.beta_agonist_tested > 0.0 {
            tested = tested.max(1);
        }
        let positive = rare_count(rng, tested, positive_risk);
        let weight = plant.reports_weight.then(|| {
            let (mean, sd) = species.carcass_kg;
            round_to(
                (head_count as f64 * normal(rng, mean, sd / 4.0)).max(0.0),
                1,
            )
        });

        let end = m.at;
        let start = end - TimeDelta::hours(i64::from(plant.report_hours));
        SlaughterRecord {
            event_id: format!(
                "sl-{}-{}-{}-{}",
                plant.id,
                local_yyyymmdd(end),
                m.tag,
                self.reports[index]
            ),
            plant_id: plant.id.clone(),
            designated: plant.designated,
            region_code: plant.region_code.clone(),
            species: plant.species.as_str(),
            period_start: local_rfc3339(start),
            period_end: local_rfc3339(end),
            head_count,
            quarantine_passed,
            condemned,
            beta_agonist_tested: tested,
            beta_agonist_positive: positive,
            carcass_weight_kg: weight,
        }
    }
}
