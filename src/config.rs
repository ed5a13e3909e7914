//! The hub's one configuration struct: built-in defaults < TOML file < `HUB__…`
//! environment variables (e.g. `HUB__KAFKA__BROKERS=10.0.0.5:9092`). Unknown keys are
//! errors. Every section belongs to the crate that uses it; see README "Configuration".

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{bail, Context, Result};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use hub_api::{AuthConfig, HttpConfig};
use hub_ingest::{IngestConfig, KafkaConfig, StorageConfig};
use hub_sql::SqlConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    pub kafka: KafkaConfig,
    pub ingest: IngestConfig,
    pub storage: StorageConfig,
    pub http: HttpConfig,
    pub sql: SqlConfig,
    pub auth: AuthConfig,
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
                if key.starts_with("auth") || key.starts_with("kafka.client") {
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

    pub fn validate(&self) -> Result<()> {
        self.kafka.validate()?;
        self.ingest.validate()?;
        self.storage.validate()?;
        self.sql.validate()?;
        self.auth.validate()?;
        let http: SocketAddr = self.http.addr()?;
        self.sql
            .pg_listen
            .parse::<SocketAddr>()
            .with_context(|| format!("sql.pg_listen: `{}` is not host:port", self.sql.pg_listen))?;
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
    fn a_missing_file_is_named() {
        let err = HubConfig::load(Some(Path::new("/nonexistent/hub.toml"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/hub.toml"));
    }
}
