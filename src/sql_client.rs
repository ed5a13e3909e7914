//! `safety-hub sql "…"`: runs a query against a running hub's HTTP API and prints it.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use arrow::ipc::reader::StreamReader;
use arrow::util::pretty::pretty_format_batches;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

pub async fn run(
    url: &str,
    token: Option<&str>,
    sql: &str,
    format: OutputFormat,
) -> Result<String> {
    let accept = match format {
        OutputFormat::Table => "application/vnd.apache.arrow.stream",
        OutputFormat::Json => "application/json",
        OutputFormat::Csv => "text/csv",
    };
    let endpoint = format!("{}/api/v1/sql", url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?;
    let mut request = client
        .post(&endpoint)
        .header(reqwest::header::ACCEPT, accept)
        .json(&serde_json::json!({ "sql": sql }));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach the hub at {endpoint}: is `safety-hub run` or `safety-hub demo` running? (--url)"))?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        bail!("{status}: {message}");
    }
    Ok(match format {
        OutputFormat::Table => {
            let reader = StreamReader::try_new(std::io::Cursor::new(body), None)?;
            let batches = reader.collect::<Result<Vec<_>, _>>()?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            format!(
                "{}\n({rows} row{})",
                pretty_format_batches(&batches)?,
                if rows == 1 { "" } else { "s" }
            )
        }
        OutputFormat::Json | OutputFormat::Csv => String::from_utf8_lossy(&body).into_owned(),
    })
}
