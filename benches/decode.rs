//! Benchmark (a): decode + validate + Arrow build, events/s on one core, next to plain
//! `serde_json` parsing of the same messages into a `serde_json::Value` (the practical
//! limit of "reading JSON"). Run: `cargo bench --bench decode`.
//!
//! Method: 200 000 realistic messages of all three feeds (the simulator's `steady`
//! history, seed 2026) are generated up front. Each variant walks all of them once per
//! round, single-threaded; 7 rounds, the median round is reported. The hub variant
//! builds RecordBatches of 2 048 rows, as the pipeline does.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use hub_model::batch::TableBuilder;
use hub_model::schema::Table;
use hub_model::{Feed, KafkaMeta, Timestamp, Validator};
use hub_simulator::{history, SimConfig};

const MESSAGES: usize = 200_000;
const ROUNDS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let end = Utc::now() - TimeDelta::hours(1);
    let start = end - TimeDelta::days(1);
    let messages: Vec<(Feed, Vec<u8>)> = history(&SimConfig::default(), start, end, 10.0)
        .expect("history")
        .filter(|m| m.valid)
        .take(MESSAGES)
        .map(|m| (m.feed, m.payload))
        .collect();
    let n = messages.len();
    let bytes: usize = messages.iter().map(|(_, p)| p.len()).sum();
    println!(
        "{n} messages, {:.0} bytes on average",
        bytes as f64 / n as f64
    );

    let serde_rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            for (_, p) in &messages {
                black_box(serde_json::from_slice::<serde_json::Value>(p).expect("valid JSON"));
            }
            t.elapsed()
        })
        .collect();

    let validator = Validator::default();
    let now = Timestamp::now();
    let hub_rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            let mut builders: Vec<TableBuilder> =
                Table::ALL.iter().map(|t| TableBuilder::new(*t)).collect();
            let mut rows = 0;
            for (i, (feed, p)) in messages.iter().enumerate() {
                let event = validator
                    .decode(*feed, p, now)
                    .expect("the simulator's valid messages validate");
                let meta = KafkaMeta {
                    topic: feed.default_topic(),
                    partition: 0,
                    offset: i as i64,
                    kafka_timestamp: None,
                    ingested_at: now,
                };
                builders[Table::of_feed(*feed).index()].append_event(&event, &meta);
                rows += 1;
                if rows == 2048 {
                    for b in &mut builders {
                        if !b.is_empty() {
                            black_box(b.finish().expect("batch"));
                        }
                    }
                    rows = 0;
                }
            }
            for b in &mut builders {
                if !b.is_empty() {
                    black_box(b.finish().expect("batch"));
                }
            }
            t.elapsed()
        })
        .collect();

    let serde = median(serde_rounds);
    let hub = median(hub_rounds);
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "serde_json::Value parse         {:>12.0} events/s",
        rate(serde)
    );
    println!(
        "hub decode+validate+Arrow build {:>12.0} events/s",
        rate(hub)
    );
    println!(
        "ratio hub / serde_json          {:>12.2}",
        rate(hub) / rate(serde)
    );
}
