//! Citus: where tenants live on a coordinator's workers, moving and balancing them.
//!
//! (The detection and provisioning parts are issue 13's core branch; this file only names
//! the modules of the operations.)

pub mod nodes;
pub mod ops;
