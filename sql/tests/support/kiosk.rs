//! Kiosk rows for the archive tests (`archive_pruning.rs`, `archive_s3.rs`), included by
//! `#[path]`.

#![allow(dead_code)]

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use hub_model::schema::Table;

pub const DAY_US: i64 = 86_400_000_000;
/// 2026-10-01.
pub const DAY0: i32 = 20_727;

/// Kiosk rows at the given `tested_at` instants (µs), every other column filled in.
pub fn kiosk_rows(times: &[i64]) -> RecordBatch {
    let schema = Table::KioskResults.schema();
    let n = times.len();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match f.data_type() {
                DataType::Utf8 => Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("{}-{}", f.name(), i % 7)),
                )),
                DataType::Timestamp(TimeUnit::Microsecond, tz) => Arc::new(
                    TimestampMicrosecondArray::from(times.to_vec()).with_timezone_opt(tz.clone()),
                ),
                DataType::Float64 => Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|i| (i % 100) as f64),
                )),
                DataType::Int32 => {
                    Arc::new(Int32Array::from_iter_values((0..n).map(|i| (i % 3) as i32)))
                }
                DataType::Int64 => Arc::new(Int64Array::from_iter_values((0..n).map(|i| i as i64))),
                other => panic!("no test data for {other}"),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}
