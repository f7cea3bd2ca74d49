//! The catalog on Citus: the coordinator's `pg_class` holds empty shells for distributed
//! tables, so where a tenant lives and what it weighs come from Citus's metadata and from
//! the workers (`citus_shards`, whose sizes Citus asks every worker for in one call each).

use std::collections::HashMap;

/// Where a distributed tenant schema lives, and its size on that node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// `host:port` of the node holding the schema's shards.
    pub node: String,
    /// Sum of the shard sizes Citus reports (heap, indexes, TOAST).
    pub bytes: i64,
}

/// Every distributed schema's node and size, in one query.
const PLACEMENTS_SQL: &str = r#"
SELECT n.nspname::text,
       min(s.nodename OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) s.nodeport::text),
       coalesce(sum(s.shard_size), 0)::bigint
FROM pg_catalog.pg_dist_schema d
JOIN pg_catalog.pg_namespace n ON n.oid = d.schemaid
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = d.schemaid AND c.relkind IN ('r', 'p')
LEFT JOIN pg_catalog.citus_shards s ON s.table_name = c.oid
GROUP BY n.nspname
"#;

/// Node and size of every distributed schema, by schema name.
pub async fn placements(
    conn: &mut sqlx::PgConnection,
) -> Result<HashMap<String, Placement>, sqlx::Error> {
    let rows: Vec<(String, Option<String>, i64)> =
        sqlx::query_as(PLACEMENTS_SQL).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(schema, node, bytes)| node.map(|node| (schema, Placement { node, bytes })))
        .collect())
}

/// Exact sizes on Citus, one row per schema, in schema order: a distributed table's shard sizes as Citus reports
/// them, a local table's `pg_total_relation_size` (a tenant not distributed yet). The
/// query is not streamed per relation: `citus_shards` asks each worker once for all sizes.
pub const EXACT_SQL_CITUS: &str = r#"
WITH rels AS MATERIALIZED (
    SELECT n.oid AS nsp, n.nspname::text AS schema, c.oid AS rel, c.relkind,
           n.oid IN (SELECT d.schemaid FROM pg_catalog.pg_dist_schema d) AS distributed
    FROM unnest($1::text[]) AS wanted(name)
    JOIN pg_namespace n ON n.nspname = wanted.name
    LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'm', 'S')
),
shards AS (
    SELECT s.table_name AS rel, sum(s.shard_size)::bigint AS bytes
    FROM pg_catalog.citus_shards s
    WHERE s.table_name IN (SELECT rel FROM rels)
    GROUP BY s.table_name
)
SELECT r.schema,
       -- A distributed schema's sequences stay on the coordinator: Citus counts none.
       sum(coalesce(sh.bytes,
                    CASE WHEN r.rel IS NULL OR r.distributed THEN 0
                         ELSE pg_total_relation_size(r.rel) END))::bigint,
       count(*) FILTER (WHERE r.relkind IN ('r', 'p'))
FROM rels r
LEFT JOIN shards sh ON sh.rel = r.rel
GROUP BY r.nsp, r.schema
ORDER BY r.nsp
"#;
