//! Early-warning benchmark: lead time before the critical alert on a gradual decline,
//! and false alarms on stable data. Runs the real path (JSON → validation → Arrow →
//! rule stage with the built-in `kiosk_pass_rate` rule) on simulated kiosk tests.
//!
//! Method (BENCHMARKS.md, "Early warning"):
//! - decline: one market, `volume` tests a day at random times; 30 days at 98 % (the
//!   baseline's history), then a linear decline from 98 % to 80 % over 72 h, then 24 h
//!   at 80 %. Lead = first critical alert − first early warning (event time). Trials
//!   with a different seed each.
//! - stable: 100 markets at 96 % for 60 days; early warnings in the last 30 days (the
//!   first 30 are the baseline's warm-up) per 100 group-weeks.
//!
//! `cargo bench -p hub-processors --bench early_warning [-- <volumes> <trials>]`,
//! e.g. `-- 48,96,144 100`.

use std::collections::BTreeMap;
use std::time::Duration;

use hub_model::batch::TableBuilder;
use hub_model::schema::Table;
use hub_model::{Feed, KafkaMeta, Severity, Tick, Timestamp, TransitionKind, Validator};
use hub_processors::rules::config::{default_rules, EvaluationConfig};
use hub_processors::rules::rule::CompiledRule;
use hub_processors::rules::stage::RuleStage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

/// The rule under test; `EW_LIMIT` / `EW_MEMORY` override its CUSUM parameters (for
/// calibration runs).
fn rule() -> hub_processors::rules::config::RuleSpec {
    let mut spec = default_rules()["kiosk_pass_rate"].clone();
    if let Some(h) = std::env::var("EW_LIMIT").ok().and_then(|v| v.parse().ok()) {
        spec.early_warning_limit = h;
    }
    if let Some(m) = std::env::var("EW_MEMORY").ok().and_then(|v| v.parse().ok()) {
        spec.early_warning_memory = m;
    }
    spec
}

fn stage() -> RuleStage {
    let mut specs = BTreeMap::new();
    specs.insert("kiosk_pass_rate".to_string(), rule());
    let rules = CompiledRule::compile_all(&specs).unwrap();
    RuleStage::new(rules, EvaluationConfig::default(), None)
}

struct Test {
    at: i64,
    market: usize,
    pass: bool,
}

/// Feeds the tests (sorted by time) through the stage; returns the transitions.
fn run(tests: &[Test]) -> Vec<hub_model::AlertTransition> {
    let validator = Validator {
        max_message_bytes: 1 << 20,
        max_future: Duration::from_secs(600),
    };
    let now = Timestamp(T0 + 400 * DAY);
    let mut stage = stage();
    let mut out = Vec::new();
    for (c, chunk) in tests.chunks(2_000).enumerate() {
        let mut b = TableBuilder::new(Table::KioskResults);
        for (i, t) in chunk.iter().enumerate() {
            let json = format!(
                r#"{{"event_id":"k-{c}-{i}","kiosk_id":"K-{m}","market_id":"M-330102-{m:03}","region_code":"330102","tested_at":"{at}","sample":{{"category":"vegetable","name":"spinach"}},"test_item":"organophosphate_carbamate","result":"{r}"}}"#,
                m = t.market,
                at = Timestamp(t.at),
                r = if t.pass { "pass" } else { "fail" },
            );
            let event = validator.decode(Feed::Kiosk, json.as_bytes(), now).unwrap();
            let meta = KafkaMeta {
                topic: "kiosk.results",
                partition: 0,
                offset: 0,
                kafka_timestamp: None,
                ingested_at: now,
            };
            b.append_event(&event, &meta);
        }
        let rows = vec![(Table::KioskResults, b.finish().unwrap())];
        out.extend(
            stage
                .process(
                    &rows,
                    &Tick {
                        wall: now,
                        quiet_for: Some(Duration::ZERO),
                        partitions: None,
                    },
                )
                .unwrap(),
        );
    }
    let end = Tick {
        wall: Timestamp(now.0 + 3_600_000_000),
        quiet_for: Some(Duration::from_secs(1)),
        partitions: None,
    };
    out.extend(stage.process(&[], &end).unwrap());
    out
}

fn times(rng: &mut ChaCha8Rng, volume: f64, from: i64, to: i64) -> Vec<i64> {
    let n = ((to - from) as f64 / DAY as f64 * volume).round() as usize;
    let mut t: Vec<i64> = (0..n).map(|_| rng.random_range(from..to)).collect();
    t.sort_unstable();
    t
}

/// Lead time in hours (critical − early warning), or why there is none.
fn decline_trial(seed: u64, volume: f64) -> Result<f64, &'static str> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = T0 + 30 * DAY;
    let end = start + 96 * HOUR;
    let tests: Vec<Test> = times(&mut rng, volume, T0, end)
        .into_iter()
        .map(|at| {
            let p = if at < start {
                0.98
            } else {
                (0.98 - 0.18 * (at - start) as f64 / (72 * HOUR) as f64).max(0.80)
            };
            Test {
                at,
                market: 1,
                pass: rng.random_bool(p),
            }
        })
        .collect();
    let transitions = run(&tests);
    let ew = transitions
        .iter()
        .find(|t| {
            t.kind == TransitionKind::Firing
                && t.alert.severity == Severity::EarlyWarning
                && t.at.0 >= start - DAY
        })
        .map(|t| t.at.0);
    let crit = transitions
        .iter()
        .find(|t| {
            t.alert.severity == Severity::Critical
                && matches!(
                    t.kind,
                    TransitionKind::Firing | TransitionKind::SeverityChanged
                )
                && t.at.0 >= start
        })
        .map(|t| t.at.0);
    match (ew, crit) {
        (Some(e), Some(c)) => Ok((c - e) as f64 / HOUR as f64),
        (None, _) => Err("no early warning"),
        (_, None) => Err("no critical alert"),
    }
}

/// Early warnings per 100 group-weeks on stable 96 % data.
fn stable(seed: u64, volume: f64, groups: usize) -> (usize, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let measured_from = T0 + 30 * DAY;
    let end = T0 + 60 * DAY;
    let mut tests: Vec<Test> = Vec::new();
    for m in 0..groups {
        for at in times(&mut rng, volume, T0, end) {
            tests.push(Test {
                at,
                market: m,
                pass: rng.random_bool(0.96),
            });
        }
    }
    tests.sort_by_key(|t| t.at);
    let alarms = run(&tests)
        .iter()
        .filter(|t| {
            t.kind == TransitionKind::Firing
                && t.alert.severity == Severity::EarlyWarning
                && t.at.0 >= measured_from
        })
        .count();
    let group_weeks = groups as f64 * 30.0 / 7.0;
    (alarms, alarms as f64 / group_weeks * 100.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let volumes: Vec<f64> = args.first().map_or(vec![48.0, 96.0, 144.0], |v| {
        v.split(',').map(|x| x.parse().unwrap()).collect()
    });
    let trials: u64 = args.get(1).map_or(100, |t| t.parse().unwrap());
    println!(
        "early warning: kiosk_pass_rate (24 h window, bars 95 % / 85 %), CUSUM h = {}, memory = {} tests",
        rule().early_warning_limit,
        rule().early_warning_memory
    );
    println!("| tests/day | decline trials | lead median (h) | lead 5th pct (h) | lead min (h) | trials with lead ≥ 12 h | missed | stable: early warnings / 100 group-weeks (alarms, 100 groups × 30 d) |");
    println!("|---|---|---|---|---|---|---|---|");
    for volume in volumes {
        let mut leads = Vec::new();
        let mut missed = 0;
        for seed in 0..trials {
            match decline_trial(seed, volume) {
                Ok(l) => leads.push(l),
                Err(_) => missed += 1,
            }
        }
        leads.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let ok = leads.iter().filter(|l| **l >= 12.0).count();
        let (alarms, rate) = stable(1_000 + volume as u64, volume, 100);
        println!(
            "| {volume} | {trials} | {:.1} | {:.1} | {:.1} | {ok} ({:.0} %) | {missed} | {rate:.2} ({alarms}) |",
            percentile(&leads, 0.5),
            percentile(&leads, 0.05),
            leads.first().copied().unwrap_or(f64::NAN),
            ok as f64 * 100.0 / trials as f64,
        );
    }
}
