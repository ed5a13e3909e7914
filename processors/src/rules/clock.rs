//! Event-time progress per source partition.
//!
//! The watermark follows the *slowest* active partition (as Flink does), not the newest
//! event seen: when the hub catches up after a restart and one partition's backlog is
//! read before another's, the fast partition cannot push the clock past events the slow
//! one has yet to deliver. An assigned partition that has not delivered anything yet
//! holds the clock while it has a backlog (or its backlog is not known yet). A
//! partition that has delivered nothing for the idle timeout (processing time, while
//! partitions are assigned) stops holding the clock back; so does one no longer
//! assigned. When no partition holds it, the clock may move to the newest event seen.

use std::collections::BTreeMap;

use hub_model::{PartitionBacklog, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct PartitionClock {
    /// The newest event time this partition has delivered (`None`: nothing yet).
    max: Option<Timestamp>,
    /// When it last delivered a row (processing time); `None` until the quiet clock
    /// starts (after a restart, or while no partition is assigned).
    #[serde(skip)]
    last_row: Option<i64>,
    /// Assignment as the pipeline last reported it (`Unknown` when it does not report
    /// one, as in tests that drive the stage directly, and after a restart).
    #[serde(skip)]
    assignment: Assignment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Assignment {
    #[default]
    Unknown,
    /// Assigned, with messages still to deliver (or a backlog not known yet).
    Backlog,
    /// Assigned and caught up.
    CaughtUp,
    Revoked,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionClocks {
    partitions: BTreeMap<(String, i32), PartitionClock>,
}

/// How far the partitions let the clock go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frontier {
    /// The oldest newest-event among active partitions: hold back the allowed lateness.
    Active(Timestamp),
    /// Every partition is idle: everything seen may be processed.
    AllIdle(Timestamp),
}

impl PartitionClocks {
    /// A row of `topic`/`partition` with event time `time` arrived at `wall`.
    pub fn saw(&mut self, topic: &str, partition: i32, time: Timestamp, wall: Timestamp) {
        match self.partitions.get_mut(&(topic.to_string(), partition)) {
            Some(p) => {
                p.max = Some(p.max.map_or(time, |m| m.max(time)));
                p.last_row = Some(wall.0);
            }
            None => {
                self.partitions.insert(
                    (topic.to_string(), partition),
                    PartitionClock {
                        max: Some(time),
                        last_row: Some(wall.0),
                        assignment: Assignment::Unknown,
                    },
                );
            }
        }
    }

    /// The consumer's assignment: partitions not in it stop holding the clock; newly
    /// assigned ones hold it until they deliver, go quiet, or are known to be caught up.
    /// An empty assignment (a rebalance in progress, a restart waiting for the group)
    /// changes nothing: every partition keeps holding the clock until the next one.
    pub fn assigned(&mut self, partitions: &[PartitionBacklog], wall: Timestamp) {
        if partitions.is_empty() {
            return;
        }
        for p in self.partitions.values_mut() {
            p.assignment = Assignment::Revoked;
        }
        for b in partitions {
            let state = if b.backlog.is_some_and(|l| l <= 0) {
                Assignment::CaughtUp
            } else {
                Assignment::Backlog
            };
            let p = self
                .partitions
                .entry((b.topic.clone(), b.partition))
                .or_insert(PartitionClock {
                    max: None,
                    last_row: Some(wall.0),
                    assignment: state,
                });
            p.assignment = state;
        }
    }

    /// No partition is assigned (a rebalance, a restart waiting for the group): no
    /// partition's quiet time counts until they are assigned again.
    pub fn pause_quiet_clocks(&mut self) {
        for p in self.partitions.values_mut() {
            p.last_row = None;
        }
    }

    /// Partitions are assigned: quiet time counts from now for those not yet timed.
    pub fn start_quiet_clocks(&mut self, wall: Timestamp) {
        for p in self.partitions.values_mut() {
            p.last_row.get_or_insert(wall.0);
        }
    }

    /// The newest event time seen on any partition.
    pub fn newest(&self) -> Option<Timestamp> {
        self.partitions.values().filter_map(|p| p.max).max()
    }

    /// `idle_after`: microseconds of silence after which a partition stops holding the
    /// clock back (`None`: never). `None` when nothing has been seen, or a partition
    /// that has yet to deliver its backlog holds the clock where it is.
    pub fn frontier(&self, wall: Timestamp, idle_after: Option<i64>) -> Option<Frontier> {
        let newest = self.newest()?;
        let mut active: Option<Timestamp> = None;
        for p in self.partitions.values() {
            let quiet = match (idle_after, p.last_row) {
                (Some(idle), Some(last)) => wall.0 - last >= idle,
                _ => false,
            };
            if quiet || p.assignment == Assignment::Revoked {
                continue;
            }
            match p.max {
                Some(m) => active = Some(active.map_or(m, |a| a.min(m))),
                None if p.assignment == Assignment::CaughtUp => {}
                None => return None,
            }
        }
        Some(match active {
            Some(t) => Frontier::Active(t),
            None => Frontier::AllIdle(newest),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    #[test]
    fn the_slowest_active_partition_holds_the_clock() {
        let mut c = PartitionClocks::default();
        c.saw("k", 0, Timestamp(100 * S), Timestamp(0));
        c.saw("k", 1, Timestamp(40 * S), Timestamp(0));
        assert_eq!(
            c.frontier(Timestamp(S / 10), Some(S)),
            Some(Frontier::Active(Timestamp(40 * S)))
        );
        // Partition 1 stays quiet for the idle timeout: it no longer holds the clock.
        c.saw("k", 0, Timestamp(120 * S), Timestamp(2 * S));
        assert_eq!(
            c.frontier(Timestamp(2 * S), Some(S)),
            Some(Frontier::Active(Timestamp(120 * S)))
        );
        // Without idleness it would hold it for ever.
        assert_eq!(
            c.frontier(Timestamp(2 * S), None),
            Some(Frontier::Active(Timestamp(40 * S)))
        );
        // Everything quiet: all seen may go.
        assert_eq!(
            c.frontier(Timestamp(10 * S), Some(S)),
            Some(Frontier::AllIdle(Timestamp(120 * S)))
        );
    }

    #[test]
    fn quiet_time_does_not_count_while_unassigned_or_before_the_clock_starts() {
        let mut c = PartitionClocks::default();
        c.saw("k", 0, Timestamp(100 * S), Timestamp(0));
        c.saw("k", 1, Timestamp(40 * S), Timestamp(0));
        c.pause_quiet_clocks();
        assert_eq!(
            c.frontier(Timestamp(60 * S), Some(S)),
            Some(Frontier::Active(Timestamp(40 * S)))
        );
        c.start_quiet_clocks(Timestamp(60 * S));
        assert_eq!(
            c.frontier(Timestamp(60 * S), Some(S)),
            Some(Frontier::Active(Timestamp(40 * S)))
        );
        assert_eq!(
            c.frontier(Timestamp(62 * S), Some(S)),
            Some(Frontier::AllIdle(Timestamp(100 * S)))
        );
    }

    fn backlog(topic: &str, partition: i32, backlog: Option<i64>) -> PartitionBacklog {
        PartitionBacklog {
            topic: topic.into(),
            partition,
            backlog,
        }
    }

    #[test]
    fn an_assigned_partition_with_a_backlog_holds_the_clock_until_it_delivers() {
        let mut c = PartitionClocks::default();
        c.assigned(
            &[
                backlog("k", 0, Some(100)),
                backlog("x", 0, None),
                backlog("s", 0, Some(0)),
            ],
            Timestamp(0),
        );
        c.saw("k", 0, Timestamp(100 * S), Timestamp(0));
        // x has not delivered and its backlog is unknown: the clock waits for it.
        assert_eq!(c.frontier(Timestamp(0), None), None);
        c.saw("x", 0, Timestamp(30 * S), Timestamp(0));
        // s is caught up and empty: it does not hold anything.
        assert_eq!(
            c.frontier(Timestamp(0), None),
            Some(Frontier::Active(Timestamp(30 * S)))
        );
        // x revoked (another instance owns it now): it no longer holds the clock.
        c.assigned(&[backlog("k", 0, Some(0))], Timestamp(0));
        assert_eq!(
            c.frontier(Timestamp(0), None),
            Some(Frontier::Active(Timestamp(100 * S)))
        );
    }

    #[test]
    fn a_restored_clock_starts_with_every_partition_active() {
        let mut c = PartitionClocks::default();
        c.saw("k", 0, Timestamp(100 * S), Timestamp(0));
        let restored: PartitionClocks =
            postcard::from_bytes(&postcard::to_allocvec(&c).unwrap()).unwrap();
        assert_eq!(
            restored.frontier(Timestamp(1_000 * S), Some(S)),
            Some(Frontier::Active(Timestamp(100 * S)))
        );
    }
}
