//! tenantctl: operate a schema-per-tenant PostgreSQL database.
//!
//! The core (`catalog`, `tenant`, `bootstrap`, `journal`, `cluster`, `demo`) takes a
//! [`session::Session`] and plain values and returns plain data; long jobs follow [`job`]'s
//! contract. `cli` and `tui` are two faces over it that never import each other; the
//! binary's entry point picks one. The core imports neither.

pub mod audit;
pub mod backup;
pub mod bootstrap;
pub mod catalog;
pub mod citus;
pub mod citus_cluster;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connect;
pub mod demo;
pub mod error;
pub mod exit;
pub mod job;
pub mod journal;
pub mod names;
pub mod session;
pub mod sql;
pub mod tenant;
pub mod tls;
pub mod tui;
pub mod units;
