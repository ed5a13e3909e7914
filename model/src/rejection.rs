//! Why a message was refused. Every refused message goes to the dead-letter topic with
//! its [`Rejection`]; the class is a bounded metric label, the reason a sentence for people.

use serde::{Deserialize, Serialize};

/// The class of a rejection: a small fixed set, used as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonClass {
    /// 0 bytes.
    Empty,
    /// Over `ingest.max_message_bytes`.
    TooLarge,
    /// Not UTF-8, not parseable JSON, truncated, trailing garbage.
    NotJson,
    /// Valid JSON, but not an object.
    NotObject,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong type, an unknown enum value, breaks a pattern or a bound.
    BadValue,
    /// Fields are each fine but break a rule between them.
    Invariant,
    /// A timestamp more than the allowed skew ahead of the hub's clock.
    FutureTimestamp,
}

impl ReasonClass {
    pub const ALL: [ReasonClass; 8] = [
        ReasonClass::Empty,
        ReasonClass::TooLarge,
        ReasonClass::NotJson,
        ReasonClass::NotObject,
        ReasonClass::MissingField,
        ReasonClass::BadValue,
        ReasonClass::Invariant,
        ReasonClass::FutureTimestamp,
    ];

    /// The metric label and the `reason_class` column value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonClass::Empty => "empty",
            ReasonClass::TooLarge => "too_large",
            ReasonClass::NotJson => "not_json",
            ReasonClass::NotObject => "not_object",
            ReasonClass::MissingField => "missing_field",
            ReasonClass::BadValue => "bad_value",
            ReasonClass::Invariant => "invariant",
            ReasonClass::FutureTimestamp => "future_timestamp",
        }
    }

    /// How the class reads at the start of a reason sentence.
    pub fn phrase(self) -> &'static str {
        match self {
            ReasonClass::Empty => "empty",
            ReasonClass::TooLarge => "too large",
            ReasonClass::NotJson => "not JSON",
            ReasonClass::NotObject => "not an object",
            ReasonClass::MissingField => "missing field",
            ReasonClass::BadValue => "bad value",
            ReasonClass::Invariant => "invariant",
            ReasonClass::FutureTimestamp => "future timestamp",
        }
    }
}

/// A refused message: the class, the field it concerns (if one), and the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub class: ReasonClass,
    /// Dotted path of the field (`sample.category`) or the invariant's name.
    pub subject: Option<String>,
    pub detail: String,
}

impl Rejection {
    pub fn new(class: ReasonClass, subject: Option<&str>, detail: impl Into<String>) -> Self {
        Rejection {
            class,
            subject: subject.map(str::to_string),
            detail: detail.into(),
        }
    }

    pub fn bad_value(field: &str, detail: impl Into<String>) -> Self {
        Self::new(ReasonClass::BadValue, Some(field), detail)
    }

    pub fn invariant(rule: &str, detail: impl Into<String>) -> Self {
        Self::new(ReasonClass::Invariant, Some(rule), detail)
    }

    /// The reason sentence, e.g. `bad value: result (unknown variant "maybe", expected …)`.
    /// It always starts with the class phrase and, where there is one, the subject.
    pub fn reason(&self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.class.phrase())?;
        if let Some(s) = &self.subject {
            write!(f, ": {s}")?;
        }
        if !self.detail.is_empty() {
            if self.subject.is_some() {
                write!(f, " ({})", self.detail)?;
            } else {
                write!(f, ": {}", self.detail)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_starts_with_class_and_subject() {
        let r = Rejection::bad_value("result", "unknown variant `maybe`");
        assert_eq!(r.reason(), "bad value: result (unknown variant `maybe`)");
        let r = Rejection::new(ReasonClass::NotJson, None, "EOF while parsing");
        assert_eq!(r.reason(), "not JSON: EOF while parsing");
    }
}
