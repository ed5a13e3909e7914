//! Scenario-level tests: what the hub's developers rely on when they feed it simulated
//! traffic. Each module's own details are tested beside it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hub_model::event::Event;
use hub_model::export::InspectionStatus;
use hub_model::kiosk::{TestItem, TestResult};
use hub_model::{Feed, ReasonClass, Timestamp, Validator};

use crate::{Defect, Generator, RunSpan, Scenario, SimConfig, SimMessage};

fn start() -> DateTime<Utc> {
    // 2026-11-21T06:00:00+08:00
    DateTime::from_timestamp(1_795_212_000, 0).unwrap_or_default()
}

/// `n` messages at evenly spaced event times over a run of `run`.
fn run(cfg: &SimConfig, n: u32, run: Duration) -> (Generator, Vec<SimMessage>) {
    let span = RunSpan::new(start(), run);
    let mut generator = Generator::new(cfg, span).unwrap_or_else(|e| panic!("{e}"));
    let step = run.as_secs_f64() / f64::from(n);
    let messages = (0..n)
        .map(|i| {
            let at = start() + TimeDelta::microseconds((f64::from(i) * step * 1e6) as i64);
            generator.next_message(at)
        })
        .collect();
    (generator, messages)
}

fn cfg(scenario: Scenario, seed: u64) -> SimConfig {
    SimConfig {
        seed,
        scenario,
        ..SimConfig::default()
    }
}

fn decode(message: &SimMessage) -> Result<Event<'_>, hub_model::Rejection> {
    let now = Timestamp((message.event_time + TimeDelta::minutes(1)).timestamp_micros());
    Validator::default().decode(message.feed, &message.payload, now)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for scenario in Scenario::ALL {
        let (_, a) = run(&cfg(scenario, 7), 3_000, Duration::from_secs(600));
        let (_, b) = run(&cfg(scenario, 7), 3_000, Duration::from_secs(600));
        assert_eq!(a, b, "{scenario}");
        let (_, c) = run(&cfg(scenario, 8), 3_000, Duration::from_secs(600));
        assert_ne!(a, c, "{scenario}");
    }
}

#[test]
fn every_valid_message_of_every_scenario_decodes() {
    for scenario in Scenario::ALL {
        let (_, messages) = run(&cfg(scenario, 21), 15_000, Duration::from_secs(3_600));
        for message in messages.iter().filter(|m| m.valid) {
            let event = decode(message).unwrap_or_else(|r| {
                panic!(
                    "{scenario}: {} rejected: {r}\n{}",
                    message.feed,
                    String::from_utf8_lossy(&message.payload)
                )
            });
            assert_eq!(event.feed(), message.feed);
            assert_eq!(Some(event.event_id()), message.event_id.as_deref());
            assert_eq!(event.region_code(), message.key);
            assert_eq!(
                event.event_time(),
                Timestamp(message.event_time.timestamp_micros())
            );
            assert!(message.defect.is_none());
        }
    }
}

#[test]
fn payloads_read_like_the_examples() {
    let (_, messages) = run(&cfg(Scenario::Steady, 3), 2_000, Duration::from_secs(600));
    let text = |feed: Feed| {
        messages
            .iter()
            .find(|m| m.feed == feed)
            .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
            .unwrap_or_default()
    };
    let kiosk = text(Feed::Kiosk);
    assert!(kiosk.starts_with(r#"{"event_id":"kq-"#), "{kiosk}");
    assert!(kiosk.contains(r#""kiosk_id":"K-"#) && kiosk.contains(r#""market_id":"M-"#));
    assert!(kiosk.contains("+08:00"), "{kiosk}");
    let slaughter = text(Feed::Slaughter);
    assert!(
        slaughter.starts_with(r#"{"event_id":"sl-S-"#),
        "{slaughter}"
    );
    let export = text(Feed::Export);
    assert!(export.starts_with(r#"{"event_id":"ex-"#), "{export}");
    let number = export
        .split(r#""declaration_no":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default();
    assert_eq!(number.len(), 18, "{export}");
    assert!(number.bytes().all(|b| b.is_ascii_digit()));
    assert!(export.contains(r#""enterprise_id":""#) && export.contains("EXP"));
}

#[test]
fn every_invalid_message_is_rejected_with_its_class() {
    let (_, messages) = run(&cfg(Scenario::Bad, 5), 12_000, Duration::from_secs(3_600));
    let invalid: Vec<&SimMessage> = messages.iter().filter(|m| !m.valid).collect();
    let share = invalid.len() as f64 / messages.len() as f64;
    assert!((0.04..0.06).contains(&share), "{share}");
    let mut classes = HashSet::new();
    let mut defects = HashSet::new();
    for message in invalid {
        let Some(defect) = message.defect else {
            panic!("an invalid message names its defect");
        };
        assert_eq!(message.feed, defect.feed());
        match decode(message) {
            Ok(_) => panic!(
                "{defect} accepted: {}",
                String::from_utf8_lossy(&message.payload)
            ),
            Err(rejection) => {
                assert_eq!(
                    rejection.class,
                    defect.reason_class(),
                    "{defect}: {rejection}"
                );
                classes.insert(rejection.class);
            }
        }
        defects.insert(defect);
    }
    assert_eq!(defects.len(), Defect::IN_STREAM.len());
    for class in ReasonClass::ALL {
        assert_eq!(
            classes.contains(&class),
            class != ReasonClass::TooLarge,
            "{class:?}"
        );
    }
    // The invalid.md's exact strings are there.
    let has = |needle: &[u8]| {
        messages
            .iter()
            .any(|m| m.payload.windows(needle.len()).any(|w| w == needle))
    };
    assert!(has(b"\xff\xfe\x00garbage"));
    assert!(has(br#""33A102""#) && has(br#""maybe""#) && has(br#""yesterday""#));
    assert!(has(br#""head_count":-3"#));
    assert!(messages.iter().any(|m| m.payload.is_empty()));
    assert!(messages.iter().any(|m| m.payload == b"[]"));
}

#[test]
fn steady_baseline_rates() {
    let (_, messages) = run(
        &cfg(Scenario::Steady, 9),
        40_000,
        Duration::from_secs(86_400),
    );
    let n = messages.len() as f64;
    let share = |feed: Feed| messages.iter().filter(|m| m.feed == feed).count() as f64 / n;
    assert!((0.83..0.87).contains(&share(Feed::Kiosk)));
    assert!((0.085..0.115).contains(&share(Feed::Export)));
    assert!((0.04..0.06).contains(&share(Feed::Slaughter)));

    let (mut pass, mut fail, mut invalid, mut beta, mut beta_positive) = (0, 0, 0, 0, 0);
    let mut latest: HashMap<String, (Timestamp, InspectionStatus)> = HashMap::new();
    let (mut declarations, mut marked) = (HashSet::new(), 0);
    let mut out_of_order = 0;
    for message in &messages {
        match decode(message) {
            Ok(Event::Kiosk(k)) => {
                match k.result {
                    TestResult::Pass => pass += 1,
                    TestResult::Fail => fail += 1,
                    TestResult::Invalid => invalid += 1,
                }
                if k.test_item == TestItem::BetaAgonist && k.result != TestResult::Invalid {
                    beta += 1;
                    beta_positive += u32::from(k.result == TestResult::Fail);
                }
            }
            Ok(Event::Export(e)) => {
                if declarations.insert(e.declaration_no.to_string()) {
                    marked += u32::from(e.batch_marked);
                }
                let time = e.event_time();
                let entry = latest
                    .entry(e.declaration_no.to_string())
                    .or_insert((time, e.inspection.status));
                if time >= entry.0 {
                    *entry = (time, e.inspection.status);
                } else {
                    out_of_order += 1;
                }
            }
            Ok(Event::Slaughter(s)) => {
                assert!(s.quarantine_passed <= s.head_count);
                assert!(s.period_end.0 - s.period_start.0 <= 86_400_000_000);
            }
            Err(r) => panic!("steady messages are valid: {r}"),
        }
    }
    let kiosk_pass = f64::from(pass) / f64::from(pass + fail + invalid);
    assert!(
        (0.965..0.985).contains(&kiosk_pass),
        "kiosk pass {kiosk_pass}"
    );
    let invalid_share = f64::from(invalid) / f64::from(pass + fail + invalid);
    assert!(
        (0.006..0.015).contains(&invalid_share),
        "invalid {invalid_share}"
    );
    assert!(
        f64::from(beta_positive) / f64::from(beta) < 0.005,
        "{beta_positive}/{beta}"
    );

    let decided: Vec<_> = latest
        .values()
        .filter(|(_, s)| *s != InspectionStatus::Pending)
        .collect();
    let export_pass = decided
        .iter()
        .filter(|(_, s)| *s == InspectionStatus::Pass)
        .count() as f64
        / decided.len() as f64;
    assert!(
        (0.95..0.99).contains(&export_pass),
        "export pass {export_pass}"
    );
    let marked_share = f64::from(marked) / declarations.len() as f64;
    assert!(marked_share > 0.98, "batch marked {marked_share}");
    assert!(out_of_order > 0, "some versions arrive out of order");
}

#[test]
fn incidents_unfold_over_the_run() {
    let length = Duration::from_secs(4 * 3_600);
    let (generator, messages) = run(&cfg(Scenario::Incidents, 13), 60_000, length);
    let Some(sites) = generator.incident_sites() else {
        panic!("the incidents scenario names its sites");
    };
    let span = generator.span();
    let quarter = |t: DateTime<Utc>| ((span.progress(t) * 4.0) as usize).min(3);

    // The sinking market: a large share of tests, pass rate down from ~97 % to ~60 %.
    let mut market = [(0u32, 0u32); 4];
    let mut kiosk_tests = 0u32;
    // The growing plant's head per report; the silent plant's last report.
    let mut growing = [(0u64, 0u64); 4];
    let mut silent_reports = (0, 0);
    // The failing exporter's inspections after it turned.
    let (mut failing_pass, mut failing_fail) = (0, 0);
    for message in &messages {
        let Ok(event) = decode(message) else {
            panic!("incidents messages are valid");
        };
        let q = quarter(message.event_time);
        match event {
            Event::Kiosk(k) => {
                kiosk_tests += 1;
                if k.market_id == sites.sinking_market.id {
                    match k.result {
                        TestResult::Pass => market[q].0 += 1,
                        TestResult::Fail => market[q].1 += 1,
                        TestResult::Invalid => {}
                    }
                }
            }
            Event::Slaughter(s) => {
                if s.plant_id == sites.growing_plant.id {
                    assert!(!s.designated);
                    growing[q].0 += s.head_count;
                    growing[q].1 += 1;
                }
                if s.plant_id == sites.silent_plant.id {
                    if message.event_time < sites.silent_from {
                        silent_reports.0 += 1;
                    } else {
                        silent_reports.1 += 1;
                    }
                }
            }
            Event::Export(e) => {
                if e.enterprise_id == sites.failing_enterprise.id
                    && message.event_time >= sites.failing_from
                {
                    match e.inspection.status {
                        InspectionStatus::Pass => failing_pass += 1,
                        InspectionStatus::Fail => failing_fail += 1,
                        InspectionStatus::Pending => {}
                    }
                }
            }
        }
    }
    let rate = |(pass, fail): (u32, u32)| f64::from(pass) / f64::from(pass + fail);
    let tested: u32 = market.iter().map(|(p, f)| p + f).sum();
    assert!(
        f64::from(tested) / f64::from(kiosk_tests) > 0.025,
        "{tested} of {kiosk_tests}"
    );
    let (first, last) = (rate(market[0]), rate(market[3]));
    assert!(first > 0.88, "first quarter {first} ({:?})", market[0]);
    assert!(last < 0.75, "last quarter {last} ({:?})", market[3]);

    assert!(
        silent_reports.0 > 0,
        "the silent plant reported before its cut-off"
    );
    assert_eq!(
        silent_reports.1, 0,
        "the silent plant reported after its cut-off"
    );

    // Linear growth to 20×: ~3.4× the plant's base in the first quarter, ~17.6× in the
    // last; the plant reports rarely, so leave room for noise.
    let mean = |(head, reports): (u64, u64)| head as f64 / reports.max(1) as f64;
    assert!(growing[0].1 > 0 && growing[3].1 > 0, "{growing:?}");
    assert!(
        mean(growing[3]) > 3.0 * mean(growing[0]),
        "growing plant: {growing:?}"
    );

    let failing_share = f64::from(failing_fail) / f64::from(failing_pass + failing_fail);
    assert!(
        failing_share > 0.6,
        "{failing_fail} fail, {failing_pass} pass"
    );
}

#[test]
fn ids_are_unique_over_a_long_run() {
    let (_, messages) = run(
        &cfg(Scenario::Bad, 17),
        200_000,
        Duration::from_secs(86_400),
    );
    let mut seen = HashSet::with_capacity(messages.len());
    for message in &messages {
        if let Some(id) = &message.event_id {
            assert!(seen.insert(id.as_str()), "duplicate event id {id}");
        }
    }
    assert!(seen.len() > 190_000);
}

#[test]
fn runs_started_apart_use_distinct_ids() {
    let config = cfg(Scenario::Steady, 1);
    let ids = |start: DateTime<Utc>| {
        let mut generator = Generator::new(&config, RunSpan::new(start, Duration::from_secs(60)))
            .unwrap_or_else(|e| panic!("{e}"));
        (0..500)
            .filter_map(|i| {
                generator
                    .next_message(start + TimeDelta::seconds(i))
                    .event_id
            })
            .collect::<HashSet<_>>()
    };
    let a = ids(start());
    let b = ids(start() + TimeDelta::seconds(1));
    assert!(a.is_disjoint(&b));
}
