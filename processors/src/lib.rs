//! Stateful processing over accepted events. Each processor is a
//! [`hub_model::StatefulStage`]: the ingest pipeline feeds it every accepted,
//! deduplicated event once and checkpoints its snapshot with the offsets.
//!
//! Today: the export declaration ledger (latest version per `declaration_no`).
//! Rolling windows, rules and early warnings build on the same contract.

pub mod declarations;
pub mod error;
pub mod metrics;

pub use declarations::{DeclarationLedger, LatestVersion, VersionOutcome};
pub use error::ProcessorError;
