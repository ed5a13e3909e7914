//! The archive through SQL, in one test binary (see `autotests = false` in
//! Cargo.toml): partition and statistics pruning, and the archive on an S3-compatible
//! store (moto).

#[path = "support/kiosk.rs"]
mod kiosk;
#[path = "../../tests/common/moto.rs"]
mod moto;

mod archive_pruning;
mod archive_s3;
