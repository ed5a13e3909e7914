//! Simple and extended query protocol over the [`SqlEngine`].
//!
//! Extended protocol: Parse plans the statement once (its parameter types and result
//! columns, for Describe) but keeps only the SQL text; each Execute plans it again over
//! a fresh snapshot with the bound parameters, so a prepared statement always reads the
//! tables as they are when it runs.

use std::fmt::Debug;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow_pg::datatypes::df::deserialize_parameters;
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch, into_pg_type};
use async_trait::async_trait;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use futures::{stream, Sink};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::PgWireBackendMessage;

use super::statement::{classify, PgStatement};
use crate::{Described, QueryResult, SqlEngine, SqlError};

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

fn error(code: &str, message: String) -> ErrorInfo {
    ErrorInfo::new("ERROR".into(), code.into(), message)
}

fn pg_error(e: SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error(sqlstate(&e), e.to_string())))
}

fn aborted() -> PgWireError {
    PgWireError::UserError(Box::new(error(
        "25P02",
        "current transaction is aborted, commands ignored until end of transaction block".into(),
    )))
}

/// A parsed statement, kept between Parse and Execute.
#[derive(Debug, Clone)]
pub(super) struct Prepared {
    statement: PgStatement,
    /// For queries: what Describe reports.
    described: Option<Arc<Described>>,
}

pub(super) struct Queries {
    engine: Arc<SqlEngine>,
    parser: Arc<Parser>,
}

impl Queries {
    pub(super) fn new(engine: Arc<SqlEngine>) -> Self {
        Queries {
            parser: Arc::new(Parser {
                engine: engine.clone(),
                sql: PostgresCompatibilityParser::new(),
            }),
            engine,
        }
    }

    /// Answers one statement; `params` are bound `$n` values (extended protocol).
    async fn respond<C: ClientInfo>(
        &self,
        client: &C,
        statement: &PgStatement,
        params: Option<ParamValues>,
        format: &Format,
    ) -> PgWireResult<Response> {
        let status = client.transaction_status();
        match statement {
            PgStatement::Begin => match status {
                TransactionStatus::Idle => Ok(Response::TransactionStart(Tag::new("BEGIN"))),
                TransactionStatus::Transaction => Ok(Response::Execution(Tag::new("BEGIN"))),
                TransactionStatus::Error => Err(aborted()),
            },
            PgStatement::Commit if status == TransactionStatus::Error => {
                Ok(Response::TransactionEnd(Tag::new("ROLLBACK")))
            }
            PgStatement::Commit => Ok(Response::TransactionEnd(Tag::new("COMMIT"))),
            PgStatement::Rollback => Ok(Response::TransactionEnd(Tag::new("ROLLBACK"))),
            _ if status == TransactionStatus::Error => Err(aborted()),
            PgStatement::Ignored(tag) => Ok(Response::Execution(Tag::new(tag))),
            PgStatement::Show(name) => {
                let value = crate::pg_catalog::setting(name).ok_or_else(|| {
                    PgWireError::UserError(Box::new(error(
                        "42704",
                        format!("unrecognized configuration parameter \"{name}\""),
                    )))
                })?;
                let schema = show_schema(name);
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(arrow::array::StringArray::from(vec![value]))],
                )
                .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
                query_response(
                    QueryResult {
                        schema,
                        batches: vec![batch],
                    },
                    format,
                )
            }
            PgStatement::Query(sql) => {
                let result = match params {
                    Some(p) => self.engine.query_with_params(sql, p).await,
                    None => self.engine.query(sql).await,
                }
                .map_err(pg_error)?;
                query_response(result, format)
            }
        }
    }
}

fn show_schema(name: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, false)]))
}

fn query_response(result: QueryResult, format: &Format) -> PgWireResult<Response> {
    let fields = Arc::new(arrow_schema_to_pg_fields(&result.schema, format, None)?);
    let mut rows = Vec::with_capacity(result.num_rows());
    for batch in result.batches {
        rows.extend(encode_recordbatch(fields.clone(), batch));
    }
    Ok(Response::Query(QueryResponse::new(
        fields,
        stream::iter(rows),
    )))
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = classify(&self.parser.sql, query).map_err(pg_error)?;
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut responses = Vec::with_capacity(statements.len());
        for statement in &statements {
            match self
                .respond(client, statement, None, &Format::UnifiedText)
                .await
            {
                Ok(r) => responses.push(r),
                // Like PostgreSQL: the first error ends the query string.
                Err(PgWireError::UserError(e)) => {
                    responses.push(Response::Error(e));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let params = match &prepared.described {
            Some(d) if !d.params.is_empty() => Some(bind(portal, &d.params)?),
            _ => None,
        };
        self.respond(
            client,
            &prepared.statement,
            params,
            &portal.result_column_format,
        )
        .await
    }
}

/// Decodes the bound values, each as its client-declared type (else the type the plan
/// gives the parameter), then casts it to the plan's type where they differ (an `int2`
/// for an `int8` column, a text timestamp for a timestamp column).
fn bind(portal: &Portal<Prepared>, types: &[Option<DataType>]) -> PgWireResult<ParamValues> {
    let refs: Vec<Option<&DataType>> = types.iter().map(Option::as_ref).collect();
    let ParamValues::List(values) = deserialize_parameters(portal, &refs)? else {
        return Ok(ParamValues::List(Vec::new()));
    };
    if values.len() != types.len() {
        return Err(PgWireError::UserError(Box::new(error(
            "08P01",
            format!(
                "the statement has {} parameters, {} were bound",
                types.len(),
                values.len()
            ),
        ))));
    }
    let mut cast = Vec::with_capacity(values.len());
    for (i, (value, ty)) in values.into_iter().zip(types).enumerate() {
        let scalar: ScalarValue = match ty {
            Some(ty) if value.value.data_type() != *ty => value.value.cast_to(ty).map_err(|e| {
                PgWireError::UserError(Box::new(error(
                    "22P02",
                    format!("parameter ${}: cannot use it as {ty}: {e}", i + 1),
                )))
            })?,
            _ => value.value,
        };
        cast.push(scalar.into());
    }
    Ok(ParamValues::List(cast))
}

pub(super) struct Parser {
    engine: Arc<SqlEngine>,
    sql: PostgresCompatibilityParser,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = classify(&self.sql, sql).map_err(pg_error)?;
        if statements.len() > 1 {
            return Err(PgWireError::UserError(Box::new(error(
                "42601",
                "cannot insert multiple commands into a prepared statement".into(),
            ))));
        }
        let Some(statement) = statements.pop() else {
            return Ok(None);
        };
        let described = match &statement {
            PgStatement::Query(q) => {
                Some(Arc::new(self.engine.describe(q).await.map_err(pg_error)?))
            }
            _ => None,
        };
        Ok(Some(Prepared {
            statement,
            described,
        }))
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        let Some(d) = &stmt.described else {
            return Ok(Vec::new());
        };
        d.params
            .iter()
            .map(|t| match t {
                Some(t) => into_pg_type(t),
                None => Ok(Type::UNKNOWN),
            })
            .collect()
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let format = column_format.unwrap_or(&Format::UnifiedText);
        match (&stmt.statement, &stmt.described) {
            (PgStatement::Show(name), _) => {
                Ok(arrow_schema_to_pg_fields(&show_schema(name), format, None)?)
            }
            (_, Some(d)) => Ok(arrow_schema_to_pg_fields(&d.schema, format, None)?),
            _ => Ok(Vec::new()),
        }
    }
}
