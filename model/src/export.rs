//! `export.declarations`: one version of an export declaration. A later version (by event
//! time) of the same `declaration_no` supersedes earlier ones.

use std::borrow::Cow;

use serde::Deserialize;

use crate::kiosk::str_enum;
use crate::rejection::{ReasonClass, Rejection};
use crate::time::{truncate, Timestamp};
use crate::validate::{self, CheckContext};

#[derive(Debug, Clone, Deserialize)]
pub struct ExportDeclaration<'a> {
    #[serde(borrow)]
    pub event_id: Cow<'a, str>,
    #[serde(borrow)]
    pub declaration_no: Cow<'a, str>,
    #[serde(borrow)]
    pub enterprise_id: Cow<'a, str>,
    #[serde(borrow)]
    pub region_code: Cow<'a, str>,
    pub declared_at: Timestamp,
    #[serde(borrow)]
    pub hs_code: Cow<'a, str>,
    #[serde(borrow)]
    pub product_category: Cow<'a, str>,
    #[serde(borrow)]
    pub destination: Cow<'a, str>,
    pub quantity_kg: f64,
    pub batch_marked: bool,
    #[serde(borrow)]
    pub inspection: Inspection<'a>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Inspection<'a> {
    pub status: InspectionStatus,
    #[serde(default)]
    pub inspected_at: Option<Timestamp>,
    #[serde(borrow, default)]
    pub reasons: Option<Vec<Cow<'a, str>>>,
}

str_enum!(InspectionStatus {
    Pass = "pass",
    Fail = "fail",
    Pending = "pending",
});

impl ExportDeclaration<'_> {
    /// `inspection.inspected_at` when present, else `declared_at`.
    pub fn event_time(&self) -> Timestamp {
        self.inspection.inspected_at.unwrap_or(self.declared_at)
    }

    pub(crate) fn check(&self, ctx: &CheckContext) -> Result<(), Rejection> {
        validate::length("event_id", &self.event_id, 1, 128)?;
        validate::length("declaration_no", &self.declaration_no, 1, 64)?;
        validate::length("enterprise_id", &self.enterprise_id, 1, 64)?;
        validate::region_code("region_code", &self.region_code)?;
        validate::digits("hs_code", &self.hs_code, 6, 10)?;
        validate::length("product_category", &self.product_category, 1, 64)?;
        if !(self.destination.len() == 2
            && self.destination.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(Rejection::bad_value(
                "destination",
                format!(
                    "`{}` is not an ISO 3166-1 alpha-2 code",
                    truncate(&self.destination, 20)
                ),
            ));
        }
        validate::non_negative("quantity_kg", self.quantity_kg)?;
        if let Some(reasons) = &self.inspection.reasons {
            if reasons.len() > 32 {
                return Err(Rejection::bad_value(
                    "inspection.reasons",
                    format!("{} reasons, at most 32 allowed", reasons.len()),
                ));
            }
            for r in reasons {
                validate::length("inspection.reasons", r, 0, 128)?;
            }
        }
        if self.inspection.status != InspectionStatus::Pending
            && self.inspection.inspected_at.is_none()
        {
            return Err(Rejection::new(
                ReasonClass::Invariant,
                Some("inspected_at required"),
                format!(
                    "inspection.status is {} but inspection.inspected_at is missing",
                    self.inspection.status.as_str()
                ),
            ));
        }
        validate::not_in_future("declared_at", self.declared_at, ctx)?;
        if let Some(t) = self.inspection.inspected_at {
            validate::not_in_future("inspection.inspected_at", t, ctx)?;
        }
        Ok(())
    }
}
