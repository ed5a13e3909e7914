//! The export declaration ledger: which version of each `declaration_no` is the latest.
//!
//! "Latest" is by the contract's event time (`inspection.inspected_at`, else
//! `declared_at`), never by arrival order; ties are broken by `declared_at`, then by
//! `event_id`, so the answer is the same whatever order the versions arrive in.
//! Every version is archived; the ledger only knows which one counts.
//!
//! Memory is bounded by retention: a declaration whose latest version is older than
//! `retention` behind the newest event time seen is forgotten (no rate looks back
//! further than 30 days). A version of a forgotten declaration starts it afresh.

use std::collections::HashMap;
use std::time::Duration;

use hub_model::export::{ExportDeclaration, InspectionStatus};
use hub_model::{Event, KafkaMeta, ModelError, StatefulStage, Timestamp};
use serde::{Deserialize, Serialize};

use crate::metrics::ProcessorMetrics;
use crate::ProcessorError;

/// What the ledger knows of a declaration's latest version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestVersion {
    pub event_id: String,
    pub event_time: Timestamp,
    pub declared_at: Timestamp,
    pub status: InspectionStatus,
    pub batch_marked: bool,
    pub enterprise_id: String,
}

impl LatestVersion {
    fn order_key(&self) -> (Timestamp, Timestamp, &str) {
        (self.event_time, self.declared_at, &self.event_id)
    }
}

/// What a version did to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionOutcome {
    /// The first version seen of this declaration.
    First,
    /// It supersedes the version the ledger held, which is returned.
    Supersedes(LatestVersion),
    /// A later version is already known; this one is history only.
    Superseded,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    latest: Vec<(String, LatestVersion)>,
    newest_event_time: Option<Timestamp>,
}

pub struct DeclarationLedger {
    latest: HashMap<String, LatestVersion>,
    newest_event_time: Option<Timestamp>,
    retention: Duration,
    versions_since_prune: usize,
    metrics: Option<ProcessorMetrics>,
}

/// Prune at most once per this many versions (pruning walks the whole map).
const PRUNE_EVERY: usize = 10_000;

impl DeclarationLedger {
    pub const STAGE_NAME: &'static str = "export_declarations";

    pub fn new(retention: Duration, metrics: Option<ProcessorMetrics>) -> Self {
        DeclarationLedger {
            latest: HashMap::new(),
            newest_event_time: None,
            retention,
            versions_since_prune: 0,
            metrics,
        }
    }

    pub fn latest(&self, declaration_no: &str) -> Option<&LatestVersion> {
        self.latest.get(declaration_no)
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// Records one version and says whether it is now the latest.
    pub fn record(&mut self, d: &ExportDeclaration<'_>) -> VersionOutcome {
        let candidate = LatestVersion {
            event_id: d.event_id.to_string(),
            event_time: d.event_time(),
            declared_at: d.declared_at,
            status: d.inspection.status,
            batch_marked: d.batch_marked,
            enterprise_id: d.enterprise_id.to_string(),
        };
        self.newest_event_time = self.newest_event_time.max(Some(candidate.event_time));
        let outcome = match self.latest.get_mut(d.declaration_no.as_ref()) {
            None => {
                self.latest.insert(d.declaration_no.to_string(), candidate);
                VersionOutcome::First
            }
            Some(held) if candidate.order_key() > held.order_key() => {
                VersionOutcome::Supersedes(std::mem::replace(held, candidate))
            }
            Some(_) => VersionOutcome::Superseded,
        };
        self.versions_since_prune += 1;
        if self.versions_since_prune >= PRUNE_EVERY {
            self.prune();
        }
        if let Some(m) = &self.metrics {
            let label = if outcome == VersionOutcome::Superseded {
                "superseded"
            } else {
                "latest"
            };
            m.declaration_versions.with_label_values(&[label]).inc();
            m.declarations_tracked.set(self.latest.len() as i64);
        }
        outcome
    }

    /// Forgets declarations whose latest version fell out of retention.
    pub fn prune(&mut self) {
        self.versions_since_prune = 0;
        let Some(newest) = self.newest_event_time else {
            return;
        };
        let horizon = newest.0 - self.retention.as_micros() as i64;
        self.latest.retain(|_, v| v.event_time.0 >= horizon);
    }

    /// Declarations whose latest version is `pass` / `fail` (`pending` excluded).
    pub fn count_by_status(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for v in self.latest.values() {
            match v.status {
                InspectionStatus::Pass => counts.0 += 1,
                InspectionStatus::Fail => counts.1 += 1,
                InspectionStatus::Pending => counts.2 += 1,
            }
        }
        counts
    }
}

impl StatefulStage for DeclarationLedger {
    fn name(&self) -> &'static str {
        Self::STAGE_NAME
    }

    fn on_event(&mut self, event: &Event<'_>, _meta: &KafkaMeta<'_>) {
        if let Event::Export(d) = event {
            self.record(d);
        }
    }

    fn snapshot(&self) -> Result<Vec<u8>, ModelError> {
        let mut latest: Vec<_> = self
            .latest
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        latest.sort_by(|a, b| a.0.cmp(&b.0));
        let snap = Snapshot {
            latest,
            newest_event_time: self.newest_event_time,
        };
        postcard::to_stdvec(&snap).map_err(|source| {
            ProcessorError::Snapshot {
                stage: Self::STAGE_NAME,
                source,
            }
            .into()
        })
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), ModelError> {
        let snap: Snapshot =
            postcard::from_bytes(bytes).map_err(|source| ProcessorError::Snapshot {
                stage: Self::STAGE_NAME,
                source,
            })?;
        self.latest = snap.latest.into_iter().collect();
        self.newest_event_time = snap.newest_event_time;
        if let Some(m) = &self.metrics {
            m.declarations_tracked.set(self.latest.len() as i64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_model::{Feed, Validator};

    fn version(no: &str, v: u32, status: &str, inspected_at: Option<&str>) -> String {
        let inspection = match inspected_at {
            Some(t) => format!(r#"{{"status": "{status}", "inspected_at": "{t}"}}"#),
            None => format!(r#"{{"status": "{status}"}}"#),
        };
        format!(
            r#"{{"event_id": "ex-{no}-v{v}", "declaration_no": "{no}", "enterprise_id": "3301EXP0042", "region_code": "330102", "declared_at": "2026-11-21T09:00:00+08:00", "hs_code": "020329", "product_category": "frozen_pork", "destination": "HK", "quantity_kg": 12000.0, "batch_marked": true, "inspection": {inspection}}}"#
        )
    }

    fn feed(ledger: &mut DeclarationLedger, raw: &str) -> VersionOutcome {
        let now = Timestamp::parse_rfc3339("2026-11-22T00:00:00Z").unwrap();
        match Validator::default()
            .decode(Feed::Export, raw.as_bytes(), now)
            .unwrap()
        {
            Event::Export(d) => ledger.record(&d),
            _ => unreachable!(),
        }
    }

    #[test]
    fn later_event_time_wins_whatever_the_arrival_order() {
        let v1 = version("D1", 1, "pending", None);
        let v2 = version("D1", 2, "fail", Some("2026-11-21T14:30:00+08:00"));
        let v3 = version("D1", 3, "pass", Some("2026-11-22T07:00:00+08:00"));
        for order in [
            [&v1, &v2, &v3],
            [&v3, &v1, &v2],
            [&v2, &v3, &v1],
            [&v3, &v2, &v1],
        ] {
            let mut ledger = DeclarationLedger::new(Duration::from_secs(35 * 86_400), None);
            for raw in order {
                feed(&mut ledger, raw);
            }
            let latest = ledger.latest("D1").unwrap();
            assert_eq!(latest.event_id, "ex-D1-v3");
            assert_eq!(latest.status, InspectionStatus::Pass);
        }
    }

    #[test]
    fn outcome_says_what_happened() {
        let mut ledger = DeclarationLedger::new(Duration::from_secs(86_400), None);
        let v2 = version("D2", 2, "fail", Some("2026-11-21T14:30:00+08:00"));
        let v1 = version("D2", 1, "pending", None);
        assert_eq!(feed(&mut ledger, &v2), VersionOutcome::First);
        assert_eq!(feed(&mut ledger, &v1), VersionOutcome::Superseded);
        let v3 = version("D2", 3, "pass", Some("2026-11-21T18:00:00+08:00"));
        match feed(&mut ledger, &v3) {
            VersionOutcome::Supersedes(old) => assert_eq!(old.event_id, "ex-D2-v2"),
            other => panic!("expected Supersedes, got {other:?}"),
        }
        assert_eq!(ledger.count_by_status(), (1, 0, 0));
    }

    #[test]
    fn snapshot_round_trips_and_prune_forgets_old_declarations() {
        let mut ledger = DeclarationLedger::new(Duration::from_secs(3600), None);
        feed(
            &mut ledger,
            &version("OLD", 2, "fail", Some("2026-11-20T00:00:00Z")),
        );
        feed(
            &mut ledger,
            &version("NEW", 2, "pass", Some("2026-11-21T10:00:00Z")),
        );
        let bytes = ledger.snapshot().unwrap();
        let mut restored = DeclarationLedger::new(Duration::from_secs(3600), None);
        restored.restore(&bytes).unwrap();
        assert_eq!(restored.latest("OLD"), ledger.latest("OLD"));
        restored.prune();
        assert!(restored.latest("OLD").is_none());
        assert!(restored.latest("NEW").is_some());
    }
}
