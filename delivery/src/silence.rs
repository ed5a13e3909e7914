//! Silences: matchers over an alert's labels and an end time. A silenced
//! notification is not sent but still recorded (`deliveries` outcome `silenced`, and
//! the transition stays in the `alerts` table).
//!
//! Labels: `rule`, `alert_id`, `severity`, `agency`, `feed`, and every group key
//! (`market_id`, `plant_id`, `enterprise_id`, `region_code`, …). Matchers work as in
//! Alertmanager: `{"name", "value", "is_regex": false, "is_equal": true}`; a regex
//! must match the whole value.

use hub_model::alert::Alert;
use hub_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::DeliveryError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

/// A silence as posted to `POST /api/v1/silences`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceSpec {
    pub matchers: Vec<Matcher>,
    /// Defaults to now.
    #[serde(default)]
    pub starts_at: Option<Timestamp>,
    pub ends_at: Timestamp,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
}

fn label<'a>(alert: &'a Alert, name: &str) -> Option<&'a str> {
    match name {
        "rule" | "alertname" => Some(&alert.rule),
        "alert_id" => Some(&alert.alert_id),
        "severity" => Some(alert.severity.as_str()),
        "agency" => Some(&alert.agency),
        "feed" => Some(&alert.feed),
        other => alert.group.get(other).map(String::as_str),
    }
}

/// A silence ready to match: its regexes compiled.
#[derive(Debug, Clone)]
pub struct Silence {
    pub id: String,
    pub spec: SilenceSpec,
    regexes: Vec<Option<regex::Regex>>,
}

impl Silence {
    pub fn new(id: String, spec: SilenceSpec) -> Result<Self, DeliveryError> {
        let regexes = spec
            .matchers
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.is_regex
                    .then(|| {
                        regex::Regex::new(&format!("^(?:{})$", m.value)).map_err(|e| {
                            DeliveryError::invalid(
                                format!("matchers[{i}].value"),
                                format!("is not a regular expression: {e}"),
                            )
                        })
                    })
                    .transpose()
            })
            .collect::<Result<_, _>>()?;
        Ok(Silence { id, spec, regexes })
    }

    /// Parses and checks a JSON body; the error names the field to fix.
    pub fn from_json(id: String, body: &[u8], now: Timestamp) -> Result<Self, DeliveryError> {
        let de = &mut serde_json::Deserializer::from_slice(body);
        let mut spec: SilenceSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            DeliveryError::invalid(
                if path == "." { "body".into() } else { path },
                e.inner().to_string(),
            )
        })?;
        if spec.matchers.is_empty() {
            return Err(DeliveryError::invalid(
                "matchers",
                "name at least one matcher (a silence of everything is a mistake)",
            ));
        }
        if let Some(i) = spec.matchers.iter().position(|m| m.name.trim().is_empty()) {
            return Err(DeliveryError::invalid(
                format!("matchers[{i}].name"),
                "must name a label (rule, severity, agency, region_code, market_id, …)",
            ));
        }
        let starts = *spec.starts_at.get_or_insert(now);
        if spec.ends_at <= starts || spec.ends_at <= now {
            return Err(DeliveryError::invalid(
                "ends_at",
                "must be after starts_at (and after now)",
            ));
        }
        Silence::new(id, spec)
    }

    pub fn active(&self, now: Timestamp) -> bool {
        self.spec.starts_at.is_none_or(|s| s <= now) && now < self.spec.ends_at
    }

    pub fn matches(&self, alert: &Alert) -> bool {
        self.spec.matchers.iter().zip(&self.regexes).all(|(m, re)| {
            let value = label(alert, &m.name).unwrap_or("");
            let hit = match re {
                Some(re) => re.is_match(value),
                None => value == m.value,
            };
            hit == m.is_equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(json: &str) -> Result<Silence, String> {
        Silence::from_json("sil-1".into(), json.as_bytes(), Timestamp(1_000))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn matchers_equal_regex_and_negated() {
        let a = Alert::sample(); // kiosk_pass_rate, market M-330102-003, region 330102
        let s = silence(r#"{"matchers": [{"name": "rule", "value": "kiosk_pass_rate"}, {"name": "region_code", "value": "3301.*", "is_regex": true}], "ends_at": "2099-01-01T00:00:00Z"}"#).unwrap();
        assert!(s.matches(&a));
        assert!(s.active(Timestamp(1_000)));
        assert!(!s.active(Timestamp(i64::MAX)));
        let s = silence(r#"{"matchers": [{"name": "region_code", "value": "33", "is_regex": true}], "ends_at": "2099-01-01T00:00:00Z"}"#).unwrap();
        assert!(!s.matches(&a), "a regex matches the whole value");
        let s = silence(r#"{"matchers": [{"name": "severity", "value": "critical", "is_equal": false}], "ends_at": "2099-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(s.matches(&a), a.severity.as_str() != "critical");
        let s = silence(r#"{"matchers": [{"name": "plant_id", "value": "P-1"}], "ends_at": "2099-01-01T00:00:00Z"}"#).unwrap();
        assert!(!s.matches(&a), "a label the alert lacks is empty");
    }

    #[test]
    fn bad_silences_name_the_field() {
        for (json, want) in [
            (
                r#"{"matchers": [], "ends_at": "2099-01-01T00:00:00Z"}"#,
                "matchers:",
            ),
            (
                r#"{"matchers": [{"name": "", "value": "x"}], "ends_at": "2099-01-01T00:00:00Z"}"#,
                "matchers[0].name:",
            ),
            (
                r#"{"matchers": [{"name": "rule", "value": "(", "is_regex": true}], "ends_at": "2099-01-01T00:00:00Z"}"#,
                "matchers[0].value:",
            ),
            (
                r#"{"matchers": [{"name": "rule", "value": "x"}], "ends_at": "1970-01-01T00:00:00Z"}"#,
                "ends_at:",
            ),
            (
                r#"{"matchers": [{"name": "rule", "value": "x"}]}"#,
                "missing field `ends_at`",
            ),
            (
                r#"{"matchers": [{"name": "rule", "value": "x", "op": "="}], "ends_at": "2099-01-01T00:00:00Z"}"#,
                "op",
            ),
        ] {
            let e = silence(json).unwrap_err();
            assert!(e.contains(want), "{json}: {e}");
        }
    }
}
