//! The `rates` table: the current value, samples, interval and alert state of every
//! rule × group, as of the last evaluation (event time).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use hub_model::schema::{timestamp_type, TIMEZONE};
use hub_model::source::CurrentTable;
use hub_model::Timestamp;

/// One rule × group.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRow {
    pub rule: String,
    pub group_key: String,
    pub region_code: String,
    pub metric: String,
    pub comparison: &'static str,
    /// `None` with no samples in the window.
    pub value: Option<f64>,
    pub numerator: f64,
    pub samples: f64,
    pub interval: Option<(f64, f64)>,
    pub clear_breach: bool,
    pub warning: f64,
    pub critical: Option<f64>,
    /// `ok`, `pending` or `firing`.
    pub state: &'static str,
    pub severity: Option<&'static str>,
    /// The CUSUM statistic, for rules with early warning.
    pub trend_statistic: Option<f64>,
    pub early_warning: bool,
    pub window_length: Option<String>,
    pub window_start: Option<Timestamp>,
    pub window_end: Option<Timestamp>,
    pub evaluated_at: Timestamp,
    /// Silence rules: the last report.
    pub last_seen: Option<Timestamp>,
    /// Throughput rules: the baseline mean.
    pub baseline: Option<f64>,
}

pub fn schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let utf8 = |n: &str, null| Field::new(n, DataType::Utf8, null);
        let f64 = |n: &str, null| Field::new(n, DataType::Float64, null);
        let ts = |n: &str, null| Field::new(n, timestamp_type(), null);
        Arc::new(Schema::new(vec![
            utf8("rule", false),
            utf8("group_key", false),
            utf8("region_code", false),
            utf8("metric", false),
            utf8("comparison", false),
            f64("value", true),
            f64("numerator", false),
            f64("samples", false),
            f64("interval_low", true),
            f64("interval_high", true),
            Field::new("clear_breach", DataType::Boolean, false),
            f64("warning", false),
            f64("critical", true),
            utf8("state", false),
            utf8("severity", true),
            f64("trend_statistic", true),
            Field::new("early_warning", DataType::Boolean, false),
            utf8("window_length", true),
            ts("window_start", true),
            ts("window_end", true),
            ts("evaluated_at", false),
            ts("last_seen", true),
            f64("baseline", true),
        ]))
    })
    .clone()
}

/// The rows the SQL layer reads, updated by the rule stage after each micro-batch.
#[derive(Default)]
pub struct RatesView {
    rows: Mutex<BTreeMap<(String, String), RateRow>>,
}

impl RatesView {
    pub fn update(&self, changed: impl IntoIterator<Item = RateRow>) {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        for r in changed {
            rows.insert((r.rule.clone(), r.group_key.clone()), r);
        }
    }

    pub fn replace_all(&self, all: impl IntoIterator<Item = RateRow>) {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        rows.clear();
        for r in all {
            rows.insert((r.rule.clone(), r.group_key.clone()), r);
        }
    }

    /// Calls `f` with every row (under the lock: keep `f` short).
    pub fn for_each(&self, mut f: impl FnMut(&RateRow)) {
        let rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        rows.values().for_each(&mut f);
    }
}

impl CurrentTable for RatesView {
    fn name(&self) -> &'static str {
        "rates"
    }

    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn batch(&self) -> RecordBatch {
        let ts = || TimestampMicrosecondBuilder::new().with_timezone(TIMEZONE);
        let (mut rule, mut group, mut region, mut metric, mut cmp) = (
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let (mut value, mut num, mut samples, mut low, mut high) = (
            Float64Builder::new(),
            Float64Builder::new(),
            Float64Builder::new(),
            Float64Builder::new(),
            Float64Builder::new(),
        );
        let mut clear = BooleanBuilder::new();
        let (mut warning, mut critical) = (Float64Builder::new(), Float64Builder::new());
        let (mut state, mut severity) = (StringBuilder::new(), StringBuilder::new());
        let mut trend = Float64Builder::new();
        let mut early = BooleanBuilder::new();
        let mut length = StringBuilder::new();
        let (mut start, mut end, mut evaluated, mut last_seen) = (ts(), ts(), ts(), ts());
        let mut baseline = Float64Builder::new();
        self.for_each(|r| {
            rule.append_value(&r.rule);
            group.append_value(&r.group_key);
            region.append_value(&r.region_code);
            metric.append_value(&r.metric);
            cmp.append_value(r.comparison);
            value.append_option(r.value);
            num.append_value(r.numerator);
            samples.append_value(r.samples);
            low.append_option(r.interval.map(|i| i.0));
            high.append_option(r.interval.map(|i| i.1));
            clear.append_value(r.clear_breach);
            warning.append_value(r.warning);
            critical.append_option(r.critical);
            state.append_value(r.state);
            severity.append_option(r.severity);
            trend.append_option(r.trend_statistic);
            early.append_value(r.early_warning);
            length.append_option(r.window_length.as_deref());
            start.append_option(r.window_start.map(|t| t.0));
            end.append_option(r.window_end.map(|t| t.0));
            evaluated.append_value(r.evaluated_at.0);
            last_seen.append_option(r.last_seen.map(|t| t.0));
            baseline.append_option(r.baseline);
        });
        let columns: Vec<ArrayRef> = vec![
            Arc::new(rule.finish()),
            Arc::new(group.finish()),
            Arc::new(region.finish()),
            Arc::new(metric.finish()),
            Arc::new(cmp.finish()),
            Arc::new(value.finish()),
            Arc::new(num.finish()),
            Arc::new(samples.finish()),
            Arc::new(low.finish()),
            Arc::new(high.finish()),
            Arc::new(clear.finish()),
            Arc::new(warning.finish()),
            Arc::new(critical.finish()),
            Arc::new(state.finish()),
            Arc::new(severity.finish()),
            Arc::new(trend.finish()),
            Arc::new(early.finish()),
            Arc::new(length.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
            Arc::new(evaluated.finish()),
            Arc::new(last_seen.finish()),
            Arc::new(baseline.finish()),
        ];
        RecordBatch::try_new(schema(), columns).expect("the rates columns match the schema")
    }
}
