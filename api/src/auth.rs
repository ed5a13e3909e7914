//! Bearer tokens for `/api/v1/*` (and, later, the PostgreSQL password).

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::ApiError;

/// `[auth]`. With no tokens the API is open: the hub says so in its log and refuses
/// to listen on anything but a loopback address.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("tokens", &format!("<{} redacted>", self.tokens.len()))
            .finish()
    }
}

impl AuthConfig {
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        if let Some(i) = self.tokens.iter().position(|t| t.len() < 16) {
            return Err(ApiError::Config(format!(
                "auth.tokens[{i}]: tokens must be at least 16 characters"
            )));
        }
        Ok(())
    }

    /// Constant-time comparison against every configured token.
    pub fn accepts(&self, presented: &str) -> bool {
        self.tokens.iter().fold(false, |found, t| {
            found | constant_time_eq(t.as_bytes(), presented.as_bytes())
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn require_bearer(
    State(auth): State<AuthConfig>,
    request: Request,
    next: Next,
) -> Response {
    if auth.is_open() {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        Some(token) if auth.accepts(token) => next.run(request).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_configured_tokens_and_hides_them() {
        let a = AuthConfig {
            tokens: vec!["s3cret-token-0123456789".into()],
        };
        assert!(a.accepts("s3cret-token-0123456789"));
        assert!(!a.accepts("s3cret-token-012345678"));
        assert!(!format!("{a:?}").contains("s3cret"));
        assert!(AuthConfig {
            tokens: vec!["short".into()]
        }
        .validate()
        .is_err());
    }
}
