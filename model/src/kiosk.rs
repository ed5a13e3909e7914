//! `kiosk.results`: one rapid test of one sample at a market kiosk.

use std::borrow::Cow;

use serde::Deserialize;

use crate::rejection::Rejection;
use crate::time::Timestamp;
use crate::validate::{self, CheckContext};

#[derive(Debug, Clone, Deserialize)]
pub struct KioskResult<'a> {
    #[serde(borrow)]
    pub event_id: Cow<'a, str>,
    #[serde(borrow)]
    pub kiosk_id: Cow<'a, str>,
    #[serde(borrow)]
    pub market_id: Cow<'a, str>,
    #[serde(borrow)]
    pub region_code: Cow<'a, str>,
    pub tested_at: Timestamp,
    #[serde(borrow)]
    pub sample: Sample<'a>,
    pub test_item: TestItem,
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(borrow, default)]
    pub unit: Option<Cow<'a, str>>,
    #[serde(default)]
    pub limit: Option<f64>,
    pub result: TestResult,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sample<'a> {
    pub category: SampleCategory,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub vendor_id: Option<Cow<'a, str>>,
}

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }
    };
}
pub(crate) use str_enum;

str_enum!(SampleCategory {
    Vegetable = "vegetable",
    Fruit = "fruit",
    LivestockMeat = "livestock_meat",
    Poultry = "poultry",
    Aquatic = "aquatic",
    Egg = "egg",
    GrainOil = "grain_oil",
    Other = "other",
});

str_enum!(TestItem {
    OrganophosphateCarbamate = "organophosphate_carbamate",
    BetaAgonist = "beta_agonist",
    Formaldehyde = "formaldehyde",
    SulfurDioxide = "sulfur_dioxide",
    Rongalite = "rongalite",
    Nitrite = "nitrite",
    MalachiteGreen = "malachite_green",
    Other = "other",
});

str_enum!(
    /// `invalid` means the test itself failed; rates exclude it.
    TestResult {
        Pass = "pass",
        Fail = "fail",
        Invalid = "invalid",
    }
);

impl KioskResult<'_> {
    pub fn event_time(&self) -> Timestamp {
        self.tested_at
    }

    pub(crate) fn check(&self, ctx: &CheckContext) -> Result<(), Rejection> {
        validate::length("event_id", &self.event_id, 1, 128)?;
        validate::length("kiosk_id", &self.kiosk_id, 1, 64)?;
        validate::length("market_id", &self.market_id, 1, 64)?;
        validate::region_code("region_code", &self.region_code)?;
        validate::length("sample.name", &self.sample.name, 1, 128)?;
        if let Some(v) = &self.sample.vendor_id {
            validate::length("sample.vendor_id", v, 0, 64)?;
        }
        if let Some(m) = &self.method {
            validate::length("method", m, 0, 64)?;
        }
        if let Some(u) = &self.unit {
            validate::length("unit", u, 0, 32)?;
        }
        validate::not_in_future("tested_at", self.tested_at, ctx)
    }
}
