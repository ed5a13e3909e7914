//! Rolling rates, rules and early warnings: the hub's reason to exist.
//!
//! Rules are configuration ([`config`]); each compiles into DataFusion expressions over
//! the feed tables ([`source`]) that turn every micro-batch of accepted rows into
//! observations. The [`engine`] folds them into pane windows ([`window`]) per group in
//! event time, evaluates bars with Wilson intervals ([`wilson`]), the CUSUM trend
//! detector ([`trend`]) and throughput baselines ([`baseline`]), and drives each
//! (rule, group)'s alert [`lifecycle`]. [`stage`] plugs the engine into the pipeline.

pub mod alert_text;
pub mod baseline;
pub mod clock;
pub mod config;
pub mod engine;
pub mod group;
pub mod lifecycle;
pub mod rates;
pub mod rule;
pub mod source;
pub mod stage;
pub mod trend;
pub mod wilson;
pub mod window;
