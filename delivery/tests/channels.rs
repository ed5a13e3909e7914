//! Each delivery channel against a real receiver, in one test binary (see
//! `autotests = false` in Cargo.toml): Alertmanager, e-mail over SMTP, signed webhooks.

mod alertmanager;
mod email;
mod webhook;
