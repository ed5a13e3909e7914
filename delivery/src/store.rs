//! Subscriptions and silences persisted in the data directory
//! (`<data_dir>/delivery/subscriptions.redb`, an embedded ACID store). Subscriptions
//! from the config file are kept under `cfg-<name>` ids and re-written at every start;
//! API ones get `sub-<16 hex>` ids, silences `sil-<16 hex>`.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::silence::SilenceSpec;
use crate::subscription::SubscriptionSpec;
use crate::DeliveryError;

const SUBSCRIPTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("subscriptions");
const SILENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("silences");

pub struct SubscriptionStore {
    db: Database,
}

fn store_err(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Store(e.to_string())
}

impl SubscriptionStore {
    pub fn open(path: &Path) -> Result<Self, DeliveryError> {
        let db = Database::create(path)
            .map_err(|e| DeliveryError::Store(format!("cannot open {}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(store_err)?;
        txn.open_table(SUBSCRIPTIONS).map_err(store_err)?;
        txn.open_table(SILENCES).map_err(store_err)?;
        txn.commit().map_err(store_err)?;
        Ok(SubscriptionStore { db })
    }

    /// Stores a new subscription; returns its id.
    pub fn create(&self, spec: &SubscriptionSpec) -> Result<String, DeliveryError> {
        let id = new_id("sub", &spec.name);
        self.put(&id, spec)?;
        Ok(id)
    }

    /// Writes `spec` under `id` (replacing what was there).
    pub fn put(&self, id: &str, spec: &SubscriptionSpec) -> Result<(), DeliveryError> {
        self.write(SUBSCRIPTIONS, id, spec)
    }

    pub fn delete(&self, id: &str) -> Result<bool, DeliveryError> {
        self.remove(SUBSCRIPTIONS, id)
    }

    /// Every subscription, by id.
    pub fn list(&self) -> Result<Vec<(String, SubscriptionSpec)>, DeliveryError> {
        self.read_all(SUBSCRIPTIONS, "subscription")
    }

    /// Stores a new silence; returns its id.
    pub fn create_silence(&self, spec: &SilenceSpec) -> Result<String, DeliveryError> {
        let id = new_id("sil", &spec.comment);
        self.write(SILENCES, &id, spec)?;
        Ok(id)
    }

    pub fn delete_silence(&self, id: &str) -> Result<bool, DeliveryError> {
        self.remove(SILENCES, id)
    }

    /// Every stored silence (expired ones too, until deleted), by id.
    pub fn silences(&self) -> Result<Vec<(String, SilenceSpec)>, DeliveryError> {
        self.read_all(SILENCES, "silence")
    }

    fn write<T: serde::Serialize>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        id: &str,
        value: &T,
    ) -> Result<(), DeliveryError> {
        let bytes = serde_json::to_vec(value).map_err(store_err)?;
        let txn = self.db.begin_write().map_err(store_err)?;
        {
            let mut t = txn.open_table(table).map_err(store_err)?;
            t.insert(id, bytes.as_slice()).map_err(store_err)?;
        }
        txn.commit().map_err(store_err)
    }

    fn remove(&self, table: TableDefinition<&str, &[u8]>, id: &str) -> Result<bool, DeliveryError> {
        let txn = self.db.begin_write().map_err(store_err)?;
        let removed = {
            let mut t = txn.open_table(table).map_err(store_err)?;
            let removed = t.remove(id).map_err(store_err)?.is_some();
            removed
        };
        txn.commit().map_err(store_err)?;
        Ok(removed)
    }

    fn read_all<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        what: &str,
    ) -> Result<Vec<(String, T)>, DeliveryError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let t = txn.open_table(table).map_err(store_err)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(store_err)? {
            let (k, v) = entry.map_err(store_err)?;
            let value: T = serde_json::from_slice(v.value()).map_err(|e| {
                DeliveryError::Store(format!("{what} {} is unreadable: {e}", k.value()))
            })?;
            out.push((k.value().to_string(), value));
        }
        Ok(out)
    }
}

/// `<prefix>-` and 16 hex digits from the clock, a counter and a name (unique per store).
fn new_id(prefix: &str, name: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(name.as_bytes());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{prefix}-{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> SubscriptionSpec {
        SubscriptionSpec::from_json(
            format!(
                r#"{{"name": "{name}", "agency": "customs", "filter": {{"feeds": ["export"]}},
                    "channel": {{"type": "webhook", "url": "https://example.org/h", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn subscriptions_persist_across_reopen_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("delivery.redb");
        let (a, b) = {
            let store = SubscriptionStore::open(&path).unwrap();
            let a = store.create(&spec("a")).unwrap();
            let b = store.create(&spec("b")).unwrap();
            assert_ne!(a, b);
            assert!(a.starts_with("sub-") && a.len() == 20, "{a}");
            (a, b)
        };
        let store = SubscriptionStore::open(&path).unwrap();
        let all = store.list().unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().any(|(id, s)| *id == a && s.name == "a"));
        assert!(store.delete(&b).unwrap());
        assert!(!store.delete(&b).unwrap(), "already gone");
        store.put("cfg-x", &spec("x")).unwrap();
        store.put("cfg-x", &spec("x2")).unwrap();
        let names: Vec<String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|(_, s)| s.name)
            .collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"x2".to_string()));
    }
}
