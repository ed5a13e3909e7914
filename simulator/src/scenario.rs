//! What kind of traffic to simulate, and over which span of time a run unfolds.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::SimError;

/// The traffic a run produces.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// The baseline: healthy markets, plants and exporters.
    #[default]
    Steady,
    /// The baseline plus four incidents that unfold over the run (see
    /// [`IncidentSites`](crate::IncidentSites)).
    Incidents,
    /// The baseline mixed with ~5 % invalid messages of every kind the contract lists.
    Bad,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::Steady, Scenario::Incidents, Scenario::Bad];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::Incidents => "incidents",
            Scenario::Bad => "bad",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = SimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| SimError::UnknownScenario(name.to_string()))
    }
}

/// The span a run is expected to cover: incidents unfold relative to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSpan {
    pub start: DateTime<Utc>,
    pub duration: Duration,
}

impl RunSpan {
    pub fn new(start: DateTime<Utc>, duration: Duration) -> Self {
        RunSpan { start, duration }
    }

    /// The span `[start, end)`; empty when `end` is not after `start`.
    pub fn between(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        let duration = (end - start).to_std().unwrap_or(Duration::ZERO);
        RunSpan { start, duration }
    }

    /// The end of the span.
    pub fn end(&self) -> DateTime<Utc> {
        self.at(1.0)
    }

    /// How far into the span `at` lies: 0.0 at the start, 1.0 at the end and after.
    pub fn progress(&self, at: DateTime<Utc>) -> f64 {
        let total = self.duration.as_secs_f64();
        if total <= 0.0 {
            return if at >= self.start { 1.0 } else { 0.0 };
        }
        let elapsed = (at - self.start).as_seconds_f64();
        (elapsed / total).clamp(0.0, 1.0)
    }

    /// The instant at `fraction` of the span.
    pub fn at(&self, fraction: f64) -> DateTime<Utc> {
        let micros = self.duration.as_secs_f64() * fraction.clamp(0.0, 1.0) * 1e6;
        self.start + TimeDelta::microseconds(micros as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_names() {
        for sc in Scenario::ALL {
            assert_eq!(sc.as_str().parse::<Scenario>().ok(), Some(sc));
        }
        assert_eq!(
            " Incidents ".parse::<Scenario>().ok(),
            Some(Scenario::Incidents)
        );
        let err = "chaos".parse::<Scenario>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown scenario `chaos`: expected steady, incidents or bad")
        );
    }

    #[test]
    fn progress_is_clamped() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let span = RunSpan::new(start, Duration::from_secs(100));
        assert_eq!(span.progress(start - TimeDelta::seconds(5)), 0.0);
        assert!((span.progress(start + TimeDelta::seconds(25)) - 0.25).abs() < 1e-9);
        assert_eq!(span.progress(start + TimeDelta::seconds(500)), 1.0);
        assert_eq!(span.at(0.1), start + TimeDelta::seconds(10));
        assert_eq!(span.end(), start + TimeDelta::seconds(100));
        let empty = RunSpan::between(start, start);
        assert_eq!(empty.progress(start), 1.0);
    }
}
