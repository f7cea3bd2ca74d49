//! tenantctl: operate a schema-per-tenant PostgreSQL database.
//!
//! The core (`catalog`, `tenant`, `bootstrap`, `journal`, `cluster`) takes a [`session::Session`]
//! and plain values and returns plain data; `cli` and `tui` are thin faces over it.

pub mod audit;
pub mod bootstrap;
pub mod catalog;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connect;
pub mod error;
pub mod journal;
pub mod names;
pub mod policy;
pub mod session;
pub mod tenant;
pub mod tls;
pub mod tui;
pub mod units;
