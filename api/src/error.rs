use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hub_delivery::DeliveryError;
use hub_sql::SqlError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid bearer token: send `Authorization: Bearer <token>` with one of auth.tokens")]
    Unauthorized,
    #[error("{0}")]
    NotAcceptable(String),
    #[error("no such endpoint: {0}")]
    NotFound(String),
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("HTTP server error on {addr}: {source}")]
    Serve {
        addr: String,
        source: std::io::Error,
    },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Sql(e) => match e {
                SqlError::Refused(_) => StatusCode::FORBIDDEN,
                SqlError::Invalid(_) => StatusCode::BAD_REQUEST,
                SqlError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
                SqlError::MemoryLimit { .. } | SqlError::TooManyRows(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Delivery(e) => match e {
                DeliveryError::Invalid { .. } => StatusCode::BAD_REQUEST,
                DeliveryError::NotFound { .. } => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Config(_) | ApiError::Serve { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("static header"),
            );
        }
        response
    }
}
