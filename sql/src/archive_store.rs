//! Archive files on an object store: a snapshot may name files as `s3://bucket/key`
//! (the ingest side's `storage.archive_url`). Before scanning them, the table makes sure
//! the query's session can reach the bucket: one S3 client per bucket for the process
//! (its connections are reused across queries), configured like the ingest side from the
//! standard `AWS_*` environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`,
//! …) or the instance's role. Nothing here prints the client's configuration: it holds
//! the credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use object_store::aws::AmazonS3Builder;
use object_store::ObjectStore;

fn clients() -> &'static Mutex<HashMap<String, Arc<dyn ObjectStore>>> {
    static CLIENTS: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    CLIENTS.get_or_init(Default::default)
}

/// Makes `url`'s store (`s3://bucket/`) reachable from `runtime`, unless it already is.
/// Local files (`file://`) need nothing.
pub fn register(runtime: &RuntimeEnv, url: &ObjectStoreUrl) -> Result<()> {
    let scheme = url.as_str().split_once("://").map(|(s, _)| s);
    if !matches!(scheme, Some("s3" | "s3a")) || runtime.object_store(url).is_ok() {
        return Ok(());
    }
    let store = {
        let mut clients = clients().lock().unwrap_or_else(|e| e.into_inner());
        match clients.get(url.as_str()) {
            Some(store) => store.clone(),
            None => {
                let store: Arc<dyn ObjectStore> = Arc::new(
                    AmazonS3Builder::from_env()
                        .with_url(url.as_str())
                        .build()
                        .map_err(|e| {
                            DataFusionError::Execution(format!(
                                "archive object store {}: {e}",
                                url.as_str()
                            ))
                        })?,
                );
                clients.insert(url.as_str().to_string(), store.clone());
                store
            }
        }
    };
    runtime.register_object_store(url.as_ref(), store);
    Ok(())
}
