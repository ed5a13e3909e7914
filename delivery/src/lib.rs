//! Alert delivery to agencies (issue 4, in progress): subscriptions and their filters,
//! the CloudEvents envelope, and Standard Webhooks signatures. Not yet wired into the
//! hub: the outbox, the channels and the HTTP API build on these pieces.

pub mod cloudevent;
pub mod error;
pub mod signature;
pub mod store;
pub mod subscription;

pub use error::DeliveryError;
