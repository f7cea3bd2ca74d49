//! Whether the database has the `citus` extension, and its nodes.

use super::CitusInfo;
use sqlx::PgConnection;

/// The extension's version and primary nodes; `None` without the extension.
pub async fn detect(conn: &mut PgConnection) -> Result<Option<CitusInfo>, sqlx::Error> {
    let version: Option<String> = sqlx::query_scalar(
        "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(version) = version else {
        return Ok(None);
    };
    // pg_dist_node exists only with the extension, hence the second query.
    let nodes = super::nodes::primary_nodes(conn).await?;
    Ok(Some(CitusInfo { version, nodes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(group: i32, active: bool) -> crate::citus::nodes::Node {
        crate::citus::nodes::Node {
            node_id: group + 1,
            group_id: group,
            addr: crate::citus::nodes::NodeAddr {
                host: "h".into(),
                port: 5432,
            },
            role: if group == 0 {
                crate::citus::nodes::NodeRole::Coordinator
            } else {
                crate::citus::nodes::NodeRole::Worker
            },
            active,
            should_have_shards: true,
            tenants: 0,
            bytes: 0,
        }
    }

    #[test]
    fn the_label_counts_active_workers_and_shortens_the_version() {
        let info = CitusInfo {
            version: "13.2-1".into(),
            nodes: vec![node(0, true), node(1, true), node(2, true), node(3, false)],
        };
        assert_eq!(info.label(), "Citus 13.2 · 2 workers");
        let one = CitusInfo {
            version: "12.1".into(),
            nodes: vec![node(0, true), node(1, true)],
        };
        assert_eq!(one.label(), "Citus 12.1 · 1 worker");
    }
}
