//! The Arrow rows of the `alerts` table, one per [`AlertTransition`].

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;

use crate::alert::AlertTransition;
use crate::schema::{self, reasons_item, TIMEZONE};
use crate::ModelError;

fn ts() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone(TIMEZONE)
}

pub struct AlertBuilder {
    notification_id: StringBuilder,
    alert_id: StringBuilder,
    rule: StringBuilder,
    kind: StringBuilder,
    state: StringBuilder,
    severity: StringBuilder,
    at: TimestampMicrosecondBuilder,
    sequence: Int32Builder,
    feed: StringBuilder,
    group_key: StringBuilder,
    region_code: StringBuilder,
    metric: StringBuilder,
    value: Float64Builder,
    threshold: Float64Builder,
    comparison: StringBuilder,
    samples: Int64Builder,
    interval_low: Float64Builder,
    interval_high: Float64Builder,
    clear_breach: BooleanBuilder,
    window_length: StringBuilder,
    window_start: TimestampMicrosecondBuilder,
    window_end: TimestampMicrosecondBuilder,
    started_at: TimestampMicrosecondBuilder,
    fired_at: TimestampMicrosecondBuilder,
    resolved_at: TimestampMicrosecondBuilder,
    agency: StringBuilder,
    summary: StringBuilder,
    evidence: ListBuilder<StringBuilder>,
    pub(crate) rows: usize,
}

impl Default for AlertBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl AlertBuilder {
    pub fn new() -> Self {
        AlertBuilder {
            notification_id: StringBuilder::new(),
            alert_id: StringBuilder::new(),
            rule: StringBuilder::new(),
            kind: StringBuilder::new(),
            state: StringBuilder::new(),
            severity: StringBuilder::new(),
            at: ts(),
            sequence: Int32Builder::new(),
            feed: StringBuilder::new(),
            group_key: StringBuilder::new(),
            region_code: StringBuilder::new(),
            metric: StringBuilder::new(),
            value: Float64Builder::new(),
            threshold: Float64Builder::new(),
            comparison: StringBuilder::new(),
            samples: Int64Builder::new(),
            interval_low: Float64Builder::new(),
            interval_high: Float64Builder::new(),
            clear_breach: BooleanBuilder::new(),
            window_length: StringBuilder::new(),
            window_start: ts(),
            window_end: ts(),
            started_at: ts(),
            fired_at: ts(),
            resolved_at: ts(),
            agency: StringBuilder::new(),
            summary: StringBuilder::new(),
            evidence: ListBuilder::new(StringBuilder::new()).with_field(reasons_item()),
            rows: 0,
        }
    }

    pub fn append(&mut self, t: &AlertTransition) {
        let a = &t.alert;
        self.notification_id.append_value(&t.notification_id);
        self.alert_id.append_value(&a.alert_id);
        self.rule.append_value(&a.rule);
        self.kind.append_value(t.kind.as_str());
        self.state.append_value(a.state.as_str());
        self.severity.append_value(a.severity.as_str());
        self.at.append_value(t.at.0);
        self.sequence.append_value(t.sequence as i32);
        self.feed.append_value(&a.feed);
        let group_key = a.alert_id.split_once('/').map_or("", |(_, g)| g);
        self.group_key.append_value(group_key);
        self.region_code
            .append_option(a.group.get("region_code").map(String::as_str));
        self.metric.append_value(&a.metric);
        self.value.append_value(a.value);
        self.threshold.append_value(a.threshold);
        self.comparison.append_value(a.comparison.as_str());
        self.samples.append_value(a.samples as i64);
        self.interval_low.append_option(a.interval.map(|i| i.low));
        self.interval_high.append_option(a.interval.map(|i| i.high));
        self.clear_breach.append_value(a.clear_breach);
        self.window_length
            .append_option(a.window.as_ref().map(|w| w.length.as_str()));
        self.window_start
            .append_option(a.window.as_ref().map(|w| w.start.0));
        self.window_end
            .append_option(a.window.as_ref().map(|w| w.end.0));
        self.started_at.append_value(a.started_at.0);
        self.fired_at.append_option(a.fired_at.map(|t| t.0));
        self.resolved_at.append_option(a.resolved_at.map(|t| t.0));
        self.agency.append_value(&a.agency);
        self.summary.append_value(&a.summary);
        for id in &a.evidence {
            self.evidence.values().append_value(id);
        }
        self.evidence.append(true);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ModelError> {
        let c: Vec<ArrayRef> = vec![
            Arc::new(self.notification_id.finish()),
            Arc::new(self.alert_id.finish()),
            Arc::new(self.rule.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.state.finish()),
            Arc::new(self.severity.finish()),
            Arc::new(self.at.finish()),
            Arc::new(self.sequence.finish()),
            Arc::new(self.feed.finish()),
            Arc::new(self.group_key.finish()),
            Arc::new(self.region_code.finish()),
            Arc::new(self.metric.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.threshold.finish()),
            Arc::new(self.comparison.finish()),
            Arc::new(self.samples.finish()),
            Arc::new(self.interval_low.finish()),
            Arc::new(self.interval_high.finish()),
            Arc::new(self.clear_breach.finish()),
            Arc::new(self.window_length.finish()),
            Arc::new(self.window_start.finish()),
            Arc::new(self.window_end.finish()),
            Arc::new(self.started_at.finish()),
            Arc::new(self.fired_at.finish()),
            Arc::new(self.resolved_at.finish()),
            Arc::new(self.agency.finish()),
            Arc::new(self.summary.finish()),
            Arc::new(self.evidence.finish()),
        ];
        self.rows = 0;
        Ok(RecordBatch::try_new(schema::alerts(), c)?)
    }
}
