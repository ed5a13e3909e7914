//! Which days' archive files a query can need: the range of days its pushed-down filters
//! allow on the table's day column (the column whose UTC date is each file's `date=`
//! partition). Only forms whose meaning is certain narrow the range — comparisons and
//! `BETWEEN` of the column (bare, cast to a µs/ns timestamp, or cast to a date) with a
//! constant, combined with AND / OR; anything else allows every day. A file outside the
//! range cannot hold a matching row, so skipping it never changes a result.

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Cast, Expr, Operator, TryCast};

const NANOS_PER_DAY: i128 = 86_400_000_000_000;

/// Days (since 1970-01-01, UTC), both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub first: i64,
    pub last: i64,
}

impl DayRange {
    pub const ALL: DayRange = DayRange {
        first: i64::MIN,
        last: i64::MAX,
    };

    pub fn contains(&self, day: i32) -> bool {
        (self.first..=self.last).contains(&i64::from(day))
    }

    pub fn is_all(&self) -> bool {
        *self == DayRange::ALL
    }

    fn at_least(first: i64) -> Self {
        DayRange {
            first,
            ..DayRange::ALL
        }
    }

    fn at_most(last: i64) -> Self {
        DayRange {
            last,
            ..DayRange::ALL
        }
    }

    fn and(self, other: DayRange) -> Self {
        DayRange {
            first: self.first.max(other.first),
            last: self.last.min(other.last),
        }
    }

    /// The smallest range holding both (an OR).
    fn or(self, other: DayRange) -> Self {
        if self.first > self.last {
            return other;
        }
        if other.first > other.last {
            return self;
        }
        DayRange {
            first: self.first.min(other.first),
            last: self.last.max(other.last),
        }
    }
}

/// The days `filters` (all of which hold for a returned row) allow on `column` of type
/// `column_type` (a µs timestamp in UTC, or nothing narrows).
pub fn day_range(filters: &[Expr], column: &str, column_type: &DataType) -> DayRange {
    filters.iter().fold(DayRange::ALL, |range, f| {
        range.and(expr_range(f, column, column_type))
    })
}

fn expr_range(e: &Expr, column: &str, column_type: &DataType) -> DayRange {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => {
                expr_range(left, column, column_type).and(expr_range(right, column, column_type))
            }
            Operator::Or => {
                expr_range(left, column, column_type).or(expr_range(right, column, column_type))
            }
            _ => comparison(left, *op, right, column, column_type).unwrap_or(DayRange::ALL),
        },
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let low = comparison(expr, Operator::GtEq, low, column, column_type);
            let high = comparison(expr, Operator::LtEq, high, column, column_type);
            low.unwrap_or(DayRange::ALL)
                .and(high.unwrap_or(DayRange::ALL))
        }
        _ => DayRange::ALL,
    }
}

/// How the column appears in a comparison.
enum Side {
    /// Its instant (the column itself or a cast to a µs / ns timestamp: exact).
    Instant,
    /// Its UTC date (a cast to `DATE`).
    Date,
}

fn column_side(e: &Expr, column: &str, column_type: &DataType) -> Option<Side> {
    let utc = matches!(
        column_type,
        DataType::Timestamp(TimeUnit::Microsecond, None)
    ) || matches!(
        column_type,
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if is_utc(tz)
    );
    if !utc {
        return None;
    }
    let (inner, to) = match e {
        Expr::Column(c) => return (c.name == column).then_some(Side::Instant),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            (expr.as_ref(), field.data_type())
        }
        _ => return None,
    };
    let Expr::Column(c) = inner else {
        return None;
    };
    if c.name != column {
        return None;
    }
    match to {
        DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Nanosecond, _) => Some(Side::Instant),
        DataType::Date32 => Some(Side::Date),
        _ => None,
    }
}

fn is_utc(tz: &str) -> bool {
    matches!(tz, "UTC" | "utc" | "Z" | "+00:00" | "Etc/UTC")
}

/// A constant: a literal, possibly under casts (evaluated as the query would).
fn constant(e: &Expr) -> Option<ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v.clone()),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            constant(expr)?.cast_to(field.data_type()).ok()
        }
        _ => None,
    }
}

/// An instant in nanoseconds since the epoch (UTC whatever the time zone label).
fn instant_nanos(v: &ScalarValue) -> Option<i128> {
    let (v, per_unit) = match v {
        ScalarValue::TimestampSecond(Some(v), _) => (*v, 1_000_000_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => (*v, 1_000_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => (*v, 1_000),
        ScalarValue::TimestampNanosecond(Some(v), _) => (*v, 1),
        _ => return None,
    };
    Some(i128::from(v) * per_unit)
}

fn flip(op: Operator) -> Option<Operator> {
    Some(match op {
        Operator::Eq => Operator::Eq,
        Operator::Lt => Operator::Gt,
        Operator::LtEq => Operator::GtEq,
        Operator::Gt => Operator::Lt,
        Operator::GtEq => Operator::LtEq,
        _ => return None,
    })
}

fn floor_day(nanos: i128) -> i64 {
    i64::try_from(nanos.div_euclid(NANOS_PER_DAY)).unwrap_or(if nanos < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// `left op right` where one side is the column and the other a constant.
fn comparison(
    left: &Expr,
    op: Operator,
    right: &Expr,
    column: &str,
    column_type: &DataType,
) -> Option<DayRange> {
    let (side, op, value) = match (column_side(left, column, column_type), constant(right)) {
        (Some(side), Some(value)) => (side, op, value),
        _ => (
            column_side(right, column, column_type)?,
            flip(op)?,
            constant(left)?,
        ),
    };
    match side {
        Side::Instant => {
            // A row's day is floor(t / day); t ≥ x ⇒ day ≥ floor(x / day), and so on.
            let x = instant_nanos(&value)?;
            Some(match op {
                Operator::Eq => DayRange {
                    first: floor_day(x),
                    last: floor_day(x),
                },
                Operator::GtEq => DayRange::at_least(floor_day(x)),
                Operator::Gt => DayRange::at_least(floor_day(x + 1)),
                Operator::LtEq => DayRange::at_most(floor_day(x)),
                Operator::Lt => DayRange::at_most(floor_day(x - 1)),
                _ => return None,
            })
        }
        Side::Date => {
            let ScalarValue::Date32(Some(d)) = value else {
                return None;
            };
            let d = i64::from(d);
            Some(match op {
                Operator::Eq => DayRange { first: d, last: d },
                Operator::GtEq => DayRange::at_least(d),
                Operator::Gt => DayRange::at_least(d + 1),
                Operator::LtEq => DayRange::at_most(d),
                Operator::Lt => DayRange::at_most(d - 1),
                _ => return None,
            })
        }
    }
}
