//! Binding and serving, with graceful shutdown on the root token.

use std::net::SocketAddr;

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ApiError;

/// `[http]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
        }
    }
}

impl HttpConfig {
    pub fn addr(&self) -> Result<SocketAddr, ApiError> {
        self.listen.parse().map_err(|e| {
            ApiError::Config(format!(
                "http.listen: `{}` is not host:port ({e})",
                self.listen
            ))
        })
    }
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ApiError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ApiError::Serve {
            addr: addr.to_string(),
            source,
        })
}

pub async fn serve(
    listener: TcpListener,
    router: Router,
    cancel: CancellationToken,
) -> Result<(), ApiError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
        .map_err(|source| ApiError::Serve { addr, source })
}
