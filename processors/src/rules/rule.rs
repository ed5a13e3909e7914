//! A rule checked and compiled from its [`RuleSpec`]: sources with DataFusion
//! expressions, pane grid, bars, lifecycle policy, trend detector.

use std::collections::BTreeMap;
use std::time::Duration;

use hub_model::alert::Comparison;
use hub_model::Feed;

use super::config::{format_length, RuleKind, RuleSpec};
use super::lifecycle::{Bars, Policy};
use super::source::CompiledSource;
use super::trend::CusumParams;
use super::window::PaneGrid;
use crate::ProcessorError;

/// Panes per window when the rule does not set `pane`.
pub const DEFAULT_PANES_PER_WINDOW: u32 = 96;

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

pub struct CompiledRule {
    pub name: String,
    pub kind: RuleKind,
    pub metric: String,
    pub description: String,
    pub agency: String,
    pub feeds: Vec<Feed>,
    pub sources: Vec<CompiledSource>,
    /// Rate rules.
    pub grid: Option<PaneGrid>,
    pub window: Option<Duration>,
    pub window_length: Option<String>,
    pub bars: Bars,
    pub policy: Policy,
    pub cusum: Option<CusumParams>,
    /// Silence rules: the bars in microseconds.
    pub silence_after: Option<(i64, i64)>,
    /// Throughput rules: EWMA weight.
    pub baseline_alpha: f64,
    /// The rule reads only the latest version per key (export declarations).
    pub latest_by: bool,
}

impl CompiledRule {
    /// Checks and compiles `[rules.<name>]`.
    pub fn compile(name: &str, spec: &RuleSpec) -> Result<Self, ProcessorError> {
        let key = |field: &str| format!("rules.{name}.{field}");
        let err = |field: &str, m: &str| Err(ProcessorError::config(key(field), m));
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(ProcessorError::config(
                format!("rules.{name}"),
                "a rule name is lowercase letters, digits and _",
            ));
        }
        if spec.source.is_empty() {
            return err(
                "source",
                "a rule needs at least one [[rules.<name>.source]]",
            );
        }
        if spec.metric.trim().is_empty() {
            return err("metric", "name the metric (e.g. pass_rate)");
        }
        let mut sources = Vec::new();
        for (i, s) in spec.source.iter().enumerate() {
            sources.push(CompiledSource::compile(
                s,
                spec.kind,
                &format!("rules.{name}.source[{i}]"),
            )?);
        }
        let mut feeds: Vec<Feed> = Vec::new();
        for s in &sources {
            if !feeds.contains(&s.feed) {
                feeds.push(s.feed);
            }
        }
        let latest_by = spec.source.iter().any(|s| s.latest_by.is_some());
        if latest_by {
            if spec.source.iter().any(|s| s.latest_by.is_none()) {
                return err(
                    "source",
                    "latest_by must be set on every source of the rule, or on none",
                );
            }
            if spec.source.iter().any(|s| !s.region_levels.is_empty()) {
                return err(
                    "source",
                    "latest_by cannot be combined with region_levels (group by a column instead)",
                );
            }
        }
        if spec.kind == RuleKind::Rate {
            let shapes: Vec<(&Vec<String>, bool)> = spec
                .source
                .iter()
                .map(|s| (&s.group_by, s.region_levels.is_empty()))
                .collect();
            if shapes.windows(2).any(|w| w[0] != w[1]) {
                return err("source", "every source of a rate rule must group the same way (the same group_by, or region_levels)");
            }
        }
        let rate = spec.kind == RuleKind::Rate;
        let (grid, window) = if rate {
            let Some(window) = spec.window.filter(|w| !w.is_zero()) else {
                return err(
                    "window",
                    "a rate rule needs a window, e.g. \"24h\" or \"7d\"",
                );
            };
            let pane = spec.pane.unwrap_or(window / DEFAULT_PANES_PER_WINDOW);
            if pane.is_zero() || micros(window) % micros(pane) != 0 {
                let m = if spec.pane.is_some() {
                    "must be positive and divide the window exactly (e.g. 15m for 24h)"
                } else {
                    "the default pane (window / 96) does not divide this window: set pane to a width that does (e.g. 15m for 24h)"
                };
                return err("pane", m);
            }
            (
                Some(PaneGrid::new(micros(window), micros(pane))),
                Some(window),
            )
        } else {
            if spec.window.is_some() || spec.pane.is_some() {
                return err("window", "only rate rules have a window; remove it");
            }
            (None, None)
        };
        let (warning, critical) = match spec.kind {
            RuleKind::Silence => {
                if spec.warning.is_some() || spec.critical.is_some() {
                    return err(
                        "warning",
                        "silence rules set warning_after / critical_after (durations)",
                    );
                }
                (0.0, None)
            }
            _ => {
                let Some(w) = spec.warning else {
                    return err("warning", "set the warning bar");
                };
                (w, spec.critical)
            }
        };
        if rate {
            let in_range = |v: f64| (0.0..=1.0).contains(&v);
            if !in_range(warning) || critical.is_some_and(|c| !in_range(c)) {
                return err(
                    "warning",
                    "rate bars are ratios between 0 and 1 (95 % is 0.95)",
                );
            }
            if let Some(c) = critical {
                let ordered = match spec.comparison {
                    Comparison::Below => c <= warning,
                    Comparison::Above => c >= warning,
                };
                if !ordered {
                    return err("critical", "the critical bar must be past the warning bar (below: lower; above: higher)");
                }
            }
        }
        if spec.kind == RuleKind::Throughput {
            if warning <= 0.0 || critical.is_some_and(|c| c < warning) {
                return err(
                    "warning",
                    "throughput bars are standard deviations: warning > 0, critical ≥ warning",
                );
            }
            if !(0.0 < spec.baseline_alpha && spec.baseline_alpha < 1.0) {
                return err("baseline_alpha", "must be between 0 and 1 (exclusive)");
            }
        }
        let silence_after = if spec.kind == RuleKind::Silence {
            let (Some(w), c) = (spec.warning_after, spec.critical_after) else {
                return err(
                    "warning_after",
                    "a silence rule needs warning_after (e.g. \"6h\")",
                );
            };
            if c.is_some_and(|c| c <= w) {
                return err("critical_after", "must be longer than warning_after");
            }
            Some((micros(w), c.map_or(i64::MAX, micros)))
        } else {
            if spec.warning_after.is_some() || spec.critical_after.is_some() {
                return err(
                    "warning_after",
                    "only silence rules use warning_after / critical_after",
                );
            }
            None
        };
        if spec.min_samples.is_nan() || spec.min_samples < 0.0 {
            return err("min_samples", "must be 0 or more");
        }
        if !(0.0..1.0).contains(&spec.hysteresis) {
            return err("hysteresis", "must be between 0 and 1");
        }
        let cusum = if spec.early_warning {
            if !rate || spec.comparison != Comparison::Below || critical.is_none() {
                return err("early_warning", "the trend detector runs on pass rates: a rate rule, comparison \"below\", with warning and critical bars");
            }
            if latest_by {
                return err("early_warning", "not available with latest_by: a superseded version cannot be taken back out of the CUSUM");
            }
            if spec.early_warning_limit.is_nan() || spec.early_warning_limit <= 0.0 {
                return err("early_warning_limit", "must be positive");
            }
            if spec.early_warning_memory.is_nan() || spec.early_warning_memory < 10.0 {
                return err("early_warning_memory", "must be at least 10 (trials)");
            }
            let c = critical.unwrap_or(warning);
            if !(warning < 1.0 && c < warning) {
                return err("early_warning", "needs warning < 1 and critical < warning");
            }
            Some(CusumParams::for_pass_rate(
                warning,
                c,
                spec.early_warning_limit,
                spec.early_warning_memory,
            ))
        } else {
            None
        };
        let agency = spec
            .agency
            .clone()
            .unwrap_or_else(|| feeds[0].agency().to_string());
        if agency.trim().is_empty() {
            return err("agency", "name the agency that receives the alerts");
        }
        Ok(CompiledRule {
            name: name.to_string(),
            kind: spec.kind,
            metric: spec.metric.clone(),
            description: spec.description.clone(),
            agency,
            feeds,
            sources,
            grid,
            window,
            window_length: window.map(format_length),
            bars: Bars {
                comparison: spec.comparison,
                warning,
                critical,
                min_samples: spec.min_samples,
                critical_min_samples: spec
                    .critical_min_samples
                    .unwrap_or(spec.min_samples)
                    .max(spec.min_samples),
                hysteresis: spec.hysteresis,
                ratio: rate,
            },
            policy: Policy {
                hold: spec.hold.map_or(0, micros),
                reminder: Some(micros(spec.reminder)).filter(|r| *r > 0),
            },
            cusum,
            silence_after,
            baseline_alpha: spec.baseline_alpha,
            latest_by,
        })
    }

    /// Compiles every enabled rule, in name order.
    pub fn compile_all(
        specs: &BTreeMap<String, RuleSpec>,
    ) -> Result<Vec<CompiledRule>, ProcessorError> {
        let rules: Vec<CompiledRule> = specs
            .iter()
            .filter(|(_, s)| s.enabled)
            .map(|(name, spec)| CompiledRule::compile(name, spec))
            .collect::<Result<_, _>>()?;
        if rules.len() > usize::from(u16::MAX) {
            return Err(ProcessorError::config("rules", "too many rules"));
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::config::default_rules;

    fn compile_with(
        name: &str,
        edit: impl FnOnce(&mut RuleSpec),
    ) -> Result<CompiledRule, ProcessorError> {
        let mut spec = default_rules()[name].clone();
        edit(&mut spec);
        CompiledRule::compile(name, &spec)
    }

    #[test]
    fn every_default_rule_compiles() {
        let rules = CompiledRule::compile_all(&default_rules()).unwrap();
        assert_eq!(rules.len(), default_rules().len());
        let k = rules.iter().find(|r| r.name == "kiosk_pass_rate").unwrap();
        assert_eq!(k.grid.unwrap().count, 96);
        assert_eq!(k.window_length.as_deref(), Some("24h"));
        assert_eq!(k.agency, "market_supervision");
        let b = rules
            .iter()
            .find(|r| r.name == "beta_agonist_positive_rate")
            .unwrap();
        assert_eq!(b.feeds, vec![Feed::Kiosk, Feed::Slaughter]);
        assert_eq!(b.agency, "agriculture");
    }

    #[test]
    fn bad_rules_name_the_field() {
        let msg = |r: Result<CompiledRule, ProcessorError>| {
            r.err().map(|e| e.to_string()).unwrap_or_default()
        };
        let m = msg(compile_with("kiosk_pass_rate", |s| {
            s.source[0].numerator = Some("result = ".into())
        }));
        assert!(
            m.starts_with("rules.kiosk_pass_rate.source[0].numerator:"),
            "{m}"
        );
        let m = msg(compile_with("kiosk_pass_rate", |s| {
            s.source[0].numerator = Some("sample_name".into())
        }));
        assert!(m.contains("must be a number or a boolean"), "{m}");
        let m = msg(compile_with("kiosk_pass_rate", |s| {
            s.source[0].group_by = vec!["market".into()]
        }));
        assert!(
            m.starts_with("rules.kiosk_pass_rate.source[0].group_by: no column `market`"),
            "{m}"
        );
        let m = msg(compile_with("kiosk_pass_rate", |s| s.critical = Some(0.97)));
        assert!(m.starts_with("rules.kiosk_pass_rate.critical:"), "{m}");
        let m = msg(compile_with("kiosk_pass_rate", |s| s.warning = Some(95.0)));
        assert!(m.contains("ratios between 0 and 1"), "{m}");
        let m = msg(compile_with("kiosk_pass_rate", |s| {
            s.pane = Some(Duration::from_secs(7 * 60))
        }));
        assert!(m.starts_with("rules.kiosk_pass_rate.pane:"), "{m}");
        let m = msg(compile_with("kiosk_pass_rate", |s| s.window = None));
        assert!(m.starts_with("rules.kiosk_pass_rate.window:"), "{m}");
        let m = msg(compile_with("feed_silence", |s| s.warning_after = None));
        assert!(m.starts_with("rules.feed_silence.warning_after:"), "{m}");
        let m = msg(compile_with("feed_silence", |s| {
            s.source[0].numerator = Some("1".into())
        }));
        assert!(
            m.starts_with("rules.feed_silence.source[0].numerator:"),
            "{m}"
        );
        let m = msg(compile_with("export_inspection_pass_rate", |s| {
            s.source[0].latest_by = Some("declaration".into())
        }));
        assert!(
            m.starts_with("rules.export_inspection_pass_rate.source[0].latest_by:"),
            "{m}"
        );
        let m = msg(compile_with("export_batch_marking_rate", |s| {
            s.source[0].filter = Some("quantity_kg".into())
        }));
        assert!(m.contains("must be a boolean"), "{m}");
        let m = msg(CompiledRule::compile(
            "Bad-Name",
            &default_rules()["kiosk_pass_rate"],
        ));
        assert!(m.contains("lowercase"), "{m}");
    }

    #[test]
    fn latest_by_combinations_that_cannot_work_are_refused() {
        let msg = |r: Result<CompiledRule, ProcessorError>| {
            r.err().map(|e| e.to_string()).unwrap_or_default()
        };
        let m = msg(compile_with("export_inspection_pass_rate", |s| {
            s.early_warning = true
        }));
        assert!(
            m.starts_with("rules.export_inspection_pass_rate.early_warning:"),
            "{m}"
        );
        let m = msg(compile_with("export_inspection_pass_rate", |s| {
            s.source[0].group_by.clear();
            s.source[0].region_levels = vec![crate::rules::config::Level::County];
        }));
        assert!(
            m.contains("latest_by cannot be combined with region_levels"),
            "{m}"
        );
        let m = msg(compile_with("export_inspection_pass_rate", |s| {
            let mut other = s.source[0].clone();
            other.latest_by = None;
            s.source.push(other);
        }));
        assert!(m.contains("every source of the rule"), "{m}");
        let m = msg(compile_with("kiosk_pass_rate", |s| {
            s.window = Some(Duration::from_secs(1_000))
        }));
        assert!(m.contains("default pane"), "{m}");
    }

    #[test]
    fn an_operator_rule_needs_no_code() {
        let spec: RuleSpec = toml::from_str(
            r#"
            metric = "pesticide_pass_rate"
            window = "7d"
            warning = 0.97
            critical = 0.9
            min_samples = 30
            [[source]]
            feed = "kiosk"
            group_by = ["market_id"]
            filter = "test_item = 'organophosphate'"
            numerator = "result = 'pass'"
            denominator = "result <> 'invalid'"
            "#,
        )
        .unwrap();
        let r = CompiledRule::compile("pesticide_pass_rate", &spec).unwrap();
        assert_eq!(r.window_length.as_deref(), Some("7d"));
        assert_eq!(r.bars.warning, 0.97);
    }
}
