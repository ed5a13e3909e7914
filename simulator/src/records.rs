//! The three feeds' messages as the simulator writes them: field order and names as in
//! `feeds/*.schema.json`, optional fields left out when absent.

use serde::Serialize;

/// One `kiosk.results` message.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct KioskRecord {
    pub event_id: String,
    pub kiosk_id: String,
    pub market_id: String,
    pub region_code: String,
    pub tested_at: String,
    pub sample: SampleRecord,
    pub test_item: &'static str,
    pub method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    pub result: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SampleRecord {
    pub category: &'static str,
    pub name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<String>,
}

/// One `slaughter.reports` message.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SlaughterRecord {
    pub event_id: String,
    pub plant_id: String,
    pub designated: bool,
    pub region_code: String,
    pub species: &'static str,
    pub period_start: String,
    pub period_end: String,
    pub head_count: u64,
    pub quarantine_passed: u64,
    pub condemned: u64,
    pub beta_agonist_tested: u64,
    pub beta_agonist_positive: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carcass_weight_kg: Option<f64>,
}

/// One `export.declarations` message (one version of a declaration).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ExportRecord {
    pub event_id: String,
    pub declaration_no: String,
    pub enterprise_id: String,
    pub region_code: String,
    pub declared_at: String,
    pub hs_code: &'static str,
    pub product_category: &'static str,
    pub destination: &'static str,
    pub quantity_kg: f64,
    pub batch_marked: bool,
    pub inspection: InspectionRecord,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct InspectionRecord {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspected_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<&'static str>>,
}

/// The JSON bytes of a record.
pub(crate) fn to_json<T: Serialize>(record: &T) -> Vec<u8> {
    // The records hold strings, booleans, integers and finite floats under string keys:
    // serde_json has no error to report for them.
    serde_json::to_vec(record).expect("simulator records always serialize")
}

/// A record as a JSON value, for the `bad` scenario to spoil.
pub(crate) fn to_value<T: Serialize>(record: &T) -> serde_json::Value {
    // Same reasoning as `to_json`.
    serde_json::to_value(record).expect("simulator records always serialize")
}
