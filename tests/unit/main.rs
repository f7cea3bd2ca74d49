//! Unit tests of the core's pure parts through their public API (no database needed),
//! gathered in one test binary to keep link time down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod config;
mod connect;
mod names;
mod output;
mod sql;
mod units;
mod values;
