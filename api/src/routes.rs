//! The routes and their handlers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{middleware, Router};
use hub_delivery::Dispatcher;
use hub_model::open_alerts::OpenAlerts;
use hub_sql::SqlEngine;
use prometheus::{Encoder, Registry, TextEncoder};
use serde::Deserialize;

use crate::alerting;
use crate::auth::{require_bearer, AuthConfig};
use crate::format::{encode, ResultFormat};
use crate::health::Readiness;
use crate::ApiError;

#[derive(Clone)]
pub struct ApiState {
    pub registry: Registry,
    pub sql: Arc<SqlEngine>,
    pub readiness: Arc<dyn Readiness>,
    pub auth: AuthConfig,
    /// The open alerts (`GET /api/v1/alerts`).
    pub alerts: Arc<OpenAlerts>,
    /// Subscriptions and silences; `None` where delivery does not run.
    pub delivery: Option<Arc<Dispatcher>>,
}

pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/sql", post(sql))
        .route("/alerts", get(alerting::alerts))
        .route(
            "/subscriptions",
            post(alerting::create_subscription).get(alerting::list_subscriptions),
        )
        .route("/subscriptions/{id}", delete(alerting::delete_subscription))
        .route(
            "/silences",
            post(alerting::create_silence).get(alerting::list_silences),
        )
        .route("/silences/{id}", delete(alerting::delete_silence))
        .route_layer(middleware::from_fn_with_state(
            state.auth.clone(),
            require_bearer,
        ));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .nest("/api/v1", api)
        .fallback(|uri: axum::http::Uri| async move { ApiError::NotFound(uri.path().to_string()) })
        .with_state(state)
}

async fn metrics(State(s): State<ApiState>) -> Response {
    let mut buf = Vec::new();
    let mut families = s.registry.gather();
    families.extend(crate::metrics::scrape_time(s.readiness.as_ref()));
    match TextEncoder::new().encode(&families, &mut buf) {
        Ok(()) => ([(CONTENT_TYPE, prometheus::TEXT_FORMAT)], buf).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn readyz(State(s): State<ApiState>) -> Response {
    match s.readiness.ready() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    sql: String,
}

async fn sql(
    State(s): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = ResultFormat::from_accept(headers.get(ACCEPT).and_then(|v| v.to_str().ok()))?;
    let request: SqlRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be JSON {{\"sql\": \"SELECT …\"}}: {e}"
        ))
    })?;
    let result = s.sql.query(&request.sql).await?;
    let body = encode(&result, format)?;
    Ok(([(CONTENT_TYPE, format.content_type())], body).into_response())
}
