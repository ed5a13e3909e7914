//! The PostgreSQL wire endpoint (`sql.pg_listen`): psql, drivers (psycopg, JDBC) and BI
//! tools run the same read-only queries as `POST /api/v1/sql`, through the same
//! [`SqlEngine`] — the read-only guard, the time, memory, row and concurrency limits,
//! the SQL thread pool. Both the simple and the extended query protocol (prepared
//! statements with `$n` parameters); the password is one of `auth.tokens` when tokens
//! are set (cleartext password exchange: put TLS in front on untrusted networks).

mod queries;
mod startup;
mod statement;

use std::sync::Arc;

use pgwire::api::auth::StartupHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::PgWireServerHandlers;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::SqlEngine;
use queries::Queries;
use startup::Startup;
pub use startup::TokenCheck;

/// Serves connections on `listener` until `cancel`. `tokens`: `None` when the hub runs
/// without tokens (no password asked).
pub async fn serve(
    listener: TcpListener,
    engine: Arc<SqlEngine>,
    tokens: Option<TokenCheck>,
    cancel: CancellationToken,
) {
    let handlers = Arc::new(Handlers {
        queries: Arc::new(Queries::new(engine)),
        startup: Arc::new(Startup { tokens }),
    });
    loop {
        let (socket, peer) = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a PostgreSQL connection failed");
                    continue;
                }
            },
        };
        let handlers = handlers.clone();
        tokio::spawn(async move {
            if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
                tracing::debug!(%peer, error = %e, "PostgreSQL connection ended with an error");
            }
        });
    }
}

struct Handlers {
    queries: Arc<Queries>,
    startup: Arc<Startup>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.queries.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }
}
