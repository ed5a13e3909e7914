//! Connection start-up: protocol negotiation and, when the hub has `auth.tokens`, a
//! cleartext password that must be one of them.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

/// Decides whether a presented password (a bearer token) is accepted.
pub type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

pub(super) struct Startup {
    pub(super) tokens: Option<TokenCheck>,
}

fn server_parameters() -> DefaultServerParameterProvider {
    let mut params = DefaultServerParameterProvider::default();
    params.server_version = crate::pg_catalog::setting("server_version")
        .unwrap_or("16.6")
        .to_string();
    params
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
        let params = server_parameters();
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
