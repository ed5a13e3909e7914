//! Shared types of safety-hub: the three feeds, their validation, their Arrow layout,
//! and the contract between the pipeline and the stateful stages that consume it.
//!
//! Every other crate depends on this one; it depends on no other hub crate.

pub mod alert;
pub mod alert_batch;
pub mod batch;
pub mod dead_letter;
pub mod error;
pub mod event;
pub mod export;
pub mod feed;
pub mod figures;
pub mod handoff;
pub mod kiosk;
pub mod open_alerts;
pub mod region;
pub mod rejection;
pub mod schema;
pub mod slaughter;
pub mod source;
pub mod stage;
pub mod time;
mod validate;

pub use alert::{Alert, AlertState, AlertTransition, Comparison, Severity, TransitionKind};
pub use dead_letter::DeadLetter;
pub use error::ModelError;
pub use event::{Event, Validator};
pub use feed::Feed;
pub use rejection::{ReasonClass, Rejection};
pub use stage::{KafkaMeta, PartitionBacklog, StageRows, StatefulStage, Tick};
pub use time::Timestamp;
