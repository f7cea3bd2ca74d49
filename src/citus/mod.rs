//! Citus: what the connected database is (detection), and what `init` and provisioning add
//! on a coordinator, and the operations on where tenants live (`nodes`: the node map;
//! `ops`: move, distribute, rebalance). Schema-based sharding puts each tenant schema whole
//! on one worker.

pub mod backup;
pub mod catalog;
pub mod detect;
pub mod init;
pub mod logins;
pub mod nodes;
pub mod ops;
pub mod provision;
pub mod script;

use nodes::{Node, NodeRole};
use serde::Serialize;

/// The `citus` extension of the connected database and its primary nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CitusInfo {
    /// `pg_extension.extversion`, e.g. `13.2-1`.
    pub version: String,
    /// Primary nodes, coordinator first.
    pub nodes: Vec<Node>,
}

impl CitusInfo {
    /// Active primary workers (groups other than the coordinator's).
    pub fn workers(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.role == NodeRole::Worker && n.active)
            .count()
    }

    /// `major.minor` of the extension (`13.2-1` gives `13.2`).
    pub fn short_version(&self) -> &str {
        let v = self.version.split('-').next().unwrap_or(&self.version);
        match v.match_indices('.').nth(1) {
            Some((i, _)) => &v[..i],
            None => v,
        }
    }

    /// What the header and `status` show: `Citus 13.2 · 2 workers`.
    pub fn label(&self) -> String {
        let n = self.workers();
        format!(
            "Citus {} · {n} worker{}",
            self.short_version(),
            if n == 1 { "" } else { "s" }
        )
    }
}
