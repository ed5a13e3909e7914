//! Export declarations (`export.declarations`). A declaration goes out as v1 `pending`
//! when filed, then as v2 with the inspection's outcome, and now and then as a v3
//! re-inspection. A few versions are delivered out of order: the hub must keep the
//! latest by event time, not by arrival.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::RangeInclusive;

use chrono::{DateTime, Datelike, Utc};
use hub_model::export::InspectionStatus;
use hub_model::Feed;
use rand::Rng;

use crate::generator::{Moment, SimMessage};
use crate::incidents::{FAILING_ENTERPRISE_FAIL, FAILING_ENTERPRISE_SHARE};
use crate::records::{to_json, ExportRecord, InspectionRecord};
use crate::regions::CITIES;
use crate::rhythm::{local_rfc3339, LOCAL_OFFSET};
use crate::sampling::{pick_weighted, round_to, SimRng};
use crate::trade::{ExportProduct, DESTINATIONS, GENERAL_FINDINGS, PRODUCTS};

/// Share of declarations whose batch carries the inspection mark (加施检验检疫标志).
pub const BATCH_MARKED_SHARE: f64 = 0.995;
/// Probability of a re-inspection (v3) after a failed, and after a passed, inspection.
const REINSPECT_AFTER_FAIL: f64 = 0.4;
const REINSPECT_AFTER_PASS: f64 = 0.01;
/// Probability that a re-inspection fails, after a failed and after a passed inspection.
const REINSPECTION_FAIL_AFTER_FAIL: f64 = 0.4;
const REINSPECTION_FAIL_AFTER_PASS: f64 = 0.1;
/// Share of declarations whose v1 arrives after their v2.
const LATE_FIRST_VERSION: f64 = 0.02;
/// Share of re-inspected declarations whose v2 arrives after their v3.
const LATE_SECOND_VERSION: f64 = 0.3;
/// A follow-up version comes this many export messages later: counted in messages, not
/// in time, so versions interleave the same way at any rate.
const INSPECTION_DELAY: RangeInclusive<u64> = 3..=30;
/// How many export messages after its successor a late version arrives.
const LATE_DELAY: RangeInclusive<u64> = 1..=4;

/// A filed declaration: what every version repeats.
#[derive(Debug, Clone)]
struct Declaration {
    number: String,
    enterprise: usize,
    declared_at: DateTime<Utc>,
    product: &'static ExportProduct,
    destination: &'static str,
    quantity_kg: f64,
    batch_marked: bool,
}

#[derive(Debug)]
enum Step {
    /// Inspect the declaration and emit `version` with the outcome.
    Inspect {
        declaration: Declaration,
        version: u32,
        previous: Option<InspectionStatus>,
    },
    /// Deliver a version held back to arrive out of order.
    Deliver(SimMessage),
}

/// A step due once the desk's message clock reaches `due`.
#[derive(Debug)]
struct FollowUp {
    due: u64,
    /// Tie-break: first scheduled, first out.
    order: u64,
    step: Step,
}

impl PartialEq for FollowUp {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}

impl Eq for FollowUp {}

impl PartialOrd for FollowUp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FollowUp {
    /// Reversed, so the max-heap pops the earliest due step.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.order).cmp(&(self.due, self.order))
    }
}

/// The customs desk: declarations filed so far and the versions still to come. Its size
/// stays bounded: each declaration schedules at most three steps, each due within a few
/// dozen export messages.
#[derive(Debug, Default)]
pub(crate) struct ExportDesk {
    pending: BinaryHeap<FollowUp>,
    /// Export messages emitted so far: the clock follow-ups are scheduled on.
    clock: u64,
    scheduled: u64,
    /// Declarations numbered so far, per customs district (city).
    numbered: [u64; CITIES.len()],
}

impl ExportDesk {
    /// The next export message: a due follow-up version, else a new declaration's v1.
    pub(crate) fn next(&mut self, m: &Moment<'_>, rng: &mut SimRng) -> SimMessage {
        self.clock += 1;
        let mut may_hold_back = true;
        loop {
            let step_due = self.pending.peek().is_some_and(|f| f.due <= self.clock);
            if !step_due {
                if let Some(message) = self.declare(m, rng, may_hold_back) {
                    return message;
                }
                may_hold_back = false;
                continue;
            }
            let Some(follow_up) = self.pending.pop() else {
                continue;
            };
            match follow_up.step {
                Step::Deliver(message) => return message,
                Step::Inspect {
                    declaration,
                    version,
                    previous,
                } => {
                    if let Some(message) = self.inspect(declaration, version, previous, m, rng) {
                        return message;
                    }
                }
            }
        }
    }

    /// A fresh declaration inspected as failed: the base the `bad` scenario spoils.
    pub(crate) fn failed_record(&mut self, m: &Moment<'_>, rng: &mut SimRng) -> ExportRecord {
        let declaration = self.file(m, rng);
        let reasons = findings(declaration.product, rng);
        record(
            &declaration,
            2,
            InspectionStatus::Fail,
            Some(m.at),
            Some(reasons),
            m,
        )
    }

    fn schedule(&mut self, delay: u64, step: Step) -> u64 {
        self.scheduled += 1;
        let due = self.clock + delay;
        self.pending.push(FollowUp {
            due,
            order: self.scheduled,
            step,
        });
        due
    }

    /// Files a new declaration: emits v1 `pending` and schedules the inspection. With
    /// `may_hold_back`, a few v1 are held back to arrive after their v2 (`None`).
    fn declare(
        &mut self,
        m: &Moment<'_>,
        rng: &mut SimRng,
        may_hold_back: bool,
    ) -> Option<SimMessage> {
        let declaration = self.file(m, rng);
        let first = message(
            record(&declaration, 1, InspectionStatus::Pending, None, None, m),
            declaration.declared_at,
        );
        let delay = rng.random_range(INSPECTION_DELAY);
        let inspection_due = self.schedule(
            delay,
            Step::Inspect {
                declaration,
                version: 2,
                previous: None,
            },
        );
        if may_hold_back && rng.random_bool(LATE_FIRST_VERSION) {
            let late = inspection_due - self.clock + rng.random_range(LATE_DELAY);
            self.schedule(late, Step::Deliver(first));
            None
        } else {
            Some(first)
        }
    }

    /// Emits `version` with the inspection's outcome, scheduling a re-inspection now
    /// and then. Returns `None` when the version is held back to arrive late.
    fn inspect(
        &mut self,
        declaration: Declaration,
        version: u32,
        previous: Option<InspectionStatus>,
        m: &Moment<'_>,
        rng: &mut SimRng,
    ) -> Option<SimMessage> {
        let enterprise = &m.population.enterprises()[declaration.enterprise];
        let failing = m
            .incidents
            .is_some_and(|i| i.enterprise_is_failing(declaration.enterprise, m.progress));
        let fail = match (previous, failing) {
            (None, true) => FAILING_ENTERPRISE_FAIL,
            (None, false) => enterprise.grade.inspection_fail(),
            (Some(_), true) => (FAILING_ENTERPRISE_FAIL - 0.1).max(0.0),
            (Some(InspectionStatus::Fail), false) => REINSPECTION_FAIL_AFTER_FAIL,
            (Some(_), false) => REINSPECTION_FAIL_AFTER_PASS,
        };
        let status = if rng.random_bool(fail) {
            InspectionStatus::Fail
        } else {
            InspectionStatus::Pass
        };
        let reasons =
            (status == InspectionStatus::Fail).then(|| findings(declaration.product, rng));
        let inspected_at = m.at.max(declaration.declared_at);
        let outcome = message(
            record(
                &declaration,
                version,
                status,
                Some(inspected_at),
                reasons,
                m,
            ),
            inspected_at,
        );
        if version >= 3 {
            return Some(outcome);
        }
        let reinspect = match status {
            InspectionStatus::Fail => REINSPECT_AFTER_FAIL,
            _ => REINSPECT_AFTER_PASS,
        };
        if !rng.random_bool(reinspect) {
            return Some(outcome);
        }
        let delay = rng.random_range(INSPECTION_DELAY);
        let hold_back = rng.random_bool(LATE_SECOND_VERSION);
        let late = delay + rng.random_range(LATE_DELAY);
        self.schedule(
            delay,
            Step::Inspect {
                declaration,
                version: version + 1,
                previous: Some(status),
            },
        );
        if hold_back {
            self.schedule(late, Step::Deliver(outcome));
            None
        } else {
            Some(outcome)
        }
    }

    /// Files a declaration: enterprise, product, lot, and its 18-digit number.
    fn file(&mut self, m: &Moment<'_>, rng: &mut SimRng) -> Declaration {
        let population = m.population;
        let enterprise = match m.incidents {
            Some(i) if rng.random_bool(FAILING_ENTERPRISE_SHARE) => i.failing_enterprise,
            _ => population.enterprise_volume.sample(rng),
        };
        let filer = &population.enterprises()[enterprise];
        let product = &PRODUCTS[filer.products[rng.random_range(0..filer.products.len())]];
        let (lo, hi) = product.lot_kg;
        self.numbered[filer.city] += 1;
        // Customs district (4) + year (4) + export flag `0` + sequence (9), as real
        // customs declaration numbers (报关单号) are built.
        let number = format!(
            "{}{:04}0{:09}",
            CITIES[filer.city].customs,
            m.at.with_timezone(&LOCAL_OFFSET).year(),
            m.tag.declaration_sequence(self.numbered[filer.city])
        );
        Declaration {
            number,
            enterprise,
            declared_at: m.at,
            product,
            destination: pick_weighted(rng, &DESTINATIONS),
            quantity_kg: round_to(rng.random_range(lo..hi), -1),
            batch_marked: rng.random_bool(BATCH_MARKED_SHARE),
        }
    }
}

/// One or two findings of a failed inspection, mostly the product's typical hazards.
fn findings(product: &ExportProduct, rng: &mut SimRng) -> Vec<&'static str> {
    let draw = |rng: &mut SimRng| {
        if rng.random_bool(0.8) {
            product.hazards[rng.random_range(0..product.hazards.len())]
        } else {
            GENERAL_FINDINGS[rng.random_range(0..GENERAL_FINDINGS.len())]
        }
    };
    let first = draw(rng);
    let mut reasons = vec![first];
    if rng.random_bool(0.15) {
        let second = draw(rng);
        if second != first {
            reasons.push(second);
        }
    }
    reasons
}

fn record(
    declaration: &Declaration,
    version: u32,
    status: InspectionStatus,
    inspected_at: Option<DateTime<Utc>>,
    reasons: Option<Vec<&'static str>>,
    m: &Moment<'_>,
) -> ExportRecord {
    let enterprise = &m.population.enterprises()[declaration.enterprise];
    ExportRecord {
        event_id: format!("ex-{}-v{version}", declaration.number),
        declaration_no: declaration.number.clone(),
        enterprise_id: enterprise.id.clone(),
        region_code: enterprise.region_code.clone(),
        declared_at: local_rfc3339(declaration.declared_at),
        hs_code: declaration.product.hs_code,
        product_category: declaration.product.category,
        destination: declaration.destination,
        quantity_kg: declaration.quantity_kg,
        batch_marked: declaration.batch_marked,
        inspection: InspectionRecord {
            status: status.as_str(),
            inspected_at: inspected_at.map(local_rfc3339),
            reasons,
        },
    }
}

fn message(record: ExportRecord, event_time: DateTime<Utc>) -> SimMessage {
    SimMessage {
        feed: Feed::Export,
        payload: to_json(&record),
        key: record.region_code,
        event_id: Some(record.event_id),
        valid: true,
        defect: None,
        event_time,
    }
}
