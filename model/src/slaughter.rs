//! `slaughter.reports`: one plant's report for a period of at most 24 hours.

use std::borrow::Cow;

use serde::Deserialize;

use crate::kiosk::str_enum;
use crate::rejection::Rejection;
use crate::time::{Timestamp, MICROS_PER_DAY};
use crate::validate::{self, CheckContext};

#[derive(Debug, Clone, Deserialize)]
pub struct SlaughterReport<'a> {
    #[serde(borrow)]
    pub event_id: Cow<'a, str>,
    #[serde(borrow)]
    pub plant_id: Cow<'a, str>,
    pub designated: bool,
    #[serde(borrow)]
    pub region_code: Cow<'a, str>,
    pub species: Species,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    pub head_count: u64,
    pub quarantine_passed: u64,
    pub condemned: u64,
    pub beta_agonist_tested: u64,
    pub beta_agonist_positive: u64,
    #[serde(default)]
    pub carcass_weight_kg: Option<f64>,
}

str_enum!(Species {
    Pig = "pig",
    Cattle = "cattle",
    Sheep = "sheep",
    Poultry = "poultry",
});

impl SlaughterReport<'_> {
    pub fn event_time(&self) -> Timestamp {
        self.period_end
    }

    pub(crate) fn check(&self, ctx: &CheckContext) -> Result<(), Rejection> {
        validate::length("event_id", &self.event_id, 1, 128)?;
        validate::length("plant_id", &self.plant_id, 1, 64)?;
        validate::region_code("region_code", &self.region_code)?;
        if let Some(w) = self.carcass_weight_kg {
            validate::non_negative("carcass_weight_kg", w)?;
        }
        if self.period_start >= self.period_end {
            return Err(Rejection::invariant(
                "period",
                format!(
                    "period_start {} must be before period_end {}",
                    self.period_start, self.period_end
                ),
            ));
        }
        if self.period_end.0 - self.period_start.0 > MICROS_PER_DAY {
            return Err(Rejection::invariant(
                "period",
                format!(
                    "the period {} .. {} is longer than 24 h",
                    self.period_start, self.period_end
                ),
            ));
        }
        for (name, part, whole, whole_name) in [
            (
                "quarantine_passed <= head_count",
                self.quarantine_passed,
                self.head_count,
                "head_count",
            ),
            (
                "condemned <= head_count",
                self.condemned,
                self.head_count,
                "head_count",
            ),
            (
                "beta_agonist_positive <= beta_agonist_tested",
                self.beta_agonist_positive,
                self.beta_agonist_tested,
                "beta_agonist_tested",
            ),
        ] {
            if part > whole {
                let field = name.split(' ').next().unwrap_or(name);
                return Err(Rejection::invariant(
                    name,
                    format!("{field} {part} > {whole_name} {whole}"),
                ));
            }
        }
        validate::not_in_future("period_start", self.period_start, ctx)?;
        validate::not_in_future("period_end", self.period_end, ctx)
    }
}
