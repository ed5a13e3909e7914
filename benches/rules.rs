//! Benchmark (d): the rule stage's cost per event, one core, and that it does not grow
//! with the window's length. Run: `cargo bench --bench rules`.
//!
//! Method: 200 000 realistic valid events (the simulator's `incidents` history over
//! 3 days, seed 2026, default population) are decoded into Arrow batches of 2 048 rows
//! up front, in event-time order. Each round feeds all of them through a fresh
//! `RuleStage` (`process`, as the pipeline calls it); 5 rounds, the median is reported.
//! Variants: every built-in rule; and the built-in rules with every rate rule's window
//! set to 24 h and to 30 days with the same 15-minute panes (96 vs 2 880 panes a group).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use chrono::{TimeDelta, Utc};
use hub_model::batch::TableBuilder;
use hub_model::schema::Table;
use hub_model::{Feed, KafkaMeta, Tick, Timestamp, Validator};
use hub_processors::rules::config::{default_rules, EvaluationConfig, RuleKind, RuleSpec};
use hub_processors::rules::rule::CompiledRule;
use hub_processors::rules::stage::RuleStage;
use hub_simulator::{history, Scenario, SimConfig};

const EVENTS: usize = 200_000;
const ROUNDS: usize = 5;

fn batches() -> Vec<(Table, RecordBatch)> {
    let end = Utc::now() - TimeDelta::hours(1);
    let start = end - TimeDelta::days(3);
    let cfg = SimConfig {
        scenario: Scenario::Incidents,
        ..SimConfig::default()
    };
    let rate = EVENTS as f64 / (3.0 * 86_400.0) * 1.05;
    let validator = Validator::default();
    let now = Timestamp::now();
    let mut out = Vec::new();
    let mut builders: BTreeMap<Table, TableBuilder> = BTreeMap::new();
    let mut n = 0;
    for m in history(&cfg, start, end, rate)
        .expect("history")
        .filter(|m| m.valid)
        .take(EVENTS)
    {
        let event = validator.decode(m.feed, &m.payload, now).expect("valid");
        let table = Table::of_feed(m.feed);
        let meta = KafkaMeta {
            topic: m.feed.default_topic(),
            partition: 0,
            offset: n,
            kafka_timestamp: None,
            ingested_at: now,
        };
        let b = builders
            .entry(table)
            .or_insert_with(|| TableBuilder::new(table));
        b.append_event(&event, &meta);
        n += 1;
        if n % 2_048 == 0 {
            for (t, b) in builders.iter_mut().filter(|(_, b)| !b.is_empty()) {
                out.push((*t, b.finish().unwrap()));
            }
        }
    }
    for (t, b) in builders.iter_mut().filter(|(_, b)| !b.is_empty()) {
        out.push((*t, b.finish().unwrap()));
    }
    let _ = Feed::ALL;
    out
}

fn rate_rules_with(window: Duration, pane: Duration) -> BTreeMap<String, RuleSpec> {
    let mut rules = default_rules();
    for spec in rules.values_mut().filter(|s| s.kind == RuleKind::Rate) {
        spec.window = Some(window);
        spec.pane = Some(pane);
    }
    rules
}

fn run(specs: &BTreeMap<String, RuleSpec>, batches: &[(Table, RecordBatch)]) -> (Duration, usize) {
    let rules = CompiledRule::compile_all(specs).unwrap();
    let mut stage = RuleStage::new(rules, EvaluationConfig::default(), None);
    let tick = Tick {
        wall: Timestamp::now(),
        quiet_for: Some(Duration::ZERO),
        partitions: None,
    };
    let started = Instant::now();
    let mut transitions = 0;
    for b in batches {
        transitions += stage.process(std::slice::from_ref(b), &tick).unwrap().len();
    }
    (started.elapsed(), transitions)
}

fn main() {
    let batches = batches();
    let events: usize = batches.iter().map(|(_, b)| b.num_rows()).sum();
    println!("{events} events in {} batches", batches.len());
    println!("| rules | events/s (one core) | transitions |");
    println!("|---|---|---|");
    let variants = [
        ("all built-in rules", default_rules()),
        (
            "rate windows 24 h, 15 min panes",
            rate_rules_with(Duration::from_secs(86_400), Duration::from_secs(900)),
        ),
        (
            "rate windows 30 d, 15 min panes",
            rate_rules_with(Duration::from_secs(30 * 86_400), Duration::from_secs(900)),
        ),
    ];
    for (name, specs) in variants {
        let mut rounds: Vec<(Duration, usize)> =
            (0..ROUNDS).map(|_| run(&specs, &batches)).collect();
        rounds.sort();
        let (took, transitions) = rounds[ROUNDS / 2];
        println!(
            "| {name} | {:.0} | {transitions} |",
            events as f64 / took.as_secs_f64()
        );
    }
}
