//! Whether the database has the `citus` extension, and its nodes.

use super::{CitusInfo, Node};
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
    let rows: Vec<(i32, i32, String, i32, bool, bool)> = sqlx::query_as(
        "SELECT nodeid, groupid, nodename, nodeport, isactive, shouldhaveshards
         FROM pg_catalog.pg_dist_node WHERE noderole = 'primary' ORDER BY groupid, nodeid",
    )
    .fetch_all(&mut *conn)
    .await?;
    let nodes = rows
        .into_iter()
        .map(|(id, group, host, port, active, should_have_shards)| Node {
            id,
            group,
            host,
            port,
            active,
            should_have_shards,
        })
        .collect();
    Ok(Some(CitusInfo { version, nodes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(group: i32, active: bool) -> Node {
        Node {
            id: group + 1,
            group,
            host: "h".into(),
            port: 5432,
            active,
            should_have_shards: true,
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
