//! The HTTP surface: `/metrics`, `/healthz`, `/readyz` and the `/api/v1` endpoints,
//! with bearer-token auth on `/api/v1/*`.

pub mod alerting;
pub mod auth;
pub mod error;
pub mod format;
pub mod health;
pub mod metrics;
pub mod routes;
pub mod server;

pub use auth::AuthConfig;
pub use error::ApiError;
pub use health::Readiness;
pub use routes::{router, ApiState};
pub use server::{bind, serve, HttpConfig};
