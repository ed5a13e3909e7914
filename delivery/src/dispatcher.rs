//! The dispatcher: the delivery side of the hub. It owns the subscription book, the
//! silences and the outbox; [`Dispatcher::run`] moves alert transitions from the rule
//! stage into the outbox (the intake) and from the outbox to the agencies (the
//! sender). The HTTP API manages subscriptions and silences through it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use hub_model::alert::AlertTransition;
use hub_model::handoff::TransitionHandoff;
use hub_model::Timestamp;
use serde::Serialize;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::channel::Channels;
use crate::config::DeliveryConfig;
use crate::metrics::DeliveryMetrics;
use crate::outbox::Outbox;
use crate::silence::{Silence, SilenceSpec};
use crate::store::SubscriptionStore;
use crate::subscription::{Channel, Filter, SubscriptionSpec};
use crate::DeliveryError;

/// A subscription as the API shows it: with its id, the secret hidden.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    pub id: String,
    pub name: String,
    pub agency: String,
    pub filter: Filter,
    pub channel: Channel,
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<std::time::Duration>,
    /// `config` (from the config file: change it there) or `api`.
    pub origin: &'static str,
}

/// A silence as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SilenceView {
    pub id: String,
    #[serde(flatten)]
    pub spec: SilenceSpec,
    pub active: bool,
}

pub(crate) const CONFIG_PREFIX: &str = "cfg-";

pub struct Dispatcher {
    pub(crate) config: DeliveryConfig,
    store: SubscriptionStore,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) channels: Channels,
    pub(crate) metrics: Option<DeliveryMetrics>,
    /// The rules that exist: a filter naming another is refused.
    rules: Vec<String>,
    subscriptions: RwLock<Arc<Vec<(String, SubscriptionSpec)>>>,
    silences: RwLock<Arc<Vec<Silence>>>,
    /// Open grouping windows: subscription id → when its window closes.
    pub(crate) windows: Mutex<HashMap<String, Timestamp>>,
    /// Rings when the outbox gains something to send.
    pub(crate) wake: Notify,
}

impl Dispatcher {
    /// Opens the stores under `dir` (`<data_dir>/delivery`) and makes the config
    /// file's subscriptions current: written under `cfg-<name>`, and `cfg-` ones no
    /// longer in the file removed.
    pub fn open(
        dir: &Path,
        config: DeliveryConfig,
        rules: Vec<String>,
        from_config: &[SubscriptionSpec],
        channels: Channels,
        metrics: Option<DeliveryMetrics>,
    ) -> Result<Arc<Self>, DeliveryError> {
        config.validate()?;
        std::fs::create_dir_all(dir)
            .map_err(|e| DeliveryError::Store(format!("cannot create {}: {e}", dir.display())))?;
        let store = SubscriptionStore::open(&dir.join("subscriptions.redb"))?;
        let outbox = Arc::new(Outbox::open(&dir.join("outbox.redb"))?);
        let mut seen = std::collections::HashSet::new();
        for (i, spec) in from_config.iter().enumerate() {
            spec.validate()
                .and_then(|()| known_rules(&rules, spec))
                .map_err(|e| match e {
                    DeliveryError::Invalid { field, message } => DeliveryError::Invalid {
                        field: format!("subscriptions[{i}].{field}"),
                        message,
                    },
                    e => e,
                })?;
            let id = format!("{CONFIG_PREFIX}{}", slug(&spec.name));
            if !seen.insert(id.clone()) {
                return Err(DeliveryError::invalid(
                    format!("subscriptions[{i}].name"),
                    format!(
                        "`{}` is used by two subscriptions; names must differ",
                        spec.name
                    ),
                ));
            }
            store.put(&id, spec)?;
        }
        for (id, _) in store.list()? {
            if id.starts_with(CONFIG_PREFIX) && !seen.contains(&id) {
                store.delete(&id)?;
                outbox.drop_subscription(&id, Timestamp::now())?;
            }
        }
        let d = Dispatcher {
            config,
            rules,
            store,
            outbox,
            channels,
            metrics,
            subscriptions: RwLock::new(Arc::new(Vec::new())),
            silences: RwLock::new(Arc::new(Vec::new())),
            windows: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        };
        d.reload()?;
        Ok(Arc::new(d))
    }

    fn reload(&self) -> Result<(), DeliveryError> {
        let subs = self.store.list()?;
        let silences = self
            .store
            .silences()?
            .into_iter()
            .map(|(id, spec)| Silence::new(id, spec))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(m) = &self.metrics {
            m.subscriptions.set(subs.len() as i64);
        }
        *self.subscriptions.write().expect("subscriptions lock") = Arc::new(subs);
        *self.silences.write().expect("silences lock") = Arc::new(silences);
        Ok(())
    }

    pub(crate) fn current_subscriptions(&self) -> Arc<Vec<(String, SubscriptionSpec)>> {
        self.subscriptions
            .read()
            .expect("subscriptions lock")
            .clone()
    }

    pub(crate) fn current_silences(&self) -> Arc<Vec<Silence>> {
        self.silences.read().expect("silences lock").clone()
    }

    pub(crate) fn subscription(&self, id: &str) -> Option<SubscriptionSpec> {
        self.current_subscriptions()
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, s)| s.clone())
    }

    /// `POST /api/v1/subscriptions`: the body checked, stored; returns the new id.
    pub fn create_subscription(&self, body: &[u8]) -> Result<String, DeliveryError> {
        let spec = SubscriptionSpec::from_json(body)?;
        known_rules(&self.rules, &spec)?;
        let id = self.store.create(&spec)?;
        self.reload()?;
        tracing::info!(subscription = %id, name = %spec.name, agency = %spec.agency, channel = spec.channel.kind(), "subscription created");
        Ok(id)
    }

    pub fn subscriptions(&self) -> Vec<SubscriptionView> {
        self.current_subscriptions()
            .iter()
            .map(|(id, s)| SubscriptionView {
                id: id.clone(),
                name: s.name.clone(),
                agency: s.agency.clone(),
                filter: s.filter.clone(),
                channel: s.channel.redacted(),
                group_wait: s.group_wait,
                origin: if id.starts_with(CONFIG_PREFIX) {
                    "config"
                } else {
                    "api"
                },
            })
            .collect()
    }

    /// `DELETE /api/v1/subscriptions/{id}`: its waiting deliveries are dropped (and
    /// recorded as such). Config-file subscriptions are changed in the file.
    pub fn delete_subscription(&self, id: &str) -> Result<(), DeliveryError> {
        if id.starts_with(CONFIG_PREFIX) && self.subscription(id).is_some() {
            return Err(DeliveryError::invalid(
                "id",
                format!("`{id}` comes from the config file; remove it there and restart"),
            ));
        }
        if !self.store.delete(id)? {
            return Err(DeliveryError::NotFound {
                what: "subscription",
                id: id.into(),
            });
        }
        self.reload()?;
        self.windows.lock().expect("windows lock").remove(id);
        let dropped = self.outbox.drop_subscription(id, Timestamp::now())?;
        tracing::info!(subscription = %id, dropped, "subscription deleted");
        Ok(())
    }

    /// `POST /api/v1/silences`: returns the new id.
    pub fn create_silence(&self, body: &[u8]) -> Result<String, DeliveryError> {
        let silence = Silence::from_json(String::new(), body, Timestamp::now())?;
        let id = self.store.create_silence(&silence.spec)?;
        self.reload()?;
        tracing::info!(silence = %id, matchers = silence.spec.matchers.len(), ends_at = %silence.spec.ends_at, "silence created");
        Ok(id)
    }

    pub fn silences(&self) -> Vec<SilenceView> {
        let now = Timestamp::now();
        self.current_silences()
            .iter()
            .map(|s| SilenceView {
                id: s.id.clone(),
                spec: s.spec.clone(),
                active: s.active(now),
            })
            .collect()
    }

    pub fn delete_silence(&self, id: &str) -> Result<(), DeliveryError> {
        if !self.store.delete_silence(id)? {
            return Err(DeliveryError::NotFound {
                what: "silence",
                id: id.into(),
            });
        }
        self.reload()
    }

    /// Notifications waiting in the outbox.
    pub fn waiting(&self) -> u64 {
        self.outbox.depth().unwrap_or(0)
    }

    /// The `deliveries` SQL table over this dispatcher's outbox.
    pub fn deliveries_table(self: &Arc<Self>) -> Arc<crate::deliveries_table::DeliveriesTable> {
        Arc::new(crate::deliveries_table::DeliveriesTable::new(self.clone()))
    }

    /// Runs until `transitions` closes (intake) and `cancel` fires (sender). Every
    /// transition received is queued durably and then counted in `handoff`; each is
    /// then offered to `observer` (if any, without waiting: `demo` prints them).
    pub async fn run(
        self: Arc<Self>,
        transitions: mpsc::Receiver<AlertTransition>,
        handoff: Option<Arc<TransitionHandoff>>,
        observer: Option<mpsc::Sender<AlertTransition>>,
        cancel: CancellationToken,
    ) {
        let sender = tokio::spawn(crate::sending::run(self.clone(), cancel.clone()));
        crate::intake::run(self.clone(), transitions, handoff, observer).await;
        // The intake ends when the pipeline has stopped; the sender on `cancel`.
        cancel.cancel();
        let _ = sender.await;
    }
}

/// Refuses a filter naming a rule that does not exist (a typo would silently match
/// nothing).
fn known_rules(rules: &[String], spec: &SubscriptionSpec) -> Result<(), DeliveryError> {
    if rules.is_empty() {
        return Ok(());
    }
    match spec.filter.rules.iter().find(|r| !rules.contains(r)) {
        Some(unknown) => Err(DeliveryError::invalid(
            "filter.rules",
            format!(
                "there is no rule `{unknown}`; the rules are: {}",
                rules.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// A config subscription's id part: its name in lower case, runs of other characters
/// as `-`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_ids_are_slugs() {
        assert_eq!(
            slug("Hangzhou Market Supervision"),
            "hangzhou-market-supervision"
        );
        assert_eq!(slug("杭州 市场"), "杭州-市场");
    }
}
