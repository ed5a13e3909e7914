//! Field checks the JSON Schemas state beyond types: lengths, patterns, bounds, clock skew.

use crate::rejection::{ReasonClass, Rejection};
use crate::time::{truncate, Timestamp, MICROS_PER_SECOND};

/// What a check needs to know about the moment of validation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckContext {
    pub now: Timestamp,
    pub max_future_micros: i64,
}

/// `minLength`/`maxLength` in characters, as JSON Schema counts them.
pub(crate) fn length(field: &str, s: &str, min: usize, max: usize) -> Result<(), Rejection> {
    if s.is_empty() && min > 0 {
        return Err(Rejection::bad_value(field, "must not be empty"));
    }
    // A string has at least as many bytes as characters: count only when the bytes exceed.
    if s.len() > max {
        let chars = s.chars().count();
        if chars > max {
            return Err(Rejection::bad_value(
                field,
                format!("{chars} characters, at most {max} allowed"),
            ));
        }
    }
    Ok(())
}

/// GB/T 2260 region code: 6 digits (county) or 9 digits (township).
pub(crate) fn region_code(field: &str, s: &str) -> Result<(), Rejection> {
    if (s.len() == 6 || s.len() == 9) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Rejection::bad_value(
            field,
            format!(
                "`{}` is not a 6- or 9-digit GB/T 2260 region code",
                truncate(s, 20)
            ),
        ))
    }
}

pub(crate) fn digits(field: &str, s: &str, min: usize, max: usize) -> Result<(), Rejection> {
    if (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Rejection::bad_value(
            field,
            format!("`{}` must be {min} to {max} digits", truncate(s, 20)),
        ))
    }
}

pub(crate) fn non_negative(field: &str, v: f64) -> Result<(), Rejection> {
    if v >= 0.0 {
        Ok(())
    } else {
        Err(Rejection::bad_value(field, format!("{v} is negative")))
    }
}

pub(crate) fn not_in_future(
    field: &str,
    t: Timestamp,
    ctx: &CheckContext,
) -> Result<(), Rejection> {
    let ahead = t.0 - ctx.now.0;
    if ahead > ctx.max_future_micros {
        Err(Rejection::new(
            ReasonClass::FutureTimestamp,
            Some(field),
            format!(
                "{t} is {} s ahead of the hub clock; at most {} s allowed",
                ahead / MICROS_PER_SECOND,
                ctx.max_future_micros / MICROS_PER_SECOND
            ),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_characters_not_bytes() {
        // 4 CJK characters are 12 bytes.
        assert!(length("sample.name", "新鲜菠菜", 1, 4).is_ok());
        assert!(length("sample.name", "新鲜菠菜", 1, 3).is_err());
        assert!(length("event_id", "", 1, 128).is_err());
        assert!(length("vendor_id", "", 0, 64).is_ok());
        assert!(length("event_id", &"x".repeat(129), 1, 128).is_err());
    }

    #[test]
    fn region_codes() {
        assert!(region_code("r", "330102").is_ok());
        assert!(region_code("r", "330105001").is_ok());
        assert!(region_code("r", "33A102").is_err());
        assert!(region_code("r", "3301020").is_err());
    }
}
