//! Alert delivery to agencies (issue 4, in progress): subscriptions and their filters
//! and store, the CloudEvents envelope, Standard Webhooks signatures, and the durable
//! outbox. Not yet wired into the hub: the router, the channels and the HTTP API build
//! on these pieces.

pub mod cloudevent;
pub mod error;
pub mod outbox;
pub mod router;
pub mod signature;
pub mod store;
pub mod subscription;
pub mod webhook;

pub use error::DeliveryError;
