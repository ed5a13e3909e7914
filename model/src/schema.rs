//! The Arrow layout of every table the hub writes: one column per schema field, nested
//! fields flattened (`sample.category` → `sample_category`), timestamps as UTC
//! microseconds, and the Kafka position plus `ingested_at` on every row.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::feed::Feed;

pub const TIMEZONE: &str = "UTC";

pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(TIMEZONE.into()))
}

fn ts(name: &str, nullable: bool) -> Field {
    Field::new(name, timestamp_type(), nullable)
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// The item field of `inspection_reasons`.
pub fn reasons_item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Utf8, true))
}

fn kafka_columns() -> [Field; 4] {
    [
        utf8("topic", false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        ts("ingested_at", false),
    ]
}

fn with_kafka(mut fields: Vec<Field>) -> SchemaRef {
    fields.extend(kafka_columns());
    Arc::new(Schema::new(fields))
}

pub fn kiosk() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        with_kafka(vec![
            utf8("event_id", false),
            utf8("kiosk_id", false),
            utf8("market_id", false),
            utf8("region_code", false),
            ts("tested_at", false),
            utf8("sample_category", false),
            utf8("sample_name", false),
            utf8("vendor_id", true),
            utf8("test_item", false),
            utf8("method", true),
            Field::new("value", DataType::Float64, true),
            utf8("unit", true),
            Field::new("limit", DataType::Float64, true),
            utf8("result", false),
        ])
    })
    .clone()
}

pub fn slaughter() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let count = |n: &str| Field::new(n, DataType::Int64, false);
        with_kafka(vec![
            utf8("event_id", false),
            utf8("plant_id", false),
            Field::new("designated", DataType::Boolean, false),
            utf8("region_code", false),
            utf8("species", false),
            ts("period_start", false),
            ts("period_end", false),
            count("head_count"),
            count("quarantine_passed"),
            count("condemned"),
            count("beta_agonist_tested"),
            count("beta_agonist_positive"),
            Field::new("carcass_weight_kg", DataType::Float64, true),
        ])
    })
    .clone()
}

pub fn export() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        with_kafka(vec![
            utf8("event_id", false),
            utf8("declaration_no", false),
            utf8("enterprise_id", false),
            utf8("region_code", false),
            ts("declared_at", false),
            utf8("hs_code", false),
            utf8("product_category", false),
            utf8("destination", false),
            Field::new("quantity_kg", DataType::Float64, false),
            Field::new("batch_marked", DataType::Boolean, false),
            utf8("inspection_status", false),
            ts("inspected_at", true),
            Field::new("inspection_reasons", DataType::List(reasons_item()), true),
        ])
    })
    .clone()
}

pub fn dead_letters() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            utf8("feed", false),
            utf8("topic", false),
            Field::new("partition", DataType::Int32, false),
            Field::new("offset", DataType::Int64, false),
            ts("kafka_timestamp", true),
            utf8("reason_class", false),
            utf8("reason", false),
            Field::new("payload", DataType::Binary, false),
            ts("ingested_at", false),
        ]))
    })
    .clone()
}

/// Every alert transition (see [`crate::alert`]): one row per transition, event-time
/// instants, the group flattened into `group_key` (`market_id=M-…`) and `region_code`.
pub fn alerts() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let f64 = |n: &str, nullable| Field::new(n, DataType::Float64, nullable);
        Arc::new(Schema::new(vec![
            utf8("notification_id", false),
            utf8("alert_id", false),
            utf8("rule", false),
            utf8("kind", false),
            utf8("state", false),
            utf8("severity", false),
            ts("at", false),
            Field::new("sequence", DataType::Int32, false),
            utf8("feed", false),
            utf8("group_key", false),
            utf8("region_code", true),
            utf8("metric", false),
            f64("value", false),
            f64("threshold", false),
            utf8("comparison", false),
            Field::new("samples", DataType::Int64, false),
            f64("interval_low", true),
            f64("interval_high", true),
            Field::new("clear_breach", DataType::Boolean, false),
            utf8("window_length", true),
            ts("window_start", true),
            ts("window_end", true),
            ts("started_at", false),
            ts("fired_at", true),
            ts("resolved_at", true),
            utf8("agency", false),
            utf8("summary", false),
            Field::new("evidence", DataType::List(reasons_item()), false),
        ]))
    })
    .clone()
}

/// The tables the pipeline writes, each with its schema.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    KioskResults,
    SlaughterReports,
    ExportDeclarations,
    DeadLetters,
    /// Alert transitions, written by the rule stage.
    Alerts,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::KioskResults,
        Table::SlaughterReports,
        Table::ExportDeclarations,
        Table::DeadLetters,
        Table::Alerts,
    ];

    pub fn of_feed(feed: Feed) -> Table {
        match feed {
            Feed::Kiosk => Table::KioskResults,
            Feed::Slaughter => Table::SlaughterReports,
            Feed::Export => Table::ExportDeclarations,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::KioskResults => "kiosk_results",
            Table::SlaughterReports => "slaughter_reports",
            Table::ExportDeclarations => "export_declarations",
            Table::DeadLetters => "dead_letters",
            Table::Alerts => "alerts",
        }
    }

    pub fn schema(self) -> SchemaRef {
        match self {
            Table::KioskResults => kiosk(),
            Table::SlaughterReports => slaughter(),
            Table::ExportDeclarations => export(),
            Table::DeadLetters => dead_letters(),
            Table::Alerts => alerts(),
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}
