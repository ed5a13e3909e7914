//! The catalog every query sees: the feed tables, `dead_letters`, and the view
//! `export_declarations_latest` (each declaration's latest version by event time).

use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use hub_model::schema::Table;
use hub_model::source::{CurrentTable, TableSource};

use crate::information_schema::{self, PgInformationSchema};
use crate::table::SnapshotTable;

/// Each declaration's latest version: by event time (`inspected_at`, else
/// `declared_at`), ties broken by `declared_at` then `event_id`, as the ledger does.
pub const EXPORT_LATEST_VIEW: &str = "CREATE VIEW export_declarations_latest AS \
    SELECT * EXCLUDE (version_rank) FROM ( \
      SELECT *, row_number() OVER ( \
        PARTITION BY declaration_no \
        ORDER BY COALESCE(inspected_at, declared_at) DESC, declared_at DESC, event_id DESC \
      ) AS version_rank FROM export_declarations \
    ) WHERE version_rank = 1";

#[derive(Clone)]
pub struct Catalog {
    source: Arc<dyn TableSource>,
    current: Vec<Arc<dyn CurrentTable>>,
}

impl Catalog {
    pub fn new(source: Arc<dyn TableSource>) -> Self {
        Catalog {
            source,
            current: Vec::new(),
        }
    }

    /// Adds a table computed on demand (e.g. `rates`).
    pub fn with_current(mut self, table: Arc<dyn CurrentTable>) -> Self {
        self.current.push(table);
        self
    }

    pub fn table_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
        names.push("export_declarations_latest");
        names.extend(self.current.iter().map(|t| t.name()));
        names
    }

    /// A fresh session over snapshots taken now, with a per-query memory limit.
    pub async fn session(&self, memory_limit: usize) -> Result<SessionContext> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(memory_limit, 1.0)
            .build_arc()?;
        let config = SessionConfig::new()
            // `information_schema` is registered below, PostgreSQL-flavoured.
            .with_information_schema(false)
            .with_default_catalog_and_schema("hub", "public")
            .with_create_default_catalog_and_schema(true)
            .with_target_partitions(2);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        for table in Table::ALL {
            let provider = SnapshotTable::try_new(self.source.snapshot(table))?;
            ctx.register_table(table.name(), Arc::new(provider))?;
        }
        for table in &self.current {
            let mem = MemTable::try_new(table.schema(), vec![vec![table.batch()]])?;
            ctx.register_table(table.name(), Arc::new(mem))?;
        }
        ctx.sql(EXPORT_LATEST_VIEW).await?.collect().await?;
        let catalogs = ctx.state().catalog_list().clone();
        ctx.catalog("hub")
            .expect("the default catalog exists")
            .register_schema(
                information_schema::NAME,
                Arc::new(PgInformationSchema::new(catalogs)),
            )?;
        crate::pg_catalog::install(&ctx, "hub")?;
        crate::bounded_functions::install(&ctx);
        Ok(ctx)
    }
}
