//! The `deliveries` SQL table: every notification for every subscription — waiting
//! (`pending`, or `retrying` after a failed attempt) and finished (`delivered`,
//! `refused`, `silenced`, `dropped`) — read from the outbox when a query runs.
//! Finished rows stay for `delivery.retention` (30 days by default).

use std::sync::Arc;

use arrow::array::{ArrayRef, StringBuilder, TimestampMicrosecondBuilder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use hub_model::schema::{timestamp_type, TIMEZONE};
use hub_model::source::CurrentTable;

use crate::dispatcher::Dispatcher;

pub struct DeliveriesTable {
    dispatcher: Arc<Dispatcher>,
}

impl DeliveriesTable {
    pub(crate) fn new(dispatcher: Arc<Dispatcher>) -> Self {
        DeliveriesTable { dispatcher }
    }
}

pub fn schema() -> SchemaRef {
    let utf8 = |n: &str, null| Field::new(n, DataType::Utf8, null);
    let ts = |n: &str, null| Field::new(n, timestamp_type(), null);
    Arc::new(Schema::new(vec![
        utf8("notification_id", false),
        utf8("subscription_id", false),
        utf8("subscription", true),
        utf8("agency", true),
        utf8("channel", false),
        utf8("alert_id", false),
        utf8("status", false),
        Field::new("attempts", DataType::UInt32, false),
        utf8("detail", true),
        ts("created_at", false),
        ts("next_attempt_at", true),
        ts("finished_at", true),
    ]))
}

impl CurrentTable for DeliveriesTable {
    fn name(&self) -> &'static str {
        "deliveries"
    }

    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn batch(&self) -> RecordBatch {
        let d = &self.dispatcher;
        let subs = d.current_subscriptions();
        let about = |id: &str| {
            subs.iter()
                .find(|(i, _)| i == id)
                .map(|(_, s)| (s.name.as_str(), s.agency.as_str()))
        };
        let s = StringBuilder::new;
        let ts = || TimestampMicrosecondBuilder::new().with_timezone(TIMEZONE);
        let (
            mut ntf,
            mut sub,
            mut name,
            mut agency,
            mut channel,
            mut alert,
            mut status,
            mut detail,
        ) = (s(), s(), s(), s(), s(), s(), s(), s());
        let mut attempts = UInt32Builder::new();
        let (mut created, mut next, mut finished) = (ts(), ts(), ts());
        let waiting = d.outbox.waiting().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading the outbox for the deliveries table failed");
            Vec::new()
        });
        let log = d.outbox.log().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading the delivery log failed");
            Vec::new()
        });
        for w in &waiting {
            let who = about(&w.subscription_id);
            ntf.append_value(&w.notification_id);
            sub.append_value(&w.subscription_id);
            name.append_option(who.map(|w| w.0));
            agency.append_option(who.map(|w| w.1));
            channel.append_value(&w.channel);
            alert.append_value(&w.alert_id);
            status.append_value(if w.attempts == 0 {
                "pending"
            } else {
                "retrying"
            });
            attempts.append_value(w.attempts);
            detail.append_option(w.last_error.as_deref());
            created.append_value(w.created_at.0);
            next.append_value(w.due.0);
            finished.append_null();
        }
        for r in &log {
            let who = about(&r.subscription_id);
            ntf.append_value(&r.notification_id);
            sub.append_value(&r.subscription_id);
            name.append_option(who.map(|w| w.0));
            agency.append_option(who.map(|w| w.1));
            channel.append_value(&r.channel);
            alert.append_value(&r.alert_id);
            status.append_value(r.outcome.as_str());
            attempts.append_value(r.attempts);
            detail.append_option(r.detail.as_deref());
            created.append_value(r.created_at.0);
            next.append_null();
            finished.append_value(r.finished_at.0);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ntf.finish()),
            Arc::new(sub.finish()),
            Arc::new(name.finish()),
            Arc::new(agency.finish()),
            Arc::new(channel.finish()),
            Arc::new(alert.finish()),
            Arc::new(status.finish()),
            Arc::new(attempts.finish()),
            Arc::new(detail.finish()),
            Arc::new(created.finish()),
            Arc::new(next.finish()),
            Arc::new(finished.finish()),
        ];
        RecordBatch::try_new(schema(), columns).expect("the deliveries columns match the schema")
    }
}
