//! A rule's source compiled against its feed's Arrow schema: the SQL expressions become
//! DataFusion physical expressions, evaluated over each micro-batch of accepted rows,
//! and the rows become [`Observation`]s for the rule's groups.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, SchemaRef, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use hub_model::region::{self, RegionLevel};
use hub_model::schema::Table;
use hub_model::{Feed, Timestamp};
use serde::{Deserialize, Serialize};

use super::config::{RuleKind, SourceSpec};
use crate::ProcessorError;

/// One row's contribution to one group of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Index of the rule in the engine's rule list.
    pub rule: u16,
    /// The Arrow batch of its micro-batch, and the row in it.
    pub batch: u16,
    pub row: u32,
    pub time: Timestamp,
    pub event_id: String,
    /// `market_id=M-330102-003`, `region_code=3301`, …
    pub group: String,
    /// The group's region: the row's `region_code`, or the prefix for region groups.
    pub region: String,
    pub num: f64,
    pub den: f64,
    /// The row is evidence (a failing test, a positive report).
    pub evidence: bool,
    /// Throughput rules: the value.
    pub value: f64,
    /// `latest_by` rules: the version key (e.g. the declaration number).
    pub latest_key: Option<String>,
    /// When the hub took the row in (processing time, for the latency histogram).
    pub ingested_at: Timestamp,
}

pub struct CompiledSource {
    pub feed: Feed,
    pub table: Table,
    key: String,
    filter: Option<Arc<dyn PhysicalExpr>>,
    numerator: Option<Arc<dyn PhysicalExpr>>,
    denominator: Option<Arc<dyn PhysicalExpr>>,
    evidence: Option<Arc<dyn PhysicalExpr>>,
    value: Option<Arc<dyn PhysicalExpr>>,
    group_columns: Vec<(String, usize)>,
    region_levels: Vec<RegionLevel>,
    latest_by: Option<usize>,
}

fn column(schema: &SchemaRef, key: &str, name: &str) -> Result<usize, ProcessorError> {
    schema.index_of(name).map_err(|_| {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        ProcessorError::config(
            key,
            format!("no column `{name}`; the table has {}", names.join(", ")),
        )
    })
}

fn compile_expr(
    ctx: &SessionContext,
    df_schema: &DFSchema,
    schema: &SchemaRef,
    key: String,
    sql: &str,
    want_bool: bool,
) -> Result<Arc<dyn PhysicalExpr>, ProcessorError> {
    let err = |m: String| ProcessorError::config(key.clone(), m);
    let expr = ctx
        .parse_sql_expr(sql, df_schema)
        .map_err(|e| err(format!("`{sql}` is not a valid SQL expression: {e}")))?;
    let phys = ctx
        .create_physical_expr(expr, df_schema)
        .map_err(|e| err(format!("`{sql}` cannot be evaluated over this feed: {e}")))?;
    let ty = phys
        .data_type(schema)
        .map_err(|e| err(format!("`{sql}`: {e}")))?;
    let ok = if want_bool {
        ty == DataType::Boolean
    } else {
        ty == DataType::Boolean || ty.is_numeric()
    };
    if !ok {
        let want = if want_bool {
            "a boolean"
        } else {
            "a number or a boolean"
        };
        return Err(err(format!("`{sql}` is {ty}, it must be {want}")));
    }
    Ok(phys)
}

impl CompiledSource {
    /// `key` is the config path of the source, e.g. `rules.kiosk_pass_rate.source[0]`.
    pub fn compile(spec: &SourceSpec, kind: RuleKind, key: &str) -> Result<Self, ProcessorError> {
        let table = Table::of_feed(spec.feed);
        let schema = table.schema();
        let df_schema = DFSchema::try_from(schema.as_ref().clone())
            .map_err(|e| ProcessorError::config(key, e.to_string()))?;
        let ctx = SessionContext::new();
        let expr = |field: &str, sql: &Option<String>, want_bool: bool| {
            sql.as_deref()
                .map(|s| {
                    compile_expr(
                        &ctx,
                        &df_schema,
                        &schema,
                        format!("{key}.{field}"),
                        s,
                        want_bool,
                    )
                })
                .transpose()
        };
        let needs = |field: &str, v: &Option<String>| match v {
            Some(_) => Ok(()),
            None => Err(ProcessorError::config(
                format!("{key}.{field}"),
                format!("a {kind:?} rule needs it").to_lowercase(),
            )),
        };
        let forbids = |field: &str, v: bool| {
            if v {
                Err(ProcessorError::config(
                    format!("{key}.{field}"),
                    format!("a {kind:?} rule does not use it; remove it").to_lowercase(),
                ))
            } else {
                Ok(())
            }
        };
        match kind {
            RuleKind::Rate => {
                needs("numerator", &spec.numerator)?;
                needs("denominator", &spec.denominator)?;
                forbids("value", spec.value.is_some())?;
            }
            RuleKind::Throughput => {
                needs("value", &spec.value)?;
                forbids("numerator", spec.numerator.is_some())?;
                forbids("denominator", spec.denominator.is_some())?;
                forbids("latest_by", spec.latest_by.is_some())?;
            }
            RuleKind::Silence => {
                forbids("numerator", spec.numerator.is_some())?;
                forbids("denominator", spec.denominator.is_some())?;
                forbids("value", spec.value.is_some())?;
                forbids("evidence", spec.evidence.is_some())?;
                forbids("latest_by", spec.latest_by.is_some())?;
            }
        }
        match (spec.group_by.is_empty(), spec.region_levels.is_empty()) {
            (true, true) => {
                return Err(ProcessorError::config(
                    format!("{key}.group_by"),
                    "set group_by (columns, e.g. [\"market_id\"]) or region_levels (e.g. [\"county\", \"city\"])",
                ))
            }
            (false, false) => {
                return Err(ProcessorError::config(
                    format!("{key}.region_levels"),
                    "use either group_by or region_levels, not both",
                ))
            }
            _ => {}
        }
        let mut group_columns = Vec::new();
        for name in &spec.group_by {
            let i = column(&schema, &format!("{key}.group_by"), name)?;
            if schema.field(i).data_type() != &DataType::Utf8 {
                return Err(ProcessorError::config(
                    format!("{key}.group_by"),
                    format!("`{name}` is not a text column"),
                ));
            }
            group_columns.push((name.clone(), i));
        }
        let latest_by = spec
            .latest_by
            .as_deref()
            .map(|n| column(&schema, &format!("{key}.latest_by"), n))
            .transpose()?;
        Ok(CompiledSource {
            feed: spec.feed,
            table,
            key: key.to_string(),
            filter: expr("filter", &spec.filter, true)?,
            numerator: expr("numerator", &spec.numerator, false)?,
            denominator: expr("denominator", &spec.denominator, false)?,
            evidence: expr("evidence", &spec.evidence, true)?,
            value: expr("value", &spec.value, false)?,
            group_columns,
            region_levels: spec
                .region_levels
                .iter()
                .map(|l| l.region_level())
                .collect(),
            latest_by,
        })
    }

    fn eval(
        &self,
        e: &Arc<dyn PhysicalExpr>,
        batch: &RecordBatch,
        field: &str,
    ) -> Result<ArrayRef, ProcessorError> {
        let fail = |m: String| ProcessorError::Evaluate {
            key: format!("{}.{field}", self.key),
            table: self.table.name(),
            message: m,
        };
        e.evaluate(batch)
            .and_then(|v| v.into_array(batch.num_rows()))
            .map_err(|e| fail(e.to_string()))
    }

    fn numbers(
        &self,
        e: &Option<Arc<dyn PhysicalExpr>>,
        batch: &RecordBatch,
        field: &str,
    ) -> Result<Option<Float64Array>, ProcessorError> {
        let Some(e) = e else { return Ok(None) };
        let a = self.eval(e, batch, field)?;
        let a = cast(&a, &DataType::Float64).map_err(|e| ProcessorError::Evaluate {
            key: format!("{}.{field}", self.key),
            table: self.table.name(),
            message: e.to_string(),
        })?;
        Ok(Some(a.as_primitive::<Float64Type>().clone()))
    }

    fn flags(
        &self,
        e: &Option<Arc<dyn PhysicalExpr>>,
        batch: &RecordBatch,
        field: &str,
    ) -> Result<Option<BooleanArray>, ProcessorError> {
        let Some(e) = e else { return Ok(None) };
        Ok(Some(self.eval(e, batch, field)?.as_boolean().clone()))
    }

    /// The observations of `batch` (rows of this source's table) for rule `rule`;
    /// `at` is the batch's index in the micro-batch and the first row's number in it.
    /// Returns how many rows were skipped for a value that is not a finite number
    /// (NaN or infinity from an operator's expression would poison running sums).
    pub fn observe(
        &self,
        rule: u16,
        batch: &RecordBatch,
        at: (u16, u32),
        out: &mut Vec<Observation>,
    ) -> Result<u64, ProcessorError> {
        if batch.num_rows() == 0 {
            return Ok(0);
        }
        let mut skipped = 0;
        let filter = self.flags(&self.filter, batch, "filter")?;
        let num = self.numbers(&self.numerator, batch, "numerator")?;
        let den = self.numbers(&self.denominator, batch, "denominator")?;
        let value = self.numbers(&self.value, batch, "value")?;
        let evidence = self.flags(&self.evidence, batch, "evidence")?;
        let times = event_times(self.feed, batch);
        let text = |name: &str| batch.column_by_name(name).map(|c| c.as_string::<i32>());
        let event_id = text("event_id").expect("feed tables have event_id");
        let region_code = text("region_code").expect("feed tables have region_code");
        let ingested = batch
            .column_by_name("ingested_at")
            .expect("feed tables have ingested_at")
            .as_primitive::<TimestampMicrosecondType>();
        let groups: Vec<&StringArray> = self
            .group_columns
            .iter()
            .map(|(_, i)| batch.column(*i).as_string::<i32>())
            .collect();
        let latest: Option<ArrayRef> = self
            .latest_by
            .map(|i| cast(batch.column(i), &DataType::Utf8))
            .transpose()
            .map_err(|e| ProcessorError::Evaluate {
                key: format!("{}.latest_by", self.key),
                table: self.table.name(),
                message: e.to_string(),
            })?;
        let latest = latest.as_ref().map(|a| a.as_string::<i32>());
        let f = |a: &Option<Float64Array>, row: usize| {
            a.as_ref()
                .map_or(0.0, |a| if a.is_null(row) { 0.0 } else { a.value(row) })
        };
        let b = |a: &Option<BooleanArray>, row: usize| {
            a.as_ref().is_some_and(|a| a.is_valid(row) && a.value(row))
        };
        for (row, time) in times.iter().enumerate() {
            if filter.is_some() && !b(&filter, row) {
                continue;
            }
            let (n, d, v) = (f(&num, row), f(&den, row), f(&value, row));
            if !(n.is_finite() && d.is_finite() && v.is_finite()) {
                skipped += 1;
                continue;
            }
            let region = region_code.value(row);
            let mut base = Observation {
                rule,
                batch: at.0,
                row: at.1 + row as u32,
                time: *time,
                event_id: event_id.value(row).to_string(),
                group: String::new(),
                region: region.to_string(),
                num: n,
                den: d,
                evidence: b(&evidence, row),
                value: v,
                latest_key: latest.map(|l| l.value(row).to_string()),
                ingested_at: Timestamp(ingested.value(row)),
            };
            if self.region_levels.is_empty() {
                let mut key = String::new();
                for ((name, _), col) in self.group_columns.iter().zip(&groups) {
                    if !key.is_empty() {
                        key.push(',');
                    }
                    key.push_str(name);
                    key.push('=');
                    key.push_str(col.value(row));
                }
                base.group = key;
                out.push(base);
            } else {
                for level in &self.region_levels {
                    if let Some(prefix) = region::prefix(region, *level) {
                        let mut o = base.clone();
                        o.group = format!("region_code={prefix}");
                        o.region = prefix.to_string();
                        out.push(o);
                    }
                }
            }
        }
        Ok(skipped)
    }
}

/// Each row's event time: `tested_at`, `period_end`, or `inspected_at` else `declared_at`.
pub fn event_times(feed: Feed, batch: &RecordBatch) -> Vec<Timestamp> {
    let col = |n: &str| {
        batch
            .column_by_name(n)
            .unwrap_or_else(|| panic!("{} rows have {n}", feed))
            .as_primitive::<TimestampMicrosecondType>()
    };
    match feed {
        Feed::Kiosk => col("tested_at")
            .values()
            .iter()
            .map(|v| Timestamp(*v))
            .collect(),
        Feed::Slaughter => col("period_end")
            .values()
            .iter()
            .map(|v| Timestamp(*v))
            .collect(),
        Feed::Export => {
            let inspected = col("inspected_at");
            let declared = col("declared_at");
            (0..batch.num_rows())
                .map(|i| {
                    Timestamp(if inspected.is_valid(i) {
                        inspected.value(i)
                    } else {
                        declared.value(i)
                    })
                })
                .collect()
        }
    }
}
