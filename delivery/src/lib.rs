//! Alert delivery to agencies: subscriptions and their filters, silences, the
//! CloudEvents envelope, Standard Webhooks signatures, the durable outbox, the four
//! channels, and the dispatcher that moves alert transitions from the rule stage
//! through the outbox to the agencies.

pub mod channel;
pub mod cloudevent;
pub mod config;
pub mod deliveries_table;
pub mod dispatcher;
pub mod error;
mod intake;
pub mod metrics;
pub mod notification;
pub mod outbox;
pub mod router;
mod sending;
pub mod signature;
pub mod silence;
pub mod store;
pub mod subscription;

pub use config::DeliveryConfig;
pub use dispatcher::Dispatcher;
pub use error::DeliveryError;
