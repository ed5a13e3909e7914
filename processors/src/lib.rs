//! Stateful processing over accepted events. Each processor is a
//! [`hub_model::StatefulStage`]: the ingest pipeline feeds it every accepted,
//! deduplicated event once and checkpoints its snapshot with the offsets.
//!
//! The export declaration ledger (latest version per `declaration_no`) and the rule
//! engine (rolling rates, bars, early warnings, alert lifecycle; [`rules`]).

pub mod declarations;
pub mod error;
pub mod metrics;
pub mod rules;

pub use declarations::{DeclarationLedger, LatestVersion, VersionOutcome};
pub use error::ProcessorError;
