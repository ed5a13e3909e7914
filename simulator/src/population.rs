//! The simulated sites: markets with their test kiosks, slaughter plants and export
//! enterprises, each in one region, generated from a seed.

use std::ops::Range;

use hub_model::slaughter::Species;
use rand::{Rng, SeedableRng};

use crate::error::SimError;
use crate::ids::stream_seed;
use crate::regions::{counties_of, CITIES, COUNTIES, PLACE_WORDS};
use crate::sampling::{log_uniform, normal, pick_weighted, Cumulative, SimRng};
use crate::trade::PRODUCTS;

/// How many sites of each kind to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PopulationSize {
    /// Markets; each runs 1–3 test kiosks.
    pub markets: usize,
    /// Slaughter plants (at least 2: one designated, one not).
    pub plants: usize,
    /// Export enterprises.
    pub enterprises: usize,
}

impl Default for PopulationSize {
    /// A mid-sized city cluster: 200 markets, 40 plants, 100 exporters.
    fn default() -> Self {
        PopulationSize {
            markets: 200,
            plants: 40,
            enterprises: 100,
        }
    }
}

impl PopulationSize {
    /// The size benchmarks use: a province's worth of sites.
    pub const BENCHMARK: PopulationSize = PopulationSize {
        markets: 10_000,
        plants: 500,
        enterprises: 2_000,
    };

    /// Checks the size can carry every scenario.
    pub fn validate(&self) -> Result<(), SimError> {
        const MAX: usize = 1_000_000;
        if self.markets == 0 || self.enterprises == 0 || self.plants < 2 {
            return Err(SimError::InvalidConfig(format!(
                "the population needs at least 1 market, 2 slaughter plants and 1 enterprise \
                 (got {} markets, {} plants, {} enterprises)",
                self.markets, self.plants, self.enterprises
            )));
        }
        if self.markets > MAX || self.plants > MAX || self.enterprises > MAX {
            return Err(SimError::InvalidConfig(format!(
                "at most {MAX} sites of each kind are supported"
            )));
        }
        Ok(())
    }
}

/// A market (农贸市场) with a test room.
#[derive(Debug, Clone)]
pub struct Market {
    /// `M-330102-003`: county code and the market's number in the county.
    pub id: String,
    pub name: String,
    /// County code, or a 9-digit township code extending it.
    pub region_code: String,
    /// Stalls (markets of 200+ stalls must run a test room).
    pub stalls: u32,
    /// Indices of its kiosks in [`Population::kiosks`].
    pub kiosks: Range<usize>,
    /// Multiplies every assay's failure probability: 0.4 (careful) to 1.6 (careless).
    pub(crate) quality: f64,
    /// Number of the market's first vendor; its vendors are numbered on from there.
    pub(crate) first_vendor: u32,
}

/// A rapid-test kiosk in a market's test room.
#[derive(Debug, Clone)]
pub struct Kiosk {
    /// `K-330102-017`: county code and the kiosk's number in the county.
    pub id: String,
    /// Index of its market in [`Population::markets`].
    pub market: usize,
    /// `kq-330102-017`, the start of its results' event ids.
    pub(crate) event_prefix: String,
}

/// A slaughter plant. Designated plants (定点屠宰场) are licensed and large; the rest
/// are small local slaughter points.
#[derive(Debug, Clone)]
pub struct Plant {
    /// `S-330102-002`.
    pub id: String,
    pub name: String,
    pub region_code: String,
    pub designated: bool,
    pub species: Species,
    /// Head slaughtered on an ordinary day.
    pub daily_capacity: u32,
    /// Length of each report's period in hours (6, 8, 12 or 24).
    pub report_hours: u32,
    /// Whether its reports carry `carcass_weight_kg`.
    pub(crate) reports_weight: bool,
    pub(crate) county: usize,
}

/// An enterprise's record grade (分级管理): A is trusted, C is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Grade {
    A,
    B,
    C,
}

impl Grade {
    /// Probability that a first inspection of one of its declarations fails.
    pub(crate) fn inspection_fail(self) -> f64 {
        match self {
            Grade::A => 0.02,
            Grade::B => 0.05,
            Grade::C => 0.12,
        }
    }
}

/// An export food enterprise.
#[derive(Debug, Clone)]
pub struct Enterprise {
    /// `3301EXP0042`: city code, `EXP`, number in the city.
    pub id: String,
    pub name: String,
    pub region_code: String,
    pub grade: Grade,
    /// Indices into the product catalogue.
    pub(crate) products: Vec<usize>,
    /// Index into the city table (its customs district).
    pub(crate) city: usize,
}

/// Every simulated site. The same seed and size always give the same population.
#[derive(Debug, Clone)]
pub struct Population {
    markets: Vec<Market>,
    kiosks: Vec<Kiosk>,
    plants: Vec<Plant>,
    enterprises: Vec<Enterprise>,
    /// Enterprises weighted by trade volume (a few big exporters, many small ones).
    pub(crate) enterprise_volume: Cumulative,
}

/// Numbers sites per county (or city) in order: `003` is the county's third market.
struct Numbering(Vec<u32>);

impl Numbering {
    fn new(len: usize) -> Self {
        Numbering(vec![0; len])
    }
    fn next(&mut self, i: usize) -> u32 {
        self.0[i] += 1;
        self.0[i]
    }
}

impl Population {
    /// Generates the sites of `size` from `seed`.
    pub fn generate(seed: u64, size: PopulationSize) -> Result<Self, SimError> {
        size.validate()?;
        let mut rng = SimRng::seed_from_u64(stream_seed(seed, 1));
        let (markets, kiosks) = markets(&mut rng, size.markets);
        let plants = plants(&mut rng, size.plants);
        let (enterprises, volumes) = enterprises(&mut rng, size.enterprises);
        Ok(Population {
            markets,
            kiosks,
            plants,
            enterprises,
            enterprise_volume: Cumulative::new(volumes),
        })
    }

    pub fn markets(&self) -> &[Market] {
        &self.markets
    }

    pub fn kiosks(&self) -> &[Kiosk] {
        &self.kiosks
    }

    pub fn plants(&self) -> &[Plant] {
        &self.plants
    }

    pub fn enterprises(&self) -> &[Enterprise] {
        &self.enterprises
    }
}

/// A county code, or in `township_share` of cases a 9-digit township code within it.
fn region_code(rng: &mut SimRng, county: usize, township_share: f64) -> String {
    let code = COUNTIES[county].code;
    if rng.random_bool(township_share) {
        format!("{code}{:03}", rng.random_range(1..=15))
    } else {
        code.to_string()
    }
}

fn place_word(rng: &mut SimRng) -> &'static str {
    PLACE_WORDS[rng.random_range(0..PLACE_WORDS.len())]
}

fn markets(rng: &mut SimRng, count: usize) -> (Vec<Market>, Vec<Kiosk>) {
    let mut market_numbers = Numbering::new(COUNTIES.len());
    let mut kiosk_numbers = Numbering::new(COUNTIES.len());
    let mut markets = Vec::with_capacity(count);
    let mut kiosks = Vec::with_capacity(count * 2);
    let mut next_vendor = 1u32;
    for index in 0..count {
        let county = rng.random_range(0..COUNTIES.len());
        let code = COUNTIES[county].code;
        let stalls = log_uniform(rng, 200.0, 900.0).round() as u32;
        // Bigger markets run more kiosks: 1 up to 400 stalls, 2 up to 650, then 3.
        let kiosk_count = 1 + usize::from(stalls >= 400) + usize::from(stalls >= 650);
        let first_kiosk = kiosks.len();
        for _ in 0..kiosk_count {
            let n = kiosk_numbers.next(county);
            kiosks.push(Kiosk {
                id: format!("K-{code}-{n:03}"),
                market: index,
                event_prefix: format!("kq-{code}-{n:03}"),
            });
        }
        markets.push(Market {
            id: format!("M-{code}-{:03}", market_numbers.next(county)),
            name: format!("{}{}农贸市场", COUNTIES[county].name, place_word(rng)),
            region_code: region_code(rng, county, 0.3),
            stalls,
            kiosks: first_kiosk..kiosks.len(),
            quality: 0.4 + 1.2 * rng.random::<f64>(),
            first_vendor: next_vendor,
        });
        next_vendor = next_vendor.saturating_add(stalls);
    }
    (markets, kiosks)
}

/// What a plant slaughters, how much and how often it reports.
#[derive(Debug, Clone, Copy)]
struct PlantProfile {
    county: usize,
    designated: bool,
    species: Species,
    daily_capacity: u32,
    report_hours: u32,
}

impl PlantProfile {
    /// Draws a profile; `species` forces the species.
    fn draw(rng: &mut SimRng, county: usize, designated: bool, species: Option<Species>) -> Self {
        // Pigs dominate (生猪定点屠宰); poultry plants are few, as their head counts
        // would otherwise swamp every regional total.
        let species = species.unwrap_or_else(|| {
            pick_weighted(
                rng,
                &[
                    (Species::Pig, 85),
                    (Species::Cattle, 6),
                    (Species::Sheep, 5),
                    (Species::Poultry, 4),
                ],
            )
        });
        let (designated_range, local_range) = match species {
            Species::Pig => ((300.0, 3_000.0), (15.0, 80.0)),
            Species::Cattle => ((20.0, 200.0), (2.0, 10.0)),
            Species::Sheep => ((60.0, 600.0), (5.0, 30.0)),
            Species::Poultry => ((8_000.0, 60_000.0), (300.0, 1_500.0)),
        };
        let (lo, hi) = if designated {
            designated_range
        } else {
            local_range
        };
        let daily_capacity = log_uniform(rng, lo, hi).round() as u32;
        let report_hours = if designated {
            pick_weighted(rng, &[(6, 4), (8, 2), (12, 3), (24, 1)])
        } else {
            pick_weighted(rng, &[(12, 1), (24, 2)])
        };
        PlantProfile {
            county,
            designated,
            species,
            daily_capacity,
            report_hours,
        }
    }
}

fn plants(rng: &mut SimRng, count: usize) -> Vec<Plant> {
    let mut profiles: Vec<PlantProfile> = (0..count)
        .map(|_| {
            let county = rng.random_range(0..COUNTIES.len());
            let designated = rng.random_bool(0.9);
            PlantProfile::draw(rng, county, designated, None)
        })
        .collect();
    ensure_local_pig_plant_beside_designated(rng, &mut profiles);

    let mut numbers = Numbering::new(COUNTIES.len());
    profiles
        .into_iter()
        .map(|profile| {
            let county = &COUNTIES[profile.county];
            let kind = if profile.designated {
                "定点屠宰场"
            } else {
                "屠宰点"
            };
            Plant {
                id: format!("S-{}-{:03}", county.code, numbers.next(profile.county)),
                name: format!("{}{}{kind}", county.name, place_word(rng)),
                region_code: region_code(rng, profile.county, 0.4),
                designated: profile.designated,
                species: profile.species,
                daily_capacity: profile.daily_capacity,
                report_hours: profile.report_hours,
                reports_weight: rng.random_bool(0.85),
                county: profile.county,
            }
        })
        .collect()
}

/// Every population has a local (non-designated) pig plant in a county that also has a
/// designated pig plant: the situation the designated-slaughter rule watches, and the
/// one the incidents scenario's growing plant needs. Needs at least two plants.
fn ensure_local_pig_plant_beside_designated(rng: &mut SimRng, profiles: &mut [PlantProfile]) {
    let is_designated_pig = |p: &PlantProfile| p.designated && p.species == Species::Pig;
    let already = profiles.iter().any(|local| {
        !local.designated
            && local.species == Species::Pig
            && profiles
                .iter()
                .any(|d| is_designated_pig(d) && d.county == local.county)
    });
    if already || profiles.len() < 2 {
        return;
    }
    let designated = match profiles.iter().position(is_designated_pig) {
        Some(i) => i,
        None => {
            let county = profiles[0].county;
            profiles[0] = PlantProfile::draw(rng, county, true, Some(Species::Pig));
            0
        }
    };
    let county = profiles[designated].county;
    let local = profiles
        .iter()
        .rposition(|p| !p.designated)
        .filter(|&i| i != designated)
        .unwrap_or(if designated == 0 { 1 } else { 0 });
    profiles[local] = PlantProfile::draw(rng, county, false, Some(Species::Pig));
}

fn enterprises(rng: &mut SimRng, count: usize) -> (Vec<Enterprise>, Vec<f64>) {
    let mut numbers = Numbering::new(CITIES.len());
    let mut volumes = Vec::with_capacity(count);
    let enterprises = (0..count)
        .map(|_| {
            let city = rng.random_range(0..CITIES.len());
            let counties: Vec<usize> = counties_of(city).collect();
            let county = counties[rng.random_range(0..counties.len())];
            let mut products: Vec<usize> = Vec::with_capacity(3);
            for _ in 0..rng.random_range(1..=3) {
                let product = rng.random_range(0..PRODUCTS.len());
                if !products.contains(&product) {
                    products.push(product);
                }
            }
            volumes.push(normal(rng, 0.0, 0.8).exp());
            Enterprise {
                id: format!("{}EXP{:04}", CITIES[city].code, numbers.next(city)),
                name: format!("{}{}食品进出口有限公司", CITIES[city].name, place_word(rng)),
                region_code: region_code(rng, county, 0.2),
                grade: pick_weighted(rng, &[(Grade::A, 6), (Grade::B, 3), (Grade::C, 1)]),
                products,
                city,
            }
        })
        .collect();
    (enterprises, volumes)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn same_seed_same_population() {
        let a =
            Population::generate(11, PopulationSize::default()).unwrap_or_else(|e| panic!("{e}"));
        let b =
            Population::generate(11, PopulationSize::default()).unwrap_or_else(|e| panic!("{e}"));
        let ids = |p: &Population| p.kiosks().iter().map(|k| k.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        let c =
            Population::generate(12, PopulationSize::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(
            a.markets()
                .iter()
                .map(|m| &m.region_code)
                .collect::<Vec<_>>(),
            c.markets()
                .iter()
                .map(|m| &m.region_code)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn ids_are_unique_and_regions_well_formed_at_benchmark_scale() {
        let pop =
            Population::generate(3, PopulationSize::BENCHMARK).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pop.markets().len(), 10_000);
        assert_eq!(pop.plants().len(), 500);
        assert_eq!(pop.enterprises().len(), 2_000);
        let unique = |ids: Vec<&str>| ids.iter().collect::<HashSet<_>>().len() == ids.len();
        assert!(unique(
            pop.markets().iter().map(|m| m.id.as_str()).collect()
        ));
        assert!(unique(pop.kiosks().iter().map(|k| k.id.as_str()).collect()));
        assert!(unique(pop.plants().iter().map(|p| p.id.as_str()).collect()));
        assert!(unique(
            pop.enterprises().iter().map(|e| e.id.as_str()).collect()
        ));
        let regions = pop
            .markets()
            .iter()
            .map(|m| &m.region_code)
            .chain(pop.plants().iter().map(|p| &p.region_code))
            .chain(pop.enterprises().iter().map(|e| &e.region_code));
        for code in regions {
            assert!(code.len() == 6 || code.len() == 9, "{code}");
        }
        for market in pop.markets() {
            assert!((1..=3).contains(&market.kiosks.len()));
            assert!(market.stalls >= 200);
            for kiosk in &pop.kiosks()[market.kiosks.clone()] {
                // Kiosk and market ids name the same county.
                assert_eq!(kiosk.id[2..8], market.id[2..8]);
                assert!(market.region_code.starts_with(&kiosk.id[2..8]));
            }
        }
        let designated = pop.plants().iter().filter(|p| p.designated).count();
        assert!(designated > 400 && designated < 500, "{designated}");
    }

    #[test]
    fn a_local_pig_plant_always_works_beside_a_designated_one() {
        for plants in [2, 3, 40, 500] {
            let size = PopulationSize {
                markets: 1,
                plants,
                enterprises: 1,
            };
            for seed in 0..20 {
                let pop = Population::generate(seed, size).unwrap_or_else(|e| panic!("{e}"));
                let found = pop.plants().iter().any(|local| {
                    !local.designated
                        && local.species == Species::Pig
                        && pop.plants().iter().any(|d| {
                            d.designated && d.species == Species::Pig && d.county == local.county
                        })
                });
                assert!(found, "{plants} plants, seed {seed}");
            }
        }
    }

    #[test]
    fn too_small_a_population_is_refused() {
        let size = PopulationSize {
            markets: 0,
            plants: 1,
            enterprises: 1,
        };
        assert!(matches!(
            Population::generate(1, size),
            Err(SimError::InvalidConfig(_))
        ));
    }
}
