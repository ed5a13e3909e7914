//! `date_trunc` on UTC timestamps by arithmetic. Every event-time column is
//! `timestamp with time zone` in UTC, and DataFusion's `date_trunc` converts each value
//! through chrono's calendar for those (about 90 ns a value, a third of the weekly pass
//! rate query). For microsecond timestamps in UTC (or without a zone) truncated to a
//! week, day, hour, minute or second, each session's `date_trunc` computes the result
//! with integer arithmetic instead; everything else (months, quarters, years, other
//! zones, scalars) goes to DataFusion's function unchanged. A property test checks both
//! give the same answers.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF};
use datafusion::prelude::SessionContext;

use crate::fronted_function::{put_in_front, Front};

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;

/// Replaces the session's `date_trunc` with the UTC fast path in front of it.
pub fn install(ctx: &SessionContext) {
    put_in_front(ctx, "date_trunc", UtcDateTrunc);
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct UtcDateTrunc;

/// The truncations that are plain arithmetic in UTC.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// To a multiple of this many microseconds.
    Fixed(i64),
    /// To the Monday starting the ISO week.
    Week,
}

fn step(granularity: &str) -> Option<Step> {
    Some(match granularity.to_ascii_lowercase().as_str() {
        "second" => Step::Fixed(SECOND),
        "minute" => Step::Fixed(60 * SECOND),
        "hour" => Step::Fixed(3_600 * SECOND),
        "day" => Step::Fixed(DAY),
        "week" => Step::Week,
        _ => return None,
    })
}

/// `value` truncated; `None` on overflow (left to DataFusion, which reports it).
fn truncate(value: i64, step: Step) -> Option<i64> {
    match step {
        Step::Fixed(unit) => value.checked_sub(value.rem_euclid(unit)),
        Step::Week => {
            let day = value.div_euclid(DAY);
            // 1970-01-01 was a Thursday: day 0 is 3 days after a Monday.
            let monday = day.checked_sub((day + 3).rem_euclid(7))?;
            monday.checked_mul(DAY)
        }
    }
}

fn is_utc(tz: &Option<std::sync::Arc<str>>) -> bool {
    match tz.as_deref() {
        None => true,
        Some(tz) => matches!(tz, "UTC" | "+00:00" | "Z" | "+00" | "Etc/UTC"),
    }
}

/// The result by arithmetic, when the arguments allow it.
fn fast(args: &[ColumnarValue]) -> Option<ColumnarValue> {
    let [ColumnarValue::Scalar(granularity), ColumnarValue::Array(times)] = args else {
        return None;
    };
    let granularity = match granularity {
        ScalarValue::Utf8(Some(g))
        | ScalarValue::Utf8View(Some(g))
        | ScalarValue::LargeUtf8(Some(g)) => g,
        _ => return None,
    };
    let step = step(granularity)?;
    let DataType::Timestamp(TimeUnit::Microsecond, tz) = times.data_type() else {
        return None;
    };
    if !is_utc(tz) {
        return None;
    }
    let times = times.as_primitive::<TimestampMicrosecondType>();
    let truncated = times
        .try_unary::<_, TimestampMicrosecondType, ()>(|v| truncate(v, step).ok_or(()))
        .ok()?
        .with_timezone_opt(tz.clone());
    Some(ColumnarValue::Array(std::sync::Arc::new(truncated)))
}

impl Front for UtcDateTrunc {
    fn before(&self, _inner: &ScalarUDF, args: &[ColumnarValue]) -> Result<Option<ColumnarValue>> {
        Ok(fast(args))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, FieldRef};
    use datafusion::config::ConfigOptions;
    use datafusion::logical_expr::ScalarFunctionArgs;
    use proptest::prelude::*;

    use super::*;
    use crate::fronted_function::Fronted;

    fn call(f: &ScalarUDF, granularity: &str, times: ArrayRef) -> ArrayRef {
        let args = vec![
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(granularity.into()))),
            ColumnarValue::Array(times.clone()),
        ];
        let arg_fields: Vec<FieldRef> = vec![
            Arc::new(Field::new("g", DataType::Utf8, false)),
            Arc::new(Field::new("t", times.data_type().clone(), true)),
        ];
        let return_field = Arc::new(Field::new("r", times.data_type().clone(), true));
        let out = f
            .invoke_with_args(ScalarFunctionArgs {
                args,
                arg_fields,
                number_rows: times.len(),
                return_field,
                config_options: Arc::new(ConfigOptions::default()),
            })
            .unwrap();
        match out {
            ColumnarValue::Array(a) => a,
            ColumnarValue::Scalar(s) => s.to_array_of_size(times.len()).unwrap(),
        }
    }

    fn both(granularity: &str, values: Vec<Option<i64>>, tz: Option<&str>) -> (ArrayRef, ArrayRef) {
        let ctx = SessionContext::new();
        let inner = ctx.state().scalar_functions()["date_trunc"]
            .as_ref()
            .clone();
        let fast = ScalarUDF::new_from_impl(Fronted {
            inner: inner.clone(),
            front: UtcDateTrunc,
        });
        let times: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz));
        (
            call(&fast, granularity, times.clone()),
            call(&inner, granularity, times),
        )
    }

    #[test]
    fn weeks_start_on_monday_in_utc() {
        // 2026-10-07 (a Wednesday) 13:45:10.5 → Monday 2026-10-05 00:00.
        let t = 1_791_380_710_500_000;
        let (fast, _) = both("week", vec![Some(t), None], Some("UTC"));
        let fast = fast.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(fast.value(0), 1_791_158_400_000_000);
        assert!(fast.is_null(1));
        assert_eq!(
            fast.data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }

    #[test]
    fn other_zones_and_granularities_are_datafusions() {
        let t = vec![Some(1_791_380_710_500_000)];
        for (g, tz) in [
            ("month", Some("UTC")),
            ("week", Some("+08:00")),
            ("year", None),
        ] {
            let (fast, inner) = both(g, t.clone(), tz);
            assert_eq!(&fast, &inner, "{g} {tz:?}");
        }
    }

    proptest! {
        #[test]
        fn the_same_as_datafusion(
            values in proptest::collection::vec(
                proptest::option::weighted(0.9, -4_000_000_000_000_000i64..4_000_000_000_000_000),
                1..50,
            ),
            granularity in prop::sample::select(vec!["second", "minute", "hour", "day", "week", "WEEK"]),
            tz in prop::sample::select(vec![None, Some("UTC"), Some("+00:00")]),
        ) {
            let (fast, inner) = both(granularity, values, tz);
            prop_assert_eq!(&fast, &inner);
        }
    }
}
