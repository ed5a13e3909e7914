//! Subscriptions: who receives which alerts, through which channel. The JSON shape is
//! the contract's (`POST /api/v1/subscriptions`): `{ "name", "agency", "filter":
//! { "feeds", "rules", "region_prefix", "min_severity" }, "channel": { "type", … } }`.

use hub_model::alert::{Alert, Severity};
use hub_model::Feed;
use serde::{Deserialize, Serialize};

use crate::signature::WebhookSecret;
use crate::DeliveryError;

/// Which alerts a subscription wants. Empty lists match everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    pub feeds: Vec<Feed>,
    /// Rule names; `kiosk_pass_rate` also matches its `kiosk_pass_rate.early_warning`.
    pub rules: Vec<String>,
    /// A region-code prefix: the agency's jurisdiction (`33`, `3301`, `330102`).
    pub region_prefix: Option<String>,
    pub min_severity: Option<Severity>,
}

impl Filter {
    pub fn matches(&self, alert: &Alert) -> bool {
        let feed_ok = self.feeds.is_empty()
            || self
                .feeds
                .iter()
                .any(|f| alert.feeds.iter().any(|a| a == f.as_str()));
        let rule_ok = self.rules.is_empty()
            || self.rules.iter().any(|r| {
                alert.rule == *r
                    || alert
                        .rule
                        .strip_prefix(r.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            });
        let region_ok = self.region_prefix.as_deref().is_none_or(|p| {
            alert
                .group
                .get("region_code")
                .is_some_and(|code| code.starts_with(p))
        });
        let severity_ok = self.min_severity.is_none_or(|m| alert.severity >= m);
        feed_ok && rule_ok && region_ok && severity_ok
    }

    fn validate(&self) -> Result<(), DeliveryError> {
        if let Some(p) = &self.region_prefix {
            if p.is_empty() || p.len() > 12 || !p.chars().all(|c| c.is_ascii_digit()) {
                return Err(DeliveryError::invalid(
                    "filter.region_prefix",
                    "must be 1 to 12 digits of a GB/T 2260 region code, e.g. \"3301\"",
                ));
            }
        }
        if let Some(r) = self.rules.iter().find(|r| r.trim().is_empty()) {
            return Err(DeliveryError::invalid(
                "filter.rules",
                format!("`{r}` is not a rule name"),
            ));
        }
        Ok(())
    }
}

/// How a subscription receives its notifications.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Channel {
    /// Signed CloudEvents POSTed to `url`.
    Webhook { url: String, secret: String },
    /// An Alertmanager's `/api/v2/alerts` under `url` (its base address).
    Alertmanager { url: String },
    /// The hub's alerts topic (`kafka.topics.alerts`), keyed by alert id.
    Kafka,
    /// SMTP to these addresses, with a Chinese and English body.
    Email { to: Vec<String> },
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Channel::Webhook { url, .. } => f
                .debug_struct("Webhook")
                .field("url", url)
                .field("secret", &"<redacted>")
                .finish(),
            Channel::Alertmanager { url } => {
                f.debug_struct("Alertmanager").field("url", url).finish()
            }
            Channel::Kafka => f.write_str("Kafka"),
            Channel::Email { to } => f.debug_struct("Email").field("to", to).finish(),
        }
    }
}

fn http_url(field: &str, url: &str) -> Result<(), DeliveryError> {
    let shown = redact_url(url);
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| DeliveryError::invalid(field, format!("`{shown}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(DeliveryError::invalid(
            field,
            format!("`{shown}` is not an http:// or https:// URL with a host"),
        ));
    }
    Ok(())
}

/// A URL as logs, errors and the API show it: credentials (`user:pass@`) and the query
/// string (which often carries a token) hidden — `https://…@host/path?…`.
pub fn redact_url(url: &str) -> String {
    let (base, rest) = match url.find(['?', '#']) {
        Some(i) => (&url[..i], "?…"),
        None => (url, ""),
    };
    let base = match base.split_once("://") {
        Some((scheme, after)) => {
            let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://…@{host}{path}"),
                None => base.to_string(),
            }
        }
        None => base.to_string(),
    };
    format!("{base}{rest}")
}

impl Channel {
    fn validate(&self) -> Result<(), DeliveryError> {
        match self {
            Channel::Webhook { url, secret } => {
                http_url("channel.url", url)?;
                WebhookSecret::parse(secret).map(|_| ())
            }
            Channel::Alertmanager { url } => http_url("channel.url", url),
            Channel::Kafka => Ok(()),
            Channel::Email { to } => {
                if to.is_empty() {
                    return Err(DeliveryError::invalid(
                        "channel.to",
                        "name at least one address",
                    ));
                }
                // The check the sender itself makes, so an address accepted here is
                // one it can send to.
                match to
                    .iter()
                    .find(|a| a.parse::<lettre::message::Mailbox>().is_err() || !a.contains('.'))
                {
                    Some(bad) => Err(DeliveryError::invalid(
                        "channel.to",
                        format!("`{bad}` is not an e-mail address"),
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Webhook { .. } => "webhook",
            Channel::Alertmanager { .. } => "alertmanager",
            Channel::Kafka => "kafka",
            Channel::Email { .. } => "email",
        }
    }

    /// The channel as the API shows it: the webhook secret is never echoed back, nor
    /// credentials or query strings in URLs.
    pub fn redacted(&self) -> Channel {
        match self {
            Channel::Webhook { url, .. } => Channel::Webhook {
                url: redact_url(url),
                secret: "whsec_…(hidden)".into(),
            },
            Channel::Alertmanager { url } => Channel::Alertmanager {
                url: redact_url(url),
            },
            other => other.clone(),
        }
    }
}

/// A subscription as written in the config or posted to the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSpec {
    pub name: String,
    /// The agency it belongs to, e.g. `market_supervision`.
    pub agency: String,
    #[serde(default)]
    pub filter: Filter,
    pub channel: Channel,
    /// Hold notifications this long after the first one and send what gathered as one
    /// delivery (like Alertmanager's `group_wait`); absent or `0s`: each at once.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_wait: Option<std::time::Duration>,
}

impl SubscriptionSpec {
    /// Parses and checks a JSON body; the error names the field to fix.
    pub fn from_json(body: &[u8]) -> Result<Self, DeliveryError> {
        let de = &mut serde_json::Deserializer::from_slice(body);
        let spec: SubscriptionSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            // serde quotes the offending value in "invalid type/value" messages; under
            // `channel` that value may be a secret: keep only what was expected.
            let message = match message.split_once(", expected ") {
                Some((head, expected))
                    if path.starts_with("channel")
                        && (head.starts_with("invalid type")
                            || head.starts_with("invalid value")) =>
                {
                    format!("has the wrong type or value (not shown), expected {expected}")
                }
                _ => message,
            };
            DeliveryError::invalid(if path == "." { "body".into() } else { path }, message)
        })?;
        spec.validate()?;
        Ok(spec)
    }

    pub fn validate(&self) -> Result<(), DeliveryError> {
        if self.name.trim().is_empty() {
            return Err(DeliveryError::invalid("name", "must not be empty"));
        }
        if self.agency.trim().is_empty() {
            return Err(DeliveryError::invalid(
                "agency",
                "must not be empty (e.g. market_supervision)",
            ));
        }
        self.filter.validate()?;
        if self
            .group_wait
            .is_some_and(|w| w > std::time::Duration::from_secs(3600))
        {
            return Err(DeliveryError::invalid(
                "group_wait",
                "must be at most 1h (an alert should not wait longer than that)",
            ));
        }
        self.channel.validate()
    }

    pub fn matches(&self, alert: &Alert) -> bool {
        self.filter.matches(alert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn alert(rule: &str, feeds: &[&str], region: &str, severity: Severity) -> Alert {
        let mut a = Alert::sample();
        a.alert_id = format!("{rule}/market_id=M-1");
        a.rule = rule.into();
        a.severity = severity;
        a.feed = feeds[0].into();
        a.feeds = feeds.iter().map(|f| f.to_string()).collect();
        a.group = BTreeMap::from([("region_code".into(), region.into())]);
        a
    }

    fn spec(json: &str) -> Result<SubscriptionSpec, String> {
        SubscriptionSpec::from_json(json.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_contract_shape_parses() {
        let s = spec(&format!(
            r#"{{"name": "Hangzhou market supervision", "agency": "market_supervision",
                "filter": {{"feeds": ["kiosk"], "rules": ["kiosk_pass_rate"], "region_prefix": "3301", "min_severity": "warning"}},
                "channel": {{"type": "webhook", "url": "https://example.org/hook", "secret": "{SECRET}"}}}}"#
        ))
        .unwrap();
        assert_eq!(s.channel.kind(), "webhook");
        assert!(!format!("{s:?}").contains("MfKQ"), "Debug hides the secret");
        let shown = serde_json::to_string(&s.channel.redacted()).unwrap();
        assert!(!shown.contains("MfKQ"), "{shown}");
        assert_eq!(
            redact_url("https://example.org/hook"),
            "https://example.org/hook"
        );
        assert_eq!(
            redact_url("https://user:pw@example.org:8443/hook?token=abc"),
            "https://…@example.org:8443/hook?…"
        );
    }

    #[test]
    fn filters_by_feed_rule_region_prefix_and_severity() {
        let s = spec(&format!(
            r#"{{"name": "n", "agency": "a", "filter": {{"feeds": ["kiosk"], "rules": ["kiosk_pass_rate"], "region_prefix": "3301", "min_severity": "warning"}},
                "channel": {{"type": "webhook", "url": "http://127.0.0.1:9/h", "secret": "{SECRET}"}}}}"#
        ))
        .unwrap();
        assert!(s.matches(&alert(
            "kiosk_pass_rate",
            &["kiosk"],
            "330102",
            Severity::Critical
        )));
        assert!(
            !s.matches(&alert(
                "kiosk_pass_rate",
                &["kiosk"],
                "440105",
                Severity::Critical
            )),
            "outside the jurisdiction"
        );
        assert!(
            !s.matches(&alert(
                "kiosk_region_pass_rate",
                &["kiosk"],
                "3301",
                Severity::Critical
            )),
            "another rule"
        );
        assert!(
            !s.matches(&alert(
                "kiosk_pass_rate",
                &["kiosk"],
                "330102",
                Severity::EarlyWarning
            )),
            "below min severity"
        );
        let s = spec(r#"{"name": "n", "agency": "a", "filter": {"feeds": ["slaughter"], "rules": ["kiosk_pass_rate"]}, "channel": {"type": "kafka"}}"#).unwrap();
        assert!(!s.matches(&alert(
            "kiosk_pass_rate",
            &["kiosk"],
            "3301",
            Severity::Warning
        )));
        let s = spec(r#"{"name": "n", "agency": "a", "filter": {"feeds": ["slaughter"], "rules": ["beta_agonist_positive_rate"]}, "channel": {"type": "kafka"}}"#).unwrap();
        assert!(
            s.matches(&alert(
                "beta_agonist_positive_rate",
                &["kiosk", "slaughter"],
                "33",
                Severity::Warning
            )),
            "any of a rule's feeds"
        );
        let s = spec(r#"{"name": "n", "agency": "a", "filter": {"rules": ["kiosk_pass_rate"]}, "channel": {"type": "kafka"}}"#).unwrap();
        assert!(
            s.matches(&alert(
                "kiosk_pass_rate.early_warning",
                &["kiosk"],
                "3301",
                Severity::EarlyWarning
            )),
            "a rule's early warning"
        );
        assert!(!s.matches(&alert(
            "kiosk_pass_rate_x",
            &["kiosk"],
            "3301",
            Severity::Warning
        )));
        let all = spec(r#"{"name": "n", "agency": "a", "channel": {"type": "kafka"}}"#).unwrap();
        assert!(all.matches(&alert(
            "feed_silence",
            &["slaughter"],
            "51",
            Severity::Warning
        )));
    }

    #[test]
    fn bad_input_names_the_field_and_never_echoes_a_secret() {
        let cases = [
            (
                r#"{"agency": "a", "channel": {"type": "kafka"}}"#,
                "missing field `name`",
            ),
            (
                r#"{"name": "", "agency": "a", "channel": {"type": "kafka"}}"#,
                "name:",
            ),
            (
                r#"{"name": "n", "agency": "a", "filter": {"region_prefix": "33a"}, "channel": {"type": "kafka"}}"#,
                "filter.region_prefix:",
            ),
            (
                r#"{"name": "n", "agency": "a", "filter": {"min_severity": "urgent"}, "channel": {"type": "kafka"}}"#,
                "filter.min_severity",
            ),
            (
                r#"{"name": "n", "agency": "a", "filter": {"feeds": ["bakery"]}, "channel": {"type": "kafka"}}"#,
                "filter.feeds",
            ),
            (
                r#"{"name": "n", "agency": "a", "channel": {"type": "pager"}}"#,
                "channel",
            ),
            (
                r#"{"name": "n", "agency": "a", "channel": {"type": "webhook", "url": "ftp://x", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}"#,
                "channel.url:",
            ),
            (
                r#"{"name": "n", "agency": "a", "channel": {"type": "email", "to": ["nobody"]}}"#,
                "channel.to:",
            ),
            (
                r#"{"name": "n", "agency": "a", "channel": {"type": "alertmanager"}}"#,
                "missing field `url`",
            ),
            (
                r#"{"name": "n", "agency": "a", "colour": "red", "channel": {"type": "kafka"}}"#,
                "colour",
            ),
        ];
        for (json, want) in cases {
            let e = spec(json).unwrap_err();
            assert!(e.contains(want), "{json}: {e}");
        }
        let e = spec(r#"{"name": "n", "agency": "a", "channel": {"type": "webhook", "url": "http://h/x", "secret": "whsec_tooSHORTsecretvalue"}}"#).unwrap_err();
        assert!(
            e.starts_with("channel.secret:") && !e.contains("tooSHORT"),
            "{e}"
        );
        let e = spec(r#"{"name": "n", "agency": "a", "channel": {"type": "webhook", "url": "https://u:pw@h:99999/x?token=abc", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}"#).unwrap_err();
        assert!(
            e.starts_with("channel.url:") && !e.contains("pw") && !e.contains("abc"),
            "{e}"
        );
        let e = spec(
            r#"{"name": "n", "agency": "a", "channel": {"type": "email", "to": ["a b@x.org"]}}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("channel.to:"), "{e}");
        let e = spec(r#"{"name": "n", "agency": "a", "channel": {"type": "webhook", "url": "http://h/x", "secret": 12345678}}"#).unwrap_err();
        assert!(e.starts_with("channel") && !e.contains("12345678"), "{e}");
    }
}
