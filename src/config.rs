//! The hub's one configuration struct: built-in defaults < TOML file < `HUB__…`
//! environment variables (e.g. `HUB__KAFKA__BROKERS=10.0.0.5:9092`). Unknown keys are
//! errors. Every section belongs to the crate that uses it; see README "Configuration".

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{bail, Context, Result};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use hub_api::{AuthConfig, HttpConfig};
use hub_delivery::subscription::SubscriptionSpec;
use hub_delivery::DeliveryConfig;
use hub_ingest::{IngestConfig, KafkaConfig, StorageConfig};
use hub_processors::rules::config::{default_rules, EvaluationConfig, RuleSpec};
use hub_processors::rules::rule::CompiledRule;
use hub_sql::SqlConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    pub kafka: KafkaConfig,
    pub ingest: IngestConfig,
    pub storage: StorageConfig,
    pub http: HttpConfig,
    pub sql: SqlConfig,
    pub auth: AuthConfig,
    /// How event time advances for the rules.
    pub evaluation: EvaluationConfig,
    /// `[rules.<name>]`: the built-in rules, changed, extended or turned off by the file.
    pub rules: BTreeMap<String, RuleSpec>,
    /// Retries, timeouts, SMTP and the CloudEvents source of alert delivery.
    pub delivery: DeliveryConfig,
    /// `[[subscriptions]]`: agencies' subscriptions from the file (ids `cfg-<name>`),
    /// in addition to those made through the API.
    pub subscriptions: Vec<SubscriptionSpec>,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            kafka: KafkaConfig::default(),
            ingest: IngestConfig::default(),
            storage: StorageConfig::default(),
            http: HttpConfig::default(),
            sql: SqlConfig::default(),
            auth: AuthConfig::default(),
            evaluation: EvaluationConfig::default(),
            rules: default_rules(),
            delivery: DeliveryConfig::default(),
            subscriptions: Vec::new(),
        }
    }
}

impl HubConfig {
    /// Loads and validates the configuration.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(HubConfig::default()));
        if let Some(path) = file {
            if !path.is_file() {
                bail!("config file {} not found", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("HUB__").split("__"));
        let config: HubConfig = figment.extract().map_err(|e| {
            let mut msg = String::from("invalid configuration:");
            for err in e {
                let key = err.path.join(".");
                if key.starts_with("auth")
                    || key.starts_with("kafka.client")
                    || key.starts_with("subscriptions")
                    || key.starts_with("delivery.smtp")
                {
                    // The value may be a secret: name the key only.
                    msg.push_str(&format!(
                        "\n  - `{key}` has the wrong type or format (value not shown)"
                    ));
                } else {
                    msg.push_str(&format!("\n  - {err}"));
                }
            }
            anyhow::anyhow!(msg)
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The enabled rules, checked and compiled (a bad rule names its field).
    pub fn compile_rules(&self) -> Result<Vec<CompiledRule>> {
        Ok(CompiledRule::compile_all(&self.rules)?)
    }

    pub fn validate(&self) -> Result<()> {
        self.kafka.validate()?;
        self.ingest.validate()?;
        self.storage.validate()?;
        self.sql.validate()?;
        self.auth.validate()?;
        self.evaluation.validate()?;
        self.compile_rules()?;
        self.delivery.validate()?;
        for (i, s) in self.subscriptions.iter().enumerate() {
            s.validate()
                .map_err(|e| anyhow::anyhow!("subscriptions[{i}].{e}"))?;
        }
        let http: SocketAddr = self.http.addr()?;
        self.sql
            .pg_listen
            .parse::<SocketAddr>()
            .with_context(|| format!("sql.pg_listen: `{}` is not host:port", self.sql.pg_listen))?;
        let compaction = &self.storage.compaction;
        if compaction.enabled && compaction.grace <= self.sql.query_timeout {
            bail!(
                "storage.compaction.grace ({:?}) must be longer than sql.query_timeout ({:?}): \
                 a query may read the files a compaction replaced until it times out",
                compaction.grace,
                self.sql.query_timeout
            );
        }
        if self.auth.is_open() && !http.ip().is_loopback() {
            bail!(
                "http.listen is {http}, not a loopback address, and auth.tokens is empty: \
                 set auth.tokens (HUB__AUTH__TOKENS='[\"<token>\"]') or listen on 127.0.0.1"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
// figment's Jail API returns its large error type from the closures.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    fn with_env<T>(vars: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
        // figment's Jail isolates the environment and the working directory.
        let mut out = None;
        figment::Jail::expect_with(|jail| {
            for (k, v) in vars {
                jail.set_env(k, v);
            }
            out = Some(f());
            Ok(())
        });
        out.expect("the jail ran the closure")
    }

    #[test]
    fn defaults_are_the_contracts() {
        let c = with_env(&[], || HubConfig::load(None)).unwrap();
        assert_eq!(c.kafka.brokers, "127.0.0.1:9092");
        assert_eq!(c.kafka.group_id, "safety-hub");
        assert_eq!(c.http.listen, "127.0.0.1:8080");
        assert_eq!(c.sql.pg_listen, "127.0.0.1:5433");
        assert_eq!(c.storage.data_dir, std::path::PathBuf::from("./data"));
        assert!(c.auth.tokens.is_empty());
    }

    /// The example production file (deploy/kubernetes/hub.production.toml, the
    /// ConfigMap's) loads with a token from the environment, and without one is refused
    /// for its public listen address.
    #[test]
    fn the_example_production_config_loads() {
        let text = include_str!("../deploy/kubernetes/hub.production.toml");
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.toml", text)?;
            let err = HubConfig::load(Some(Path::new("hub.toml"))).unwrap_err();
            assert!(err.to_string().contains("auth.tokens"), "{err}");
            jail.set_env("HUB__AUTH__TOKENS", "[\"a-production-token-0123456789\"]");
            let c = HubConfig::load(Some(Path::new("hub.toml"))).unwrap();
            assert_eq!(c.kafka.brokers, "kafka:9092");
            assert_eq!(c.sql.pg_listen, "0.0.0.0:5433");
            assert_eq!(c.auth.tokens.len(), 1);
            c.compile_rules().unwrap();
            Ok(())
        });
    }

    #[test]
    fn env_overrides_file_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "hub.toml",
                "[kafka]\nbrokers = \"file:9092\"\ngroup_id = \"from-file\"\n",
            )?;
            jail.set_env("HUB__KAFKA__BROKERS", "env:9092");
            let c = HubConfig::load(Some(Path::new("hub.toml"))).unwrap();
            assert_eq!(c.kafka.brokers, "env:9092");
            assert_eq!(c.kafka.group_id, "from-file");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.toml", "[kafka]\nbrokerz = \"x\"\n")?;
            let err = HubConfig::load(Some(Path::new("hub.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("brokerz"), "{err}");
            Ok(())
        });
        let err =
            with_env(&[("HUB__STORAGE__DATADIR", "/x")], || HubConfig::load(None)).unwrap_err();
        assert!(err.to_string().contains("datadir"), "{err}");
    }

    #[test]
    fn compaction_grace_must_outlast_queries() {
        let err = with_env(
            &[
                ("HUB__STORAGE__COMPACTION__GRACE", "30s"),
                ("HUB__SQL__QUERY_TIMEOUT", "30s"),
            ],
            || HubConfig::load(None),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("storage.compaction.grace") && err.contains("sql.query_timeout"),
            "{err}"
        );
        let c = with_env(&[("HUB__STORAGE__COMPACTION__MIN_FILES", "8")], || {
            HubConfig::load(None)
        })
        .unwrap();
        assert_eq!(c.storage.compaction.min_files, 8);
        let err = with_env(&[("HUB__STORAGE__COMPACTION__MIN_FILES", "1")], || {
            HubConfig::load(None)
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("storage.compaction.min_files"),
            "{err}"
        );
    }

    #[test]
    fn open_api_on_a_public_address_is_refused() {
        let err = with_env(&[("HUB__HTTP__LISTEN", "0.0.0.0:8080")], || {
            HubConfig::load(None)
        })
        .unwrap_err();
        assert!(err.to_string().contains("auth.tokens"), "{err}");
        let ok = with_env(
            &[
                ("HUB__HTTP__LISTEN", "0.0.0.0:8080"),
                ("HUB__AUTH__TOKENS", "[\"0123456789abcdef\"]"),
            ],
            || HubConfig::load(None),
        );
        assert!(ok.is_ok(), "{:?}", ok.err());
    }

    #[test]
    fn rules_change_add_and_turn_off_in_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "hub.toml",
                r#"
[rules.kiosk_pass_rate]
warning = 0.97

[rules.feed_silence]
enabled = false

[rules.formaldehyde_pass_rate]
metric = "pass_rate"
window = "7d"
warning = 0.98
critical = 0.9
min_samples = 10
[[rules.formaldehyde_pass_rate.source]]
feed = "kiosk"
group_by = ["market_id"]
filter = "test_item = 'formaldehyde'"
numerator = "result = 'pass'"
denominator = "result <> 'invalid'"
"#,
            )?;
            let c = HubConfig::load(Some(Path::new("hub.toml"))).unwrap();
            assert_eq!(c.rules["kiosk_pass_rate"].warning, Some(0.97));
            // The rest of the built-in rule stays.
            assert_eq!(c.rules["kiosk_pass_rate"].critical, Some(0.85));
            assert_eq!(c.rules["kiosk_pass_rate"].source.len(), 1);
            let names: Vec<String> = c
                .compile_rules()
                .unwrap()
                .into_iter()
                .map(|r| r.name)
                .collect();
            assert!(names.contains(&"formaldehyde_pass_rate".to_string()));
            assert!(!names.contains(&"feed_silence".to_string()));
            Ok(())
        });
    }

    #[test]
    fn a_bad_rule_is_refused_naming_the_field() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.toml", "[rules.kiosk_pass_rate]\ncritical = 0.99\n")?;
            let err = HubConfig::load(Some(Path::new("hub.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("rules.kiosk_pass_rate.critical"), "{err}");
            jail.create_file("hub.toml", "[rules.kiosk_pass_rate]\nwindw = \"24h\"\n")?;
            let err = HubConfig::load(Some(Path::new("hub.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("windw") && err.contains("rules.kiosk_pass_rate"),
                "{err}"
            );
            Ok(())
        });
        let err = with_env(
            &[("HUB__RULES__QUARANTINE_PASS_RATE__WINDOW", "7 fortnights")],
            || HubConfig::load(None),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .to_lowercase()
                .contains("quarantine_pass_rate.window"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = HubConfig::load(Some(Path::new("/nonexistent/hub.toml"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/hub.toml"));
    }
}
