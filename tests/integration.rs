//! The hub's integration tests, one module per capability, in one test binary (see
//! `autotests = false` in Cargo.toml). They run the real `safety-hub` binary against
//! real services: the tansu broker, Prometheus, Alertmanager, psql, moto's S3, an HTTP
//! webhook receiver. Select one module with `cargo nextest run --test integration pg_wire::`.

mod common;

mod alert_delivery;
mod archive_object_store;
mod broker_restart;
mod cli_config;
mod crash_recovery;
mod dashboards;
mod demo;
mod deploy_files;
mod http_api;
mod ingest_examples;
mod pg_wire;
mod prometheus_rules;
mod rules_exactly_once;
mod sql_golden;
