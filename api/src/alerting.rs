//! `/api/v1/alerts`, `/api/v1/subscriptions` and `/api/v1/silences`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hub_delivery::Dispatcher;
use hub_model::AlertState;
use serde::Deserialize;

use crate::routes::ApiState;
use crate::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// `firing`, `pending`, or `open` (both; the default).
    state: Option<String>,
}

/// `GET /api/v1/alerts?state=firing`: the open alerts, in the alert JSON shape.
pub async fn alerts(
    State(s): State<ApiState>,
    Query(q): Query<AlertsQuery>,
) -> Result<Response, ApiError> {
    let state = match q.state.as_deref() {
        None | Some("open") => None,
        Some("firing") => Some(AlertState::Firing),
        Some("pending") => Some(AlertState::Pending),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "state: `{other}` is not one of firing, pending, open (resolved alerts are in SQL: SELECT * FROM alerts WHERE state = 'resolved')"
            )))
        }
    };
    Ok(Json(s.alerts.list(state)).into_response())
}

fn dispatcher(s: &ApiState) -> Result<&Dispatcher, ApiError> {
    s.delivery
        .as_deref()
        .ok_or_else(|| ApiError::NotFound("alert delivery is not running in this process".into()))
}

pub async fn create_subscription(
    State(s): State<ApiState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = dispatcher(&s)?.create_subscription(&body)?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response())
}

pub async fn list_subscriptions(State(s): State<ApiState>) -> Result<Response, ApiError> {
    Ok(Json(dispatcher(&s)?.subscriptions()).into_response())
}

pub async fn delete_subscription(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    dispatcher(&s)?.delete_subscription(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn create_silence(State(s): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let id = dispatcher(&s)?.create_silence(&body)?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response())
}

pub async fn list_silences(State(s): State<ApiState>) -> Result<Response, ApiError> {
    Ok(Json(dispatcher(&s)?.silences()).into_response())
}

pub async fn delete_silence(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    dispatcher(&s)?.delete_silence(&id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
