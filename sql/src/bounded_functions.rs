//! Functions whose output size is set by an argument (`repeat('x', 2000000000)`,
//! `lpad(s, 1e9)`, `array_repeat`) allocate outside DataFusion's memory pool, so the
//! per-query memory limit cannot stop them. Each session replaces them with a wrapper
//! that refuses a value larger than [`MAX_VALUE_BYTES`] before computing it.

use arrow::array::{Array, AsArray};
use arrow::compute::kernels::aggregate::max;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF};
use datafusion::prelude::SessionContext;

use crate::fronted_function::{put_in_front, Front};

/// The largest single value these functions may produce.
pub const MAX_VALUE_BYTES: i64 = 16 << 20;

/// How a function's output size follows from its arguments.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum Size {
    /// `repeat(text, n)`: `n` × the text's length.
    Repeat,
    /// `lpad(text, n, …)`: `n` characters (up to 4 bytes each).
    Pad,
    /// `array_repeat(element, n)`: `n` elements (counted as 8 bytes each, at least).
    Elements,
}

const BOUNDED: &[(&str, Size)] = &[
    ("repeat", Size::Repeat),
    ("lpad", Size::Pad),
    ("rpad", Size::Pad),
    ("array_repeat", Size::Elements),
];

/// Replaces the session's size-setting functions with bounded ones.
pub fn install(ctx: &SessionContext) {
    for (name, size) in BOUNDED {
        put_in_front(ctx, name, *size);
    }
}

/// The largest integer in an argument (a count), if any.
fn largest_count(v: &ColumnarValue) -> Option<i64> {
    match v {
        ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Int64).ok()? {
            ScalarValue::Int64(n) => n,
            _ => None,
        },
        ColumnarValue::Array(a) => {
            let a = arrow::compute::cast(a, &DataType::Int64).ok()?;
            max(a.as_primitive::<Int64Type>())
        }
    }
}

/// The longest text in an argument, in bytes.
fn longest_text(v: &ColumnarValue) -> i64 {
    let len = match v {
        ColumnarValue::Scalar(s) => match s {
            ScalarValue::Utf8(Some(t))
            | ScalarValue::LargeUtf8(Some(t))
            | ScalarValue::Utf8View(Some(t)) => t.len(),
            _ => 0,
        },
        ColumnarValue::Array(a) => match arrow::compute::cast(a, &DataType::LargeUtf8) {
            Ok(a) => {
                let a = a.as_string::<i64>();
                (0..a.len())
                    .filter(|i| a.is_valid(*i))
                    .map(|i| a.value(i).len())
                    .max()
                    .unwrap_or(0)
            }
            Err(_) => 0,
        },
    };
    i64::try_from(len).unwrap_or(i64::MAX)
}

impl Front for Size {
    /// Refuses a call whose value would be too large, before it is built.
    fn before(&self, inner: &ScalarUDF, args: &[ColumnarValue]) -> Result<Option<ColumnarValue>> {
        let Some(count) = args.get(1).and_then(largest_count) else {
            return Ok(None);
        };
        let bytes = match self {
            Size::Repeat => count.saturating_mul(longest_text(&args[0]).max(1)),
            Size::Pad => count.saturating_mul(4),
            Size::Elements => count.saturating_mul(8),
        };
        if bytes > MAX_VALUE_BYTES {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{}(…, {count}) would build a value of about {bytes} bytes; one value may \
                 hold at most {MAX_VALUE_BYTES} bytes",
                inner.name()
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(ctx: &SessionContext, sql: &str) -> Result<usize> {
        let batches = ctx.sql(sql).await?.collect().await?;
        Ok(batches.iter().map(|b| b.num_rows()).sum())
    }

    #[tokio::test]
    async fn huge_values_are_refused_small_ones_computed() {
        let ctx = SessionContext::new();
        install(&ctx);
        assert_eq!(run(&ctx, "SELECT repeat('ab', 1000)").await.unwrap(), 1);
        assert_eq!(run(&ctx, "SELECT lpad('x', 20, '-')").await.unwrap(), 1);
        for sql in [
            "SELECT repeat('x', 2000000000)",
            "SELECT repeat(s, n) FROM (VALUES ('abc', 1), ('abcdef', 9000000)) AS t(s, n)",
            "SELECT lpad('x', 1000000000)",
            "SELECT rpad('x', 1000000000, 'y')",
            "SELECT array_repeat(1, 1000000000)",
        ] {
            let err = run(&ctx, sql).await.unwrap_err().to_string();
            assert!(err.contains("at most"), "{sql}: {err}");
        }
    }
}
