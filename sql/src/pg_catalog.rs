//! Enough of PostgreSQL's `pg_catalog` for psql, Grafana's PostgreSQL data source and
//! DBeaver to list tables and columns: the `pg_catalog` schema and the functions those
//! tools call (`current_schema()`, `format_type`, `has_table_privilege`,
//! `current_setting` …), from `datafusion-pg-catalog`, installed into every query's
//! session. The static tables (`pg_type`, `pg_proc` …) are decoded once per process.

use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use datafusion::prelude::{create_udf, SessionContext};
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::{
    self as pg, array_bounds_udf, format_type, generate_series_arg_coercion, has_privilege_udf,
    oid_type_planner, pg_get_expr_udf, quote_ident_udf, PgCatalogSchemaProvider,
    PgCatalogStaticTables,
};

/// The session settings clients read with `SHOW` or `current_setting(…)`. The hub has
/// no per-session settings; these are the fixed values of its SQL surface.
pub const SETTINGS: &[(&str, &str)] = &[
    ("search_path", "public"),
    ("server_version", "16.6"),
    ("server_version_num", "160006"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("timezone", "UTC"),
    ("intervalstyle", "postgres"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "on"),
    ("default_transaction_read_only", "on"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    ("is_superuser", "off"),
    ("lc_collate", "C.UTF-8"),
    ("lc_ctype", "C.UTF-8"),
];

/// The value of a fixed setting, by case-insensitive name.
pub fn setting(name: &str) -> Option<&'static str> {
    let name = name.trim().to_ascii_lowercase();
    SETTINGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, value)| *value)
}

fn static_tables() -> Result<Arc<PgCatalogStaticTables>> {
    static TABLES: OnceLock<std::result::Result<Arc<PgCatalogStaticTables>, String>> =
        OnceLock::new();
    TABLES
        .get_or_init(|| {
            PgCatalogStaticTables::try_new()
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| DataFusionError::Internal(format!("pg_catalog tables: {e}")))
}

/// Installs `pg_catalog` into `catalog` of `ctx`, with the PostgreSQL functions
/// client tools call.
pub fn install(ctx: &SessionContext, catalog: &str) -> Result<()> {
    let tables = static_tables()?;
    let schema = Arc::new(PgCatalogSchemaProvider::try_new(
        ctx.state().catalog_list().clone(),
        tables.clone(),
        EmptyContextProvider,
    )?);
    ctx.catalog(catalog)
        .ok_or_else(|| DataFusionError::Plan(format!("no catalog {catalog}")))?
        .register_schema("pg_catalog", schema)?;

    ctx.register_udf(pg::create_current_database_udf(catalog));
    ctx.register_udf(pg::create_current_schema_udf());
    ctx.register_udf(pg::create_current_schemas_udf());
    ctx.register_udf(pg::create_pg_get_userbyid_udf());
    for name in [
        "has_table_privilege",
        "has_schema_privilege",
        "has_database_privilege",
        "has_any_column_privilege",
    ] {
        ctx.register_udf(has_privilege_udf::create_has_privilege_udf(name));
    }
    ctx.register_udf(pg::create_pg_table_is_visible());
    ctx.register_udf(format_type::create_format_type_udf());
    ctx.register_udf(pg::create_session_user_udf());
    ctx.register_udtf("pg_get_keywords", tables.pg_get_keywords.clone());
    ctx.register_udf(pg_get_expr_udf::create_pg_get_expr_udf());
    ctx.register_udf(pg::create_pg_get_partkeydef_udf());
    ctx.register_udf(pg::create_pg_relation_is_publishable_udf());
    ctx.register_udf(pg::create_pg_get_statisticsobjdef_columns_udf());
    ctx.register_udf(pg::create_pg_encoding_to_char_udf());
    ctx.register_udf(pg::create_pg_backend_pid_udf());
    ctx.register_udf(pg::create_pg_relation_size_udf());
    ctx.register_udf(pg::create_pg_total_relation_size_udf());
    ctx.register_udf(pg::create_pg_stat_get_numscans());
    ctx.register_udf(pg::create_pg_get_constraintdef());
    ctx.register_udf(pg::create_pg_get_partition_ancestors_udf());
    ctx.register_udf(quote_ident_udf::create_quote_ident_udf());
    ctx.register_udf(quote_ident_udf::create_parse_ident_udf());
    ctx.register_udf(array_bounds_udf::create_array_upper_udf());
    ctx.register_udf(array_bounds_udf::create_array_lower_udf());
    ctx.register_udf(current_setting_udf());

    // `regclass`, `regtype` … as type names in casts.
    let state = ctx.state_ref();
    let existing = state.read().clone();
    *state.write() = SessionStateBuilder::new_from_existing(existing)
        .with_type_planner(Arc::new(oid_type_planner::PgOidTypePlanner))
        .build();
    // `generate_series(array_lower(…), …)`: int4 bounds widened to int8.
    generate_series_arg_coercion::CoerceIntArgsToBigInt::widen(ctx);
    Ok(())
}

/// `current_setting(name)`: the fixed [`SETTINGS`]; unknown names are an error, as in
/// PostgreSQL.
fn current_setting_udf() -> datafusion::logical_expr::ScalarUDF {
    let fun = Arc::new(|args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let names = arrays[0]
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| DataFusionError::Plan("current_setting takes a text name".into()))?;
        let mut values = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            if names.is_null(i) {
                values.push(None);
                continue;
            }
            let name = names.value(i);
            let value = setting(name).ok_or_else(|| {
                DataFusionError::Plan(format!("unrecognized configuration parameter \"{name}\""))
            })?;
            values.push(Some(value));
        }
        let array: ArrayRef = Arc::new(StringArray::from(values));
        Ok(ColumnarValue::Array(array))
    });
    create_udf(
        "current_setting",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        fun,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_found_by_any_case() {
        assert_eq!(setting("Search_Path"), Some("public"));
        assert_eq!(setting("DateStyle"), Some("ISO, MDY"));
        assert_eq!(setting("no_such_thing"), None);
    }
}
