//! Trailing event-time windows made of panes.
//!
//! A rule's window of length `W` is cut into panes of width `p` (`W` a multiple of `p`).
//! An observation lands in the pane `floor(t / p)`; the window at instant `T` is the
//! `W / p` panes ending with the pane that holds `T`, so it covers `(T − W, T]` rounded
//! out to pane boundaries (at most one pane more than `W`). The window keeps the
//! non-empty panes and running totals: adding an observation and expiring a pane are
//! O(1), whatever the window's length.

use std::collections::VecDeque;

use hub_model::Timestamp;
use serde::{Deserialize, Serialize};

/// Pane arithmetic of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaneGrid {
    /// Pane width in microseconds.
    pub width: i64,
    /// Panes per window.
    pub count: i64,
}

impl PaneGrid {
    pub fn new(window_micros: i64, pane_micros: i64) -> Self {
        debug_assert!(pane_micros > 0 && window_micros % pane_micros == 0);
        PaneGrid {
            width: pane_micros,
            count: window_micros / pane_micros,
        }
    }

    pub fn pane_of(self, t: Timestamp) -> i64 {
        t.0.div_euclid(self.width)
    }

    /// The oldest pane still inside the window at instant `t`.
    pub fn first_pane_at(self, t: Timestamp) -> i64 {
        self.pane_of(t) - self.count + 1
    }

    pub fn pane_start(self, pane: i64) -> Timestamp {
        Timestamp(pane * self.width)
    }

    /// The instant at which `pane` leaves the window.
    pub fn expiry_of(self, pane: i64) -> Timestamp {
        Timestamp((pane + self.count) * self.width)
    }
}

/// One pane's sums.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pane {
    pub index: i64,
    pub num: f64,
    pub den: f64,
}

/// The non-empty panes of one group's window, oldest first, and their totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaneWindow {
    panes: VecDeque<Pane>,
    num: f64,
    den: f64,
}

impl PaneWindow {
    /// Adds (or, with negative values, retracts) an observation in `pane`.
    /// Panes arrive mostly in order; a late pane is inserted in place.
    pub fn add(&mut self, pane: i64, num: f64, den: f64) {
        self.num += num;
        self.den += den;
        match self.panes.back_mut() {
            Some(last) if last.index == pane => {
                last.num += num;
                last.den += den;
            }
            Some(last) if last.index > pane => {
                match self.panes.binary_search_by_key(&pane, |p| p.index) {
                    Ok(i) => {
                        self.panes[i].num += num;
                        self.panes[i].den += den;
                    }
                    Err(i) => self.panes.insert(
                        i,
                        Pane {
                            index: pane,
                            num,
                            den,
                        },
                    ),
                }
            }
            _ => self.panes.push_back(Pane {
                index: pane,
                num,
                den,
            }),
        }
    }

    /// Drops every pane older than `first`; returns how many were dropped.
    pub fn expire_before(&mut self, first: i64) -> usize {
        let mut dropped = 0;
        while let Some(p) = self.panes.front() {
            if p.index >= first {
                break;
            }
            self.num -= p.num;
            self.den -= p.den;
            self.panes.pop_front();
            dropped += 1;
        }
        if self.panes.is_empty() {
            // No drift from float subtraction once the window is empty.
            self.num = 0.0;
            self.den = 0.0;
        }
        dropped
    }

    pub fn num(&self) -> f64 {
        self.num
    }

    pub fn den(&self) -> f64 {
        self.den
    }

    pub fn oldest_pane(&self) -> Option<i64> {
        self.panes.front().map(|p| p.index)
    }

    pub fn pane_count(&self) -> usize {
        self.panes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: i64 = 60_000_000;

    #[test]
    fn window_covers_the_trailing_panes() {
        let grid = PaneGrid::new(24 * 60 * MIN, 15 * MIN);
        assert_eq!(grid.count, 96);
        let t = Timestamp(1_000 * 15 * MIN + 7 * MIN);
        assert_eq!(grid.pane_of(t), 1_000);
        assert_eq!(grid.first_pane_at(t), 905);
        assert_eq!(grid.expiry_of(905), Timestamp(1_001 * 15 * MIN));
        // Negative instants (before 1970) still land in the right pane.
        assert_eq!(grid.pane_of(Timestamp(-1)), -1);
    }

    #[test]
    fn retraction_and_expiry_keep_totals() {
        let mut w = PaneWindow::default();
        w.add(5, 1.0, 1.0);
        w.add(7, 0.0, 1.0);
        w.add(6, 1.0, 1.0); // late, inserted in place
        w.add(7, 0.0, -1.0); // retracted
        assert_eq!((w.num(), w.den()), (2.0, 2.0));
        assert_eq!(w.expire_before(6), 1);
        assert_eq!((w.num(), w.den()), (1.0, 1.0));
        assert_eq!(w.oldest_pane(), Some(6));
    }

    proptest! {
        /// The running totals equal a recount of the panes still in the window, after
        /// any sequence of in-order, late and retracting observations and expiries.
        #[test]
        fn running_totals_equal_a_recount(
            ops in proptest::collection::vec((0i64..200, 0u8..3, 0u8..4, any::<bool>()), 1..300),
            window in 1i64..50,
        ) {
            let mut w = PaneWindow::default();
            let mut all: Vec<(i64, f64, f64)> = Vec::new();
            let mut now = 0i64;
            for (pane, num, den, advance) in ops {
                let (num, den) = (num.min(den) as f64, den as f64);
                let first = now - window + 1;
                if pane >= first {
                    w.add(pane, num, den);
                    all.push((pane, num, den));
                }
                if advance {
                    now = now.max(pane);
                    w.expire_before(now - window + 1);
                }
                let first = now - window + 1;
                let (n, d) = all.iter().filter(|(p, _, _)| *p >= first)
                    .fold((0.0, 0.0), |(n, d), (_, a, b)| (n + a, d + b));
                prop_assert_eq!((w.num(), w.den()), (n, d));
                prop_assert!(w.pane_count() <= all.len());
            }
        }

        /// Every instant lies in exactly one pane, and the window at `t` always holds
        /// `t`'s pane and `count` panes in all.
        #[test]
        fn pane_arithmetic(t in -1_000_000_000_000i64..1_000_000_000_000, width in 1i64..10_000_000, count in 1i64..1_000) {
            let grid = PaneGrid { width, count };
            let p = grid.pane_of(Timestamp(t));
            prop_assert!(grid.pane_start(p).0 <= t && t < grid.pane_start(p + 1).0);
            prop_assert_eq!(p - grid.first_pane_at(Timestamp(t)) + 1, count);
            // A pane leaves the window exactly at its expiry instant.
            let first = grid.first_pane_at(Timestamp(t));
            prop_assert!(grid.expiry_of(first).0 > t);
            prop_assert_eq!(grid.first_pane_at(grid.expiry_of(first)), first + 1);
        }
    }
}
