//! Rapid tests at market kiosks (`kiosk.results`).

use hub_model::kiosk::{TestItem, TestResult};
use rand::Rng;

use crate::generator::Moment;
use crate::incidents::{sinking_market_fail, SINKING_MARKET_SHARE};
use crate::rapid_tests::draw_commodity;
use crate::records::{KioskRecord, SampleRecord};
use crate::rhythm::local_rfc3339;
use crate::sampling::SimRng;

/// Share of tests whose kit fails (expired strip, unreadable colour): result `invalid`.
pub const INVALID_TEST_SHARE: f64 = 0.01;
/// Share of results that name the vendor the sample came from.
const VENDOR_NAMED_SHARE: f64 = 0.85;

/// The kiosks' running test counters.
#[derive(Debug, Clone)]
pub(crate) struct KioskDesk {
    tests: Vec<u32>,
}

impl KioskDesk {
    pub(crate) fn new(kiosks: usize) -> Self {
        KioskDesk {
            tests: vec![0; kiosks],
        }
    }

    /// The next test, at a kiosk drawn uniformly (or at the sinking market's kiosks,
    /// which take an extra share of tests during the incidents scenario).
    pub(crate) fn test(&mut self, m: &Moment<'_>, rng: &mut SimRng) -> KioskRecord {
        let population = m.population;
        let sinking = m.incidents.map(|i| i.sinking_market);
        let index = match sinking {
            Some(market) if rng.random_bool(SINKING_MARKET_SHARE) => {
                rng.random_range(population.markets()[market].kiosks.clone())
            }
            _ => rng.random_range(0..population.kiosks().len()),
        };
        let kiosk = &population.kiosks()[index];
        let market = &population.markets()[kiosk.market];
        self.tests[index] += 1;

        let commodity = draw_commodity(rng);
        let assay = commodity.assay;
        let fail = if sinking == Some(kiosk.market) && assay.item != TestItem::BetaAgonist {
            sinking_market_fail(m.progress)
        } else {
            assay.base_fail * market.quality
        };
        let result = if rng.random_bool(INVALID_TEST_SHARE) {
            TestResult::Invalid
        } else if rng.random_bool(fail.clamp(0.0, 1.0)) {
            TestResult::Fail
        } else {
            TestResult::Pass
        };
        let reading = assay.measure(result, rng);
        let vendor_id = rng.random_bool(VENDOR_NAMED_SHARE).then(|| {
            let stall = rng.random_range(0..market.stalls.max(1));
            format!("V-{:06}", market.first_vendor.saturating_add(stall))
        });
        KioskRecord {
            event_id: format!("{}-{}-{:06}", kiosk.event_prefix, m.tag, self.tests[index]),
            kiosk_id: kiosk.id.clone(),
            market_id: market.id.clone(),
            region_code: market.region_code.clone(),
            tested_at: local_rfc3339(m.at),
            sample: SampleRecord {
                category: commodity.category.as_str(),
                name: commodity.name,
                vendor_id,
            },
            test_item: assay.item.as_str(),
            method: assay.method,
            value: reading.value,
            unit: reading.unit,
            limit: reading.limit,
            result: result.as_str(),
        }
    }
}
