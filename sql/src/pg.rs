//! The PostgreSQL wire endpoint (`sql.pg_listen`): psql and BI tools run the same
//! read-only queries as `POST /api/v1/sql`, through the same [`SqlEngine`] — the
//! read-only guard, the time, memory, row and concurrency limits, the SQL thread pool.
//! Simple query protocol; the password is one of `auth.tokens` when tokens are set
//! (cleartext password exchange: put TLS in front on untrusted networks).

use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use async_trait::async_trait;
use futures::{stream, Sink, SinkExt};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use pgwire::api::portal::Format;
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::{QueryResponse, Response};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{SqlEngine, SqlError};

/// Decides whether a presented password (a bearer token) is accepted.
pub type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Serves connections on `listener` until `cancel`. `tokens`: `None` when the hub runs
/// without tokens (no password asked).
pub async fn serve(
    listener: TcpListener,
    engine: Arc<SqlEngine>,
    tokens: Option<TokenCheck>,
    cancel: CancellationToken,
) {
    let handlers = Arc::new(Handlers {
        queries: Arc::new(Queries { engine }),
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

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }
}

struct Startup {
    tokens: Option<TokenCheck>,
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let params = DefaultServerParameterProvider::default();
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                if self.tokens.is_some() {
                    client.set_state(PgWireConnectionState::AuthenticationInProgress);
                    client
                        .send(PgWireBackendMessage::Authentication(
                            Authentication::CleartextPassword,
                        ))
                        .await?;
                } else {
                    finish_authentication(client, &params).await?;
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let pwd = pwd.into_password()?;
                let ok = self
                    .tokens
                    .as_ref()
                    .is_some_and(|check| check(&pwd.password));
                if !ok {
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".into(),
                        "28P01".into(),
                        "password authentication failed: use one of the hub's auth.tokens as the password".into(),
                    ))));
                }
                finish_authentication(client, &params).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

struct Queries {
    engine: Arc<SqlEngine>,
}

/// The SQLSTATE that fits a refusal.
fn sqlstate(e: &SqlError) -> &'static str {
    match e {
        SqlError::Refused(_) => "25006", // read_only_sql_transaction
        SqlError::Invalid(_) => "42601", // syntax_error (or planning)
        SqlError::Timeout(_) => "57014", // query_canceled
        SqlError::MemoryLimit { .. } | SqlError::TooManyRows(_) => "53200", // out_of_memory
        _ => "XX000",
    }
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let result = self.engine.query(query).await.map_err(|e| {
            PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".into(),
                sqlstate(&e).into(),
                e.to_string(),
            )))
        })?;
        let fields = Arc::new(arrow_schema_to_pg_fields(
            &result.schema,
            &Format::UnifiedText,
            None,
        )?);
        let mut rows = Vec::with_capacity(result.num_rows());
        for batch in result.batches {
            rows.extend(encode_recordbatch(fields.clone(), batch));
        }
        Ok(vec![Response::Query(QueryResponse::new(
            fields,
            stream::iter(rows),
        ))])
    }
}
