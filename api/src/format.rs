//! Query results as JSON (`{"columns": [...], "rows": [[...], ...]}`), CSV or Arrow IPC.

use arrow::json::writer::{JsonArray, WriterBuilder};
use arrow::record_batch::RecordBatch;
use hub_sql::QueryResult;
use serde_json::{Map, Value};

use crate::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    Json,
    Csv,
    ArrowStream,
}

pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

impl ResultFormat {
    /// Picks a format from an `Accept` header; JSON when absent or `*/*`.
    pub fn from_accept(accept: Option<&str>) -> Result<Self, ApiError> {
        let Some(accept) = accept else {
            return Ok(ResultFormat::Json);
        };
        for part in accept.split(',') {
            let media = part.split(';').next().unwrap_or("").trim();
            match media {
                "application/json" | "*/*" | "application/*" | "" => return Ok(ResultFormat::Json),
                "text/csv" | "text/*" => return Ok(ResultFormat::Csv),
                ARROW_STREAM => return Ok(ResultFormat::ArrowStream),
                _ => {}
            }
        }
        Err(ApiError::NotAcceptable(format!(
            "cannot answer `{accept}`: ask for application/json, text/csv or {ARROW_STREAM}"
        )))
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ResultFormat::Json => "application/json",
            ResultFormat::Csv => "text/csv; charset=utf-8",
            ResultFormat::ArrowStream => ARROW_STREAM,
        }
    }
}

fn encode_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::Sql(hub_sql::SqlError::Execution(format!(
        "encoding the result failed: {e}"
    )))
}

pub fn encode(result: &QueryResult, format: ResultFormat) -> Result<Vec<u8>, ApiError> {
    match format {
        ResultFormat::Json => serde_json::to_vec(&to_json(result)?).map_err(encode_err),
        ResultFormat::Csv => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut buf);
                if result.batches.is_empty() {
                    w.write(&RecordBatch::new_empty(result.schema.clone()))
                        .map_err(encode_err)?;
                }
                for b in &result.batches {
                    w.write(b).map_err(encode_err)?;
                }
            }
            Ok(buf)
        }
        ResultFormat::ArrowStream => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, &result.schema)
                    .map_err(encode_err)?;
                for b in &result.batches {
                    w.write(b).map_err(encode_err)?;
                }
                w.finish().map_err(encode_err)?;
            }
            Ok(buf)
        }
    }
}

/// `{"columns": [names], "rows": [[values in column order]]}`.
pub fn to_json(result: &QueryResult) -> Result<Value, ApiError> {
    let columns: Vec<String> = result
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut rows: Vec<Value> = Vec::with_capacity(result.num_rows());
    for batch in &result.batches {
        let mut buf = Vec::new();
        {
            let mut w = WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, JsonArray>(&mut buf);
            w.write(batch).map_err(encode_err)?;
            w.finish().map_err(encode_err)?;
        }
        if buf.is_empty() {
            continue;
        }
        let objects: Vec<Map<String, Value>> = serde_json::from_slice(&buf).map_err(encode_err)?;
        for mut o in objects {
            rows.push(Value::Array(
                columns
                    .iter()
                    .map(|c| o.remove(c).unwrap_or(Value::Null))
                    .collect(),
            ));
        }
    }
    Ok(serde_json::json!({ "columns": columns, "rows": rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_picks_the_format() {
        assert_eq!(ResultFormat::from_accept(None).unwrap(), ResultFormat::Json);
        assert_eq!(
            ResultFormat::from_accept(Some("text/csv")).unwrap(),
            ResultFormat::Csv
        );
        assert_eq!(
            ResultFormat::from_accept(Some(ARROW_STREAM)).unwrap(),
            ResultFormat::ArrowStream
        );
        assert!(ResultFormat::from_accept(Some("image/png")).is_err());
    }
}
