//! `information_schema` as PostgreSQL clients read it: DataFusion's own tables, except
//! `columns`, whose `data_type` is the PostgreSQL type name (`bigint`, `text`,
//! `timestamp with time zone` …, which Grafana's query builder maps to field kinds)
//! and which has PostgreSQL's `udt_name` (`int8`, `text`, `timestamptz`). It lists the
//! columns of the hub's own tables (the `pg_catalog` and `information_schema` ones are
//! left out: clients read those from `pg_attribute`).

use std::sync::Arc;

use arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow_pg::datatypes::into_pg_type;
use async_trait::async_trait;
use datafusion::catalog::information_schema::InformationSchemaProvider;
use datafusion::catalog::{CatalogProviderList, MemTable, SchemaProvider, TableProvider};
use datafusion::error::Result;
use pgwire::api::Type;

pub const NAME: &str = "information_schema";

#[derive(Debug)]
pub struct PgInformationSchema {
    catalogs: Arc<dyn CatalogProviderList>,
    inner: InformationSchemaProvider,
}

impl PgInformationSchema {
    pub fn new(catalogs: Arc<dyn CatalogProviderList>) -> Self {
        PgInformationSchema {
            inner: InformationSchemaProvider::new(catalogs.clone()),
            catalogs,
        }
    }

    async fn columns(&self) -> Result<Arc<dyn TableProvider>> {
        let schema = columns_schema();
        let mut b = ColumnsBuilder::default();
        for catalog_name in self.catalogs.catalog_names() {
            let Some(catalog) = self.catalogs.catalog(&catalog_name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                if schema_name == NAME || schema_name == "pg_catalog" {
                    continue;
                }
                let Some(tables) = catalog.schema(&schema_name) else {
                    continue;
                };
                let mut names = tables.table_names();
                names.sort();
                for table_name in names {
                    let Some(table) = tables.table(&table_name).await? else {
                        continue;
                    };
                    for (i, field) in table.schema().fields().iter().enumerate() {
                        b.add(&catalog_name, &schema_name, &table_name, i + 1, field);
                    }
                }
            }
        }
        let batch = b.finish(schema.clone())?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

#[async_trait]
impl SchemaProvider for PgInformationSchema {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if name.eq_ignore_ascii_case("columns") {
            return Ok(Some(self.columns().await?));
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

fn columns_schema() -> SchemaRef {
    let text = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let number = |n: &str| Field::new(n, DataType::UInt64, true);
    Arc::new(Schema::new(vec![
        text("table_catalog", false),
        text("table_schema", false),
        text("table_name", false),
        text("column_name", false),
        Field::new("ordinal_position", DataType::UInt64, false),
        text("column_default", true),
        text("is_nullable", false),
        text("data_type", false),
        text("udt_name", false),
        number("character_maximum_length"),
        number("numeric_precision"),
        number("numeric_scale"),
        number("datetime_precision"),
    ]))
}

/// PostgreSQL's `data_type` (SQL standard name) for a wire type.
fn sql_type_name(ty: &Type) -> String {
    let name = match *ty {
        Type::BOOL => "boolean",
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::NUMERIC => "numeric",
        Type::TEXT => "text",
        Type::VARCHAR => "character varying",
        Type::BYTEA => "bytea",
        Type::DATE => "date",
        Type::TIME => "time without time zone",
        Type::TIMESTAMP => "timestamp without time zone",
        Type::TIMESTAMPTZ => "timestamp with time zone",
        Type::INTERVAL => "interval",
        Type::JSON => "json",
        Type::JSONB => "jsonb",
        _ if ty.name().starts_with('_') => "ARRAY",
        _ => "USER-DEFINED",
    };
    name.to_string()
}

#[derive(Default)]
struct ColumnsBuilder {
    catalog: StringBuilder,
    schema: StringBuilder,
    table: StringBuilder,
    column: StringBuilder,
    ordinal: UInt64Builder,
    default: StringBuilder,
    nullable: StringBuilder,
    data_type: StringBuilder,
    udt_name: StringBuilder,
    char_length: UInt64Builder,
    precision: UInt64Builder,
    scale: UInt64Builder,
    datetime_precision: UInt64Builder,
}

impl ColumnsBuilder {
    fn add(&mut self, catalog: &str, schema: &str, table: &str, ordinal: usize, field: &Field) {
        let ty = into_pg_type(field.data_type()).unwrap_or(Type::TEXT);
        self.catalog.append_value(catalog);
        self.schema.append_value(schema);
        self.table.append_value(table);
        self.column.append_value(field.name());
        self.ordinal.append_value(ordinal as u64);
        self.default.append_null();
        self.nullable
            .append_value(if field.is_nullable() { "YES" } else { "NO" });
        self.data_type.append_value(sql_type_name(&ty));
        self.udt_name.append_value(ty.name());
        self.char_length.append_null();
        let (precision, scale) = match field.data_type() {
            DataType::Int16 => (Some(16), Some(0)),
            DataType::Int32 | DataType::UInt16 => (Some(32), Some(0)),
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => (Some(64), Some(0)),
            DataType::Float32 => (Some(24), None),
            DataType::Float64 => (Some(53), None),
            DataType::Decimal128(p, s) => (Some(u64::from(*p)), u64::try_from(*s).ok()),
            _ => (None, None),
        };
        self.precision.append_option(precision);
        self.scale.append_option(scale);
        let datetime = matches!(
            field.data_type(),
            DataType::Timestamp(..) | DataType::Date32
        );
        self.datetime_precision.append_option(datetime.then_some(6));
    }

    fn finish(mut self, schema: SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.catalog.finish()),
            Arc::new(self.schema.finish()),
            Arc::new(self.table.finish()),
            Arc::new(self.column.finish()),
            Arc::new(self.ordinal.finish()),
            Arc::new(self.default.finish()),
            Arc::new(self.nullable.finish()),
            Arc::new(self.data_type.finish()),
            Arc::new(self.udt_name.finish()),
            Arc::new(self.char_length.finish()),
            Arc::new(self.precision.finish()),
            Arc::new(self.scale.finish()),
            Arc::new(self.datetime_precision.finish()),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::TimeUnit;

    #[test]
    fn postgres_names_for_arrow_types() {
        let name = |dt: DataType| {
            let ty = into_pg_type(&dt).unwrap();
            (sql_type_name(&ty), ty.name().to_string())
        };
        assert_eq!(name(DataType::Int64), ("bigint".into(), "int8".into()));
        assert_eq!(name(DataType::Utf8), ("text".into(), "text".into()));
        assert_eq!(name(DataType::Utf8View), ("text".into(), "text".into()));
        assert_eq!(
            name(DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into())
            )),
            ("timestamp with time zone".into(), "timestamptz".into())
        );
        assert_eq!(
            name(DataType::Float64),
            ("double precision".into(), "float8".into())
        );
    }
}
