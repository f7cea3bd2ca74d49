//! Where tenants live on a Citus cluster: the nodes with their tenant count and bytes, the
//! balance across them, and each tenant schema's node.
//!
//! Two set-based queries on the coordinator (the nodes; the tenant schemas with their
//! node and size), never one per tenant or per node. Sizes come from
//! `citus_shard_sizes()`, which asks every worker once: the coordinator's `pg_class` only
//! holds empty shells for distributed tables.

use crate::error::{Error, Result};
use crate::session::Session;
use serde::Serialize;
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

/// A node's part in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// Group 0: where applications connect; holds the tenants not yet distributed.
    Coordinator,
    /// Holds distributed tenant schemas.
    Worker,
}

/// `HOST:PORT` of a node, as `pg_dist_node` names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NodeAddr {
    pub host: String,
    pub port: u16,
}

impl NodeAddr {
    /// Parses `HOST:PORT` (the port after the last colon).
    pub fn parse(text: &str) -> Result<NodeAddr> {
        let bad = || {
            Error::Invalid(format!(
                "{text:?} is not HOST:PORT (e.g. 10.0.0.5:5432); `tenantctl nodes` lists the nodes"
            ))
        };
        let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(NodeAddr {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// One node of `pg_dist_node` (primaries only) with what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub node_id: i32,
    pub group_id: i32,
    pub addr: NodeAddr,
    pub role: NodeRole,
    pub active: bool,
    /// False for a node being drained or kept free of data (`shouldhaveshards`).
    pub should_have_shards: bool,
    /// Tenant schemas placed here (local tenants count on the coordinator); 0 where only
    /// the node list was read ([`primary_nodes`], as detection does).
    pub tenants: usize,
    /// Bytes of those tenants on this node; 0 until counted.
    pub bytes: i64,
}

impl Node {
    /// A primary node as `pg_dist_node` lists it, nothing counted yet.
    fn listed(
        (node_id, group_id, host, port, active, should_have_shards): (
            i32,
            i32,
            String,
            i32,
            bool,
            bool,
        ),
    ) -> Node {
        Node {
            node_id,
            group_id,
            addr: NodeAddr {
                host,
                port: u16::try_from(port).unwrap_or(0),
            },
            role: if group_id == 0 {
                NodeRole::Coordinator
            } else {
                NodeRole::Worker
            },
            active,
            should_have_shards,
            tenants: 0,
            bytes: 0,
        }
    }
}

/// The primary nodes of `pg_dist_node`, coordinator first, nothing counted (the database
/// must have Citus).
pub async fn primary_nodes(
    conn: &mut sqlx::PgConnection,
) -> std::result::Result<Vec<Node>, sqlx::Error> {
    let rows: Vec<(i32, i32, String, i32, bool, bool)> =
        sqlx::query_as(NODES_SQL).fetch_all(conn).await?;
    Ok(rows.into_iter().map(Node::listed).collect())
}

/// Where one tenant schema lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub schema: String,
    /// The tenant id the schema name carries.
    pub tenant: String,
    /// Group of the node holding it; `None` for a distributed schema without tables yet.
    pub group_id: Option<i32>,
    /// True for a distributed schema; false for one still local to the coordinator.
    pub distributed: bool,
    pub bytes: i64,
}

/// The cluster's nodes and where every tenant is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeMap {
    pub citus_version: String,
    /// False when the distributed tenants' bytes were not asked of the workers yet (the
    /// console's first frame): their `bytes` are 0 until then.
    pub sizes_measured: bool,
    pub nodes: Vec<Node>,
    /// Every tenant schema, by schema name.
    pub placements: Vec<Placement>,
}

/// How evenly tenants' bytes are spread over the nodes that take data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Balance {
    /// Largest node's bytes over the mean (1.0 is perfect; 2.0 means one node holds twice
    /// its share).
    pub max_over_mean: f64,
    /// Most tenants on one node minus fewest.
    pub tenant_spread: usize,
}

impl NodeMap {
    /// The node at `addr`.
    pub fn node(&self, addr: &NodeAddr) -> Option<&Node> {
        self.nodes.iter().find(|n| &n.addr == addr)
    }

    /// The node of a group.
    pub fn node_of_group(&self, group: i32) -> Option<&Node> {
        self.nodes.iter().find(|n| n.group_id == group)
    }

    /// Where `schema` is, if it is a tenant schema.
    pub fn placement(&self, schema: &str) -> Option<&Placement> {
        self.placements.iter().find(|p| p.schema == schema)
    }

    /// The tenants on `node`, largest first.
    pub fn tenants_on(&self, node: &Node) -> Vec<&Placement> {
        let mut v: Vec<&Placement> = self
            .placements
            .iter()
            .filter(|p| p.group_id == Some(node.group_id))
            .collect();
        v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.schema.cmp(&b.schema)));
        v
    }

    /// Tenant schemas still local to the coordinator.
    pub fn local(&self) -> impl Iterator<Item = &Placement> {
        self.placements.iter().filter(|p| !p.distributed)
    }

    /// The balance over the active nodes that take data (workers, and the coordinator if it
    /// holds tenants); `None` with fewer than two such nodes.
    pub fn balance(&self) -> Option<Balance> {
        let taking: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| {
                n.active && (n.role == NodeRole::Worker && n.should_have_shards || n.tenants > 0)
            })
            .collect();
        if taking.len() < 2 {
            return None;
        }
        let total: i64 = taking.iter().map(|n| n.bytes).sum();
        let max = taking.iter().map(|n| n.bytes).max().unwrap_or(0);
        let mean = total as f64 / taking.len() as f64;
        let most = taking.iter().map(|n| n.tenants).max().unwrap_or(0);
        let fewest = taking.iter().map(|n| n.tenants).min().unwrap_or(0);
        Some(Balance {
            max_over_mean: if mean > 0.0 { max as f64 / mean } else { 1.0 },
            tenant_spread: most - fewest,
        })
    }
}

/// The installed Citus version, or `None` when the database has no `citus` extension.
pub async fn citus_version(session: &Session) -> Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT extversion FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus'",
    )
    .fetch_optional(&session.pool)
    .await
    .map_err(Error::db("looking for the citus extension"))
}

/// The error every Citus-only command gives on a database without Citus.
pub fn not_citus(session: &Session) -> Error {
    Error::Invalid(format!(
        "the database {} has no citus extension: nodes, moves, distribute and rebalance are for a Citus coordinator (connect to the coordinator, or leave these commands aside on a single server)",
        session.spec.target()
    ))
}

/// Refuses with [`not_citus`] unless the database has Citus; its version otherwise.
pub async fn require_citus(session: &Session) -> Result<String> {
    citus_version(session)
        .await?
        .ok_or_else(|| not_citus(session))
}

const NODES_SQL: &str = "\
SELECT nodeid, groupid, nodename, nodeport, isactive, shouldhaveshards
FROM pg_catalog.pg_dist_node
WHERE noderole OPERATOR(pg_catalog.=) 'primary'
ORDER BY groupid, nodeid";

/// Every tenant schema (by prefix) with its node group and bytes, the distributed
/// tenants' bytes from `$sizes` (a CTE of `schemaid, bytes`). A distributed schema's
/// tables are colocated, so any placement of any of its shards names its node.
macro_rules! placements_sql {
    ($sizes:literal) => {
        concat!(
            "WITH placed AS (
    SELECT ds.schemaid, pg_catalog.min(pl.groupid) AS groupid
    FROM pg_catalog.pg_dist_schema ds
    JOIN pg_catalog.pg_dist_partition p ON p.colocationid OPERATOR(pg_catalog.=) ds.colocationid
    JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid
    JOIN pg_catalog.pg_dist_placement pl ON pl.shardid OPERATOR(pg_catalog.=) s.shardid
    GROUP BY ds.schemaid
), sizes AS (
",
            $sizes,
            "), local_sizes AS (
    SELECT c.relnamespace AS schemaid,
           pg_catalog.sum(pg_catalog.pg_total_relation_size(c.oid))::int8 AS bytes
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
    WHERE c.relkind IN ('r', 'm', 'p')
      AND pg_catalog.starts_with(n.nspname, $1)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p
                      WHERE p.logicalrelid OPERATOR(pg_catalog.=) c.oid)
    GROUP BY 1
)
SELECT n.nspname::text,
       ds.schemaid IS NOT NULL AS distributed,
       CASE WHEN ds.schemaid IS NULL THEN 0 ELSE placed.groupid END AS groupid,
       COALESCE(CASE WHEN ds.schemaid IS NULL THEN local_sizes.bytes ELSE sizes.bytes END, 0)::int8
FROM pg_catalog.pg_namespace n
LEFT JOIN pg_catalog.pg_dist_schema ds ON ds.schemaid OPERATOR(pg_catalog.=) n.oid
LEFT JOIN placed ON placed.schemaid OPERATOR(pg_catalog.=) n.oid
LEFT JOIN sizes ON sizes.schemaid OPERATOR(pg_catalog.=) n.oid
LEFT JOIN local_sizes ON local_sizes.schemaid OPERATOR(pg_catalog.=) n.oid
WHERE pg_catalog.starts_with(n.nspname, $1)
ORDER BY n.nspname"
        )
    };
}

/// The map with the workers' sizes (`citus_shard_sizes()`: one call to every worker).
const PLACEMENTS_SQL: &str = placements_sql!(
    "    SELECT c.relnamespace AS schemaid, pg_catalog.sum(css.size)::int8 AS bytes
    FROM pg_catalog.citus_shard_sizes() css
    JOIN pg_catalog.pg_dist_shard s ON s.shardid OPERATOR(pg_catalog.=) css.shard_id
    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid
    JOIN pg_catalog.pg_dist_schema ds ON ds.schemaid OPERATOR(pg_catalog.=) c.relnamespace
    GROUP BY 1
"
);

/// The map from the coordinator's catalog alone: distributed tenants' bytes are 0.
const PLACEMENTS_NO_SIZES_SQL: &str =
    placements_sql!("SELECT NULL::oid AS schemaid, 0::int8 AS bytes WHERE false");

/// Reads the nodes and every tenant schema's place: refuses on a database without Citus.
/// Cancelling stops the query on the server.
pub async fn read(session: &Session, cancel: &CancellationToken) -> Result<NodeMap> {
    read_with(session, true, cancel).await
}

/// [`read`], asking the workers for the distributed tenants' sizes only when `sizes`
/// (`citus_shard_sizes()` is most of the cost: one call to every worker, which measures
/// every shard).
pub async fn read_with(
    session: &Session,
    sizes: bool,
    cancel: &CancellationToken,
) -> Result<NodeMap> {
    let citus_version = require_citus(session).await?;
    let prefix = session.names.schema_prefix.clone();
    let (nodes, placements) = session
        .cancellable(cancel, "reading the Citus nodes", move |conn| {
            Box::pin(async move {
                let nodes = primary_nodes(&mut *conn).await?;
                let sql = if sizes {
                    PLACEMENTS_SQL
                } else {
                    PLACEMENTS_NO_SIZES_SQL
                };
                let placements: Vec<(String, bool, Option<i32>, i64)> = sqlx::query_as(sql)
                    .bind(&prefix)
                    .fetch_all(&mut *conn)
                    .await?;
                Ok((nodes, placements))
            })
        })
        .await?;
    let placements: Vec<Placement> = placements
        .into_iter()
        .map(|(schema, distributed, group_id, bytes)| Placement {
            tenant: session
                .names
                .id_from_schema(&schema)
                .unwrap_or(&schema)
                .to_string(),
            schema,
            group_id,
            distributed,
            bytes,
        })
        .collect();
    let mut held: BTreeMap<i32, (usize, i64)> = BTreeMap::new();
    for p in &placements {
        if let Some(g) = p.group_id {
            let e = held.entry(g).or_default();
            e.0 += 1;
            e.1 += p.bytes;
        }
    }
    let nodes = nodes
        .into_iter()
        .map(|node| {
            let (tenants, bytes) = held.get(&node.group_id).copied().unwrap_or_default();
            Node {
                tenants,
                bytes,
                ..node
            }
        })
        .collect();
    Ok(NodeMap {
        citus_version,
        sizes_measured: sizes,
        nodes,
        placements,
    })
}

/// [`read`] under the long-job contract, for the console, in two steps: the map without the
/// workers' sizes first (the first frame, from the coordinator's catalog alone), then with
/// them; each map lands with its step. Cancelled while reading, what landed stays.
pub async fn read_job(
    session: &Session,
    progress: &crate::job::ProgressSender<NodeMap>,
    cancel: &CancellationToken,
) -> Result<crate::job::JobReport<NodeMap>> {
    let step = |done: usize, map: &NodeMap| crate::job::Progress {
        done,
        total: 2,
        current: if done == 1 {
            "measuring sizes on the workers".into()
        } else {
            "nodes".into()
        },
        landed: vec![map.clone()],
        failed: Vec::new(),
    };
    let first = match read_with(session, false, cancel).await {
        Ok(map) => map,
        Err(Error::Cancelled(_)) => {
            return Ok(crate::job::JobReport {
                not_tried: vec!["the node map".into()],
                cancelled: true,
                ..Default::default()
            });
        }
        Err(e) => return Err(e),
    };
    crate::job::report_progress(progress, step(1, &first));
    match read_with(session, true, cancel).await {
        Ok(map) => {
            crate::job::report_progress(progress, step(2, &map));
            Ok(crate::job::JobReport {
                done: vec![map],
                ..Default::default()
            })
        }
        Err(Error::Cancelled(_)) => Ok(crate::job::JobReport {
            not_tried: vec!["the sizes of the distributed tenants".into()],
            cancelled: true,
            ..Default::default()
        }),
        Err(e) => Err(e),
    }
}

impl NodeMap {
    /// The active node taking data, other than `except`'s group, holding the fewest bytes:
    /// where the console moves a tenant.
    pub fn emptiest_other(&self, except: i32) -> Option<&Node> {
        self.nodes
            .iter()
            .filter(|n| n.active && n.group_id != except)
            .filter(|n| n.role == NodeRole::Worker && n.should_have_shards)
            .min_by_key(|n| (n.bytes, n.tenants))
    }
}
