//! The catalog every query sees: the feed tables, `dead_letters`, and the view
//! `export_declarations_latest` (each declaration's latest version by event time).

use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::execution::cache::cache_manager::{CacheManager, CacheManagerConfig};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use hub_model::schema::Table;
use hub_model::source::{CurrentTable, TableSource};

use crate::information_schema::{self, PgInformationSchema};
use crate::latest_table::LatestTable;
use crate::table::SnapshotTable;

/// Each declaration's latest version: by event time (`inspected_at`, else
/// `declared_at`), ties broken by `declared_at` then `event_id`, as the ledger does.
/// The definition of `export_declarations_latest`, which the hub computes with
/// [`LatestTable`] (same rows, one hash pass instead of a window; DuckDB runs this text
/// in the benchmark).
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
    /// DataFusion's caches, shared by every session (see [`shared_caches`]).
    caches: CacheManagerConfig,
}

/// Caches kept across queries, each bounded by DataFusion's default limit: Parquet
/// footers and page indexes (50 MiB), file statistics (20 MiB) and file listings
/// (1 MiB). Sound because an archive file never changes once committed: its name
/// carries the roll's epoch and no later roll writes it again in this process (a
/// restart, which may reuse an uncommitted epoch, starts with empty caches). The
/// metadata cache also checks each file's size and modification time.
fn shared_caches() -> CacheManagerConfig {
    let defaults = CacheManagerConfig::default();
    let manager = CacheManager::try_new(&defaults).expect("DataFusion's default caches");
    defaults
        .with_file_statistics_cache(manager.get_file_statistic_cache())
        .with_list_files_cache(manager.get_list_files_cache())
        .with_file_metadata_cache(Some(manager.get_file_metadata_cache()))
}

impl Catalog {
    pub fn new(source: Arc<dyn TableSource>) -> Self {
        Catalog {
            source,
            current: Vec::new(),
            caches: shared_caches(),
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
            .with_cache_manager(self.caches.clone())
            .build_arc()?;
        let config = SessionConfig::new()
            // `information_schema` is registered below, PostgreSQL-flavoured.
            .with_information_schema(false)
            .with_default_catalog_and_schema("hub", "public")
            .with_create_default_catalog_and_schema(true)
            .with_target_partitions(2);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        for table in Table::ALL {
            let provider = Arc::new(SnapshotTable::try_new(self.source.snapshot(table))?);
            if table == Table::ExportDeclarations {
                ctx.register_table(
                    "export_declarations_latest",
                    Arc::new(LatestTable::new(provider.clone())),
                )?;
            }
            ctx.register_table(table.name(), provider)?;
        }
        for table in &self.current {
            let mem = MemTable::try_new(table.schema(), vec![vec![table.batch()]])?;
            ctx.register_table(table.name(), Arc::new(mem))?;
        }
        let catalogs = ctx.state().catalog_list().clone();
        ctx.catalog("hub")
            .expect("the default catalog exists")
            .register_schema(
                information_schema::NAME,
                Arc::new(PgInformationSchema::new(catalogs)),
            )?;
        crate::pg_catalog::install(&ctx, "hub")?;
        crate::bounded_functions::install(&ctx);
        crate::utc_date_trunc::install(&ctx);
        Ok(ctx)
    }
}
