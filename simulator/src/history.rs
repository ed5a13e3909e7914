//! Past traffic: messages with event times spread over an interval at a mean rate that
//! follows the daily rhythm. For backfills and benchmarks.

use chrono::{DateTime, Utc};
use rand::SeedableRng;

use crate::error::SimError;
use crate::generator::{Generator, SimConfig, SimMessage};
use crate::ids::stream_seed;
use crate::incidents::IncidentSites;
use crate::rhythm::{local_hour, rhythm};
use crate::sampling::{exponential, SimRng};
use crate::scenario::RunSpan;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Messages over `[start, end)` at `mean_rate` messages per second on average: arrivals
/// are a Poisson process whose rate follows [`rhythm`] hour by hour (+08:00 hours fall on
/// UTC hour boundaries). Messages come in the order of their generation time; a small
/// share of export versions is deliberately late (see [`SimMessage::event_time`]).
/// The run's incidents unfold over the interval. Deterministic for a seed.
pub fn history(
    cfg: &SimConfig,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    mean_rate: f64,
) -> Result<History, SimError> {
    if !(mean_rate.is_finite() && mean_rate > 0.0) {
        return Err(SimError::InvalidConfig(format!(
            "the history rate must be a positive number of messages per second, got {mean_rate}"
        )));
    }
    if end <= start {
        return Err(SimError::InvalidConfig(format!(
            "the history interval is empty: end {end} is not after start {start}"
        )));
    }
    let generator = Generator::new(cfg, RunSpan::between(start, end))?;
    Ok(History {
        generator,
        arrivals: SimRng::seed_from_u64(stream_seed(cfg.seed, 4)),
        now_micros: start.timestamp_micros(),
        end_micros: end.timestamp_micros(),
        mean_rate,
    })
}

/// The iterator [`history`] returns.
#[derive(Debug)]
pub struct History {
    generator: Generator,
    arrivals: SimRng,
    now_micros: i64,
    end_micros: i64,
    mean_rate: f64,
}

impl History {
    /// The generator behind the messages (population, incident sites).
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// The struck sites, in the incidents scenario.
    pub fn incident_sites(&self) -> Option<&IncidentSites> {
        self.generator.incident_sites()
    }

    /// The next arrival time after `now_micros`, or `None` past the end. Within an hour
    /// the rate is constant; a wait that crosses into the next hour restarts from the
    /// boundary at that hour's rate (exact, as waiting times are memoryless).
    fn next_arrival(&mut self) -> Option<DateTime<Utc>> {
        let mut t = self.now_micros;
        loop {
            let at = DateTime::from_timestamp_micros(t)?;
            let rate = self.mean_rate * rhythm(local_hour(at));
            let wait = (exponential(&mut self.arrivals, rate) * 1e6).ceil() as i64;
            let boundary = (t.div_euclid(MICROS_PER_HOUR) + 1) * MICROS_PER_HOUR;
            let next = t.saturating_add(wait.max(1));
            if next < boundary {
                t = next;
                break;
            }
            if boundary >= self.end_micros {
                t = boundary;
                break;
            }
            t = boundary;
        }
        self.now_micros = t;
        if t >= self.end_micros {
            return None;
        }
        DateTime::from_timestamp_micros(t)
    }
}

impl Iterator for History {
    type Item = SimMessage;

    fn next(&mut self) -> Option<SimMessage> {
        let at = self.next_arrival()?;
        Some(self.generator.next_message(at))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn day_start() -> DateTime<Utc> {
        // 2026-11-20T16:00:00Z = 2026-11-21T00:00:00+08:00
        DateTime::from_timestamp(1_795_190_400, 0).unwrap_or_default()
    }

    #[test]
    fn follows_the_rate_and_the_rhythm() {
        let start = day_start();
        let end = start + TimeDelta::days(2);
        let messages: Vec<SimMessage> = history(&SimConfig::default(), start, end, 0.1)
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        let expected = 0.1 * 2.0 * 86_400.0;
        let n = messages.len() as f64;
        assert!((n - expected).abs() < expected * 0.05, "{n} vs {expected}");

        let mut per_hour = [0u32; 24];
        let mut last = start;
        for m in &messages {
            assert!(m.event_time >= start && m.event_time < end);
            per_hour[local_hour(m.event_time) as usize] += 1;
            let late = m
                .event_id
                .as_deref()
                .is_some_and(|id| id.starts_with("ex-"))
                && m.event_time < last;
            if !late {
                assert!(m.event_time >= last, "out of order: {:?}", m.event_id);
                last = m.event_time;
            }
        }
        let morning: u32 = per_hour[6..10].iter().sum();
        let night: u32 = per_hour[0..4].iter().sum();
        assert!(morning > 8 * night, "morning {morning}, night {night}");
    }

    #[test]
    fn same_seed_same_history() {
        let start = day_start();
        let end = start + TimeDelta::hours(3);
        let a: Vec<_> = history(&SimConfig::default(), start, end, 0.5)
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        let b: Vec<_> = history(&SimConfig::default(), start, end, 0.5)
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        assert!(!a.is_empty());
        assert_eq!(a, b);
    }

    #[test]
    fn refuses_bad_arguments() {
        let start = day_start();
        let cfg = SimConfig::default();
        assert!(history(&cfg, start, start, 1.0).is_err());
        assert!(history(&cfg, start, start + TimeDelta::hours(1), 0.0).is_err());
        assert!(history(&cfg, start, start + TimeDelta::hours(1), f64::NAN).is_err());
    }
}
