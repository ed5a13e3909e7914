//! Metric names of the processors, in one place.

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

use crate::ProcessorError;

pub const DECLARATIONS_TRACKED: &str = "hub_export_declarations_tracked";
pub const DECLARATION_VERSIONS: &str = "hub_export_declaration_versions_total";

#[derive(Clone)]
pub struct ProcessorMetrics {
    /// Declarations whose latest version the ledger knows.
    pub declarations_tracked: IntGauge,
    /// Versions by outcome: `latest` (became the latest), `superseded` (arrived after a
    /// later version: kept in the archive, not the latest).
    pub declaration_versions: IntCounterVec,
}

impl ProcessorMetrics {
    pub fn new(registry: &Registry) -> Result<Self, ProcessorError> {
        let m = ProcessorMetrics {
            declarations_tracked: IntGauge::new(
                DECLARATIONS_TRACKED,
                "Export declarations whose latest version the hub tracks.",
            )
            .map_err(|source| ProcessorError::Metric { name: DECLARATIONS_TRACKED, source })?,
            declaration_versions: IntCounterVec::new(
                Opts::new(
                    DECLARATION_VERSIONS,
                    "Export declaration versions by outcome: latest, or superseded (older than the version already seen).",
                ),
                &["outcome"],
            )
            .map_err(|source| ProcessorError::Metric { name: DECLARATION_VERSIONS, source })?,
        };
        registry
            .register(Box::new(m.declarations_tracked.clone()))
            .map_err(|source| ProcessorError::Metric {
                name: DECLARATIONS_TRACKED,
                source,
            })?;
        registry
            .register(Box::new(m.declaration_versions.clone()))
            .map_err(|source| ProcessorError::Metric {
                name: DECLARATION_VERSIONS,
                source,
            })?;
        Ok(m)
    }
}
