//! Arrow builders that turn accepted events and dead letters into RecordBatches with the
//! layout of [`crate::schema`].

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    ListBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;

use crate::alert_batch::AlertBuilder;
use crate::dead_letter::DeadLetter;
use crate::event::Event;
use crate::export::ExportDeclaration;
use crate::kiosk::KioskResult;
use crate::schema::{self, reasons_item, Table, TIMEZONE};
use crate::slaughter::SlaughterReport;
use crate::stage::KafkaMeta;
use crate::ModelError;

fn ts_builder() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone(TIMEZONE)
}

/// The four columns every feed row ends with.
struct KafkaColumns {
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    ingested_at: TimestampMicrosecondBuilder,
}

impl KafkaColumns {
    fn new() -> Self {
        KafkaColumns {
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            ingested_at: ts_builder(),
        }
    }

    fn append(&mut self, meta: &KafkaMeta<'_>) {
        self.topic.append_value(meta.topic);
        self.partition.append_value(meta.partition);
        self.offset.append_value(meta.offset);
        self.ingested_at.append_value(meta.ingested_at.0);
    }

    fn finish_into(&mut self, columns: &mut Vec<ArrayRef>) {
        columns.push(Arc::new(self.topic.finish()));
        columns.push(Arc::new(self.partition.finish()));
        columns.push(Arc::new(self.offset.finish()));
        columns.push(Arc::new(self.ingested_at.finish()));
    }
}

pub struct KioskBuilder {
    event_id: StringBuilder,
    kiosk_id: StringBuilder,
    market_id: StringBuilder,
    region_code: StringBuilder,
    tested_at: TimestampMicrosecondBuilder,
    sample_category: StringBuilder,
    sample_name: StringBuilder,
    vendor_id: StringBuilder,
    test_item: StringBuilder,
    method: StringBuilder,
    value: Float64Builder,
    unit: StringBuilder,
    limit: Float64Builder,
    result: StringBuilder,
    kafka: KafkaColumns,
    rows: usize,
}

impl KioskBuilder {
    pub fn new() -> Self {
        KioskBuilder {
            event_id: StringBuilder::new(),
            kiosk_id: StringBuilder::new(),
            market_id: StringBuilder::new(),
            region_code: StringBuilder::new(),
            tested_at: ts_builder(),
            sample_category: StringBuilder::new(),
            sample_name: StringBuilder::new(),
            vendor_id: StringBuilder::new(),
            test_item: StringBuilder::new(),
            method: StringBuilder::new(),
            value: Float64Builder::new(),
            unit: StringBuilder::new(),
            limit: Float64Builder::new(),
            result: StringBuilder::new(),
            kafka: KafkaColumns::new(),
            rows: 0,
        }
    }

    pub fn append(&mut self, e: &KioskResult<'_>, meta: &KafkaMeta<'_>) {
        self.event_id.append_value(&e.event_id);
        self.kiosk_id.append_value(&e.kiosk_id);
        self.market_id.append_value(&e.market_id);
        self.region_code.append_value(&e.region_code);
        self.tested_at.append_value(e.tested_at.0);
        self.sample_category
            .append_value(e.sample.category.as_str());
        self.sample_name.append_value(&e.sample.name);
        self.vendor_id.append_option(e.sample.vendor_id.as_deref());
        self.test_item.append_value(e.test_item.as_str());
        self.method.append_option(e.method.as_deref());
        self.value.append_option(e.value);
        self.unit.append_option(e.unit.as_deref());
        self.limit.append_option(e.limit);
        self.result.append_value(e.result.as_str());
        self.kafka.append(meta);
        self.rows += 1;
    }

    fn finish(&mut self) -> Result<RecordBatch, ModelError> {
        let mut c: Vec<ArrayRef> = vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.kiosk_id.finish()),
            Arc::new(self.market_id.finish()),
            Arc::new(self.region_code.finish()),
            Arc::new(self.tested_at.finish()),
            Arc::new(self.sample_category.finish()),
            Arc::new(self.sample_name.finish()),
            Arc::new(self.vendor_id.finish()),
            Arc::new(self.test_item.finish()),
            Arc::new(self.method.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.unit.finish()),
            Arc::new(self.limit.finish()),
            Arc::new(self.result.finish()),
        ];
        self.kafka.finish_into(&mut c);
        self.rows = 0;
        Ok(RecordBatch::try_new(schema::kiosk(), c)?)
    }
}

pub struct SlaughterBuilder {
    event_id: StringBuilder,
    plant_id: StringBuilder,
    designated: BooleanBuilder,
    region_code: StringBuilder,
    species: StringBuilder,
    period_start: TimestampMicrosecondBuilder,
    period_end: TimestampMicrosecondBuilder,
    counts: [Int64Builder; 5],
    carcass_weight_kg: Float64Builder,
    kafka: KafkaColumns,
    rows: usize,
}

impl SlaughterBuilder {
    pub fn new() -> Self {
        SlaughterBuilder {
            event_id: StringBuilder::new(),
            plant_id: StringBuilder::new(),
            designated: BooleanBuilder::new(),
            region_code: StringBuilder::new(),
            species: StringBuilder::new(),
            period_start: ts_builder(),
            period_end: ts_builder(),
            counts: std::array::from_fn(|_| Int64Builder::new()),
            carcass_weight_kg: Float64Builder::new(),
            kafka: KafkaColumns::new(),
            rows: 0,
        }
    }

    pub fn append(&mut self, e: &SlaughterReport<'_>, meta: &KafkaMeta<'_>) {
        self.event_id.append_value(&e.event_id);
        self.plant_id.append_value(&e.plant_id);
        self.designated.append_value(e.designated);
        self.region_code.append_value(&e.region_code);
        self.species.append_value(e.species.as_str());
        self.period_start.append_value(e.period_start.0);
        self.period_end.append_value(e.period_end.0);
        let counts = [
            e.head_count,
            e.quarantine_passed,
            e.condemned,
            e.beta_agonist_tested,
            e.beta_agonist_positive,
        ];
        for (b, v) in self.counts.iter_mut().zip(counts) {
            // Counts above i64::MAX cannot be real head counts; saturate rather than wrap.
            b.append_value(i64::try_from(v).unwrap_or(i64::MAX));
        }
        self.carcass_weight_kg.append_option(e.carcass_weight_kg);
        self.kafka.append(meta);
        self.rows += 1;
    }

    fn finish(&mut self) -> Result<RecordBatch, ModelError> {
        let mut c: Vec<ArrayRef> = vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.plant_id.finish()),
            Arc::new(self.designated.finish()),
            Arc::new(self.region_code.finish()),
            Arc::new(self.species.finish()),
            Arc::new(self.period_start.finish()),
            Arc::new(self.period_end.finish()),
        ];
        for b in &mut self.counts {
            c.push(Arc::new(b.finish()));
        }
        c.push(Arc::new(self.carcass_weight_kg.finish()));
        self.kafka.finish_into(&mut c);
        self.rows = 0;
        Ok(RecordBatch::try_new(schema::slaughter(), c)?)
    }
}

pub struct ExportBuilder {
    event_id: StringBuilder,
    declaration_no: StringBuilder,
    enterprise_id: StringBuilder,
    region_code: StringBuilder,
    declared_at: TimestampMicrosecondBuilder,
    hs_code: StringBuilder,
    product_category: StringBuilder,
    destination: StringBuilder,
    quantity_kg: Float64Builder,
    batch_marked: BooleanBuilder,
    inspection_status: StringBuilder,
    inspected_at: TimestampMicrosecondBuilder,
    inspection_reasons: ListBuilder<StringBuilder>,
    kafka: KafkaColumns,
    rows: usize,
}

impl ExportBuilder {
    pub fn new() -> Self {
        ExportBuilder {
            event_id: StringBuilder::new(),
            declaration_no: StringBuilder::new(),
            enterprise_id: StringBuilder::new(),
            region_code: StringBuilder::new(),
            declared_at: ts_builder(),
            hs_code: StringBuilder::new(),
            product_category: StringBuilder::new(),
            destination: StringBuilder::new(),
            quantity_kg: Float64Builder::new(),
            batch_marked: BooleanBuilder::new(),
            inspection_status: StringBuilder::new(),
            inspected_at: ts_builder(),
            inspection_reasons: ListBuilder::new(StringBuilder::new()).with_field(reasons_item()),
            kafka: KafkaColumns::new(),
            rows: 0,
        }
    }

    pub fn append(&mut self, e: &ExportDeclaration<'_>, meta: &KafkaMeta<'_>) {
        self.event_id.append_value(&e.event_id);
        self.declaration_no.append_value(&e.declaration_no);
        self.enterprise_id.append_value(&e.enterprise_id);
        self.region_code.append_value(&e.region_code);
        self.declared_at.append_value(e.declared_at.0);
        self.hs_code.append_value(&e.hs_code);
        self.product_category.append_value(&e.product_category);
        self.destination.append_value(&e.destination);
        self.quantity_kg.append_value(e.quantity_kg);
        self.batch_marked.append_value(e.batch_marked);
        self.inspection_status
            .append_value(e.inspection.status.as_str());
        self.inspected_at
            .append_option(e.inspection.inspected_at.map(|t| t.0));
        match &e.inspection.reasons {
            Some(reasons) => {
                for r in reasons {
                    self.inspection_reasons.values().append_value(r);
                }
                self.inspection_reasons.append(true);
            }
            None => self.inspection_reasons.append(false),
        }
        self.kafka.append(meta);
        self.rows += 1;
    }

    fn finish(&mut self) -> Result<RecordBatch, ModelError> {
        let mut c: Vec<ArrayRef> = vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.declaration_no.finish()),
            Arc::new(self.enterprise_id.finish()),
            Arc::new(self.region_code.finish()),
            Arc::new(self.declared_at.finish()),
            Arc::new(self.hs_code.finish()),
            Arc::new(self.product_category.finish()),
            Arc::new(self.destination.finish()),
            Arc::new(self.quantity_kg.finish()),
            Arc::new(self.batch_marked.finish()),
            Arc::new(self.inspection_status.finish()),
            Arc::new(self.inspected_at.finish()),
            Arc::new(self.inspection_reasons.finish()),
        ];
        self.kafka.finish_into(&mut c);
        self.rows = 0;
        Ok(RecordBatch::try_new(schema::export(), c)?)
    }
}

pub struct DeadLetterBuilder {
    feed: StringBuilder,
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    kafka_timestamp: TimestampMicrosecondBuilder,
    reason_class: StringBuilder,
    reason: StringBuilder,
    payload: BinaryBuilder,
    ingested_at: TimestampMicrosecondBuilder,
    rows: usize,
}

impl DeadLetterBuilder {
    pub fn new() -> Self {
        DeadLetterBuilder {
            feed: StringBuilder::new(),
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            kafka_timestamp: ts_builder(),
            reason_class: StringBuilder::new(),
            reason: StringBuilder::new(),
            payload: BinaryBuilder::new(),
            ingested_at: ts_builder(),
            rows: 0,
        }
    }

    pub fn append(&mut self, d: &DeadLetter) {
        self.feed.append_value(d.feed.as_str());
        self.topic.append_value(&d.topic);
        self.partition.append_value(d.partition);
        self.offset.append_value(d.offset);
        self.kafka_timestamp
            .append_option(d.kafka_timestamp.map(|t| t.0));
        self.reason_class.append_value(d.rejection.class.as_str());
        self.reason.append_value(d.rejection.reason());
        self.payload.append_value(&d.payload);
        self.ingested_at.append_value(d.received_at.0);
        self.rows += 1;
    }

    fn finish(&mut self) -> Result<RecordBatch, ModelError> {
        let c: Vec<ArrayRef> = vec![
            Arc::new(self.feed.finish()),
            Arc::new(self.topic.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.kafka_timestamp.finish()),
            Arc::new(self.reason_class.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.payload.finish()),
            Arc::new(self.ingested_at.finish()),
        ];
        self.rows = 0;
        Ok(RecordBatch::try_new(schema::dead_letters(), c)?)
    }
}

/// A builder for any one of the hub's tables.
pub enum TableBuilder {
    Kiosk(KioskBuilder),
    Slaughter(SlaughterBuilder),
    Export(ExportBuilder),
    DeadLetters(DeadLetterBuilder),
    Alerts(Box<AlertBuilder>),
}

impl TableBuilder {
    pub fn new(table: Table) -> Self {
        match table {
            Table::KioskResults => TableBuilder::Kiosk(KioskBuilder::new()),
            Table::SlaughterReports => TableBuilder::Slaughter(SlaughterBuilder::new()),
            Table::ExportDeclarations => TableBuilder::Export(ExportBuilder::new()),
            Table::DeadLetters => TableBuilder::DeadLetters(DeadLetterBuilder::new()),
            Table::Alerts => TableBuilder::Alerts(Box::default()),
        }
    }

    /// Appends an event; it must belong to this builder's table.
    pub fn append_event(&mut self, event: &Event<'_>, meta: &KafkaMeta<'_>) {
        match (self, event) {
            (TableBuilder::Kiosk(b), Event::Kiosk(e)) => b.append(e, meta),
            (TableBuilder::Slaughter(b), Event::Slaughter(e)) => b.append(e, meta),
            (TableBuilder::Export(b), Event::Export(e)) => b.append(e, meta),
            (_, e) => panic!("a {} event appended to another table's builder", e.feed()),
        }
    }

    pub fn append_dead_letter(&mut self, d: &DeadLetter) {
        match self {
            TableBuilder::DeadLetters(b) => b.append(d),
            _ => panic!("a dead letter appended to a feed table's builder"),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            TableBuilder::Kiosk(b) => b.rows,
            TableBuilder::Slaughter(b) => b.rows,
            TableBuilder::Export(b) => b.rows,
            TableBuilder::DeadLetters(b) => b.rows,
            TableBuilder::Alerts(b) => b.rows,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows appended since the last finish, as one batch; the builder is reset.
    pub fn finish(&mut self) -> Result<RecordBatch, ModelError> {
        match self {
            TableBuilder::Kiosk(b) => b.finish(),
            TableBuilder::Slaughter(b) => b.finish(),
            TableBuilder::Export(b) => b.finish(),
            TableBuilder::DeadLetters(b) => b.finish(),
            TableBuilder::Alerts(b) => b.finish(),
        }
    }
}

impl Default for KioskBuilder {
    fn default() -> Self {
        Self::new()
    }
}
impl Default for SlaughterBuilder {
    fn default() -> Self {
        Self::new()
    }
}
impl Default for ExportBuilder {
    fn default() -> Self {
        Self::new()
    }
}
impl Default for DeadLetterBuilder {
    fn default() -> Self {
        Self::new()
    }
}
