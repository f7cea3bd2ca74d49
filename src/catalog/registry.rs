//! The registry joined with each schema's size estimate and table count, and drift.

use crate::error::{Error, Result, sqlstate};
use crate::session::Session;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use std::fmt;

/// A tenant's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
    /// A schema with the tenant prefix and no registry row.
    Unregistered,
}

impl TenantStatus {
    /// Parses the registry's `status` column of tenant `id`; a word tenantctl does not
    /// know is an error naming the row (showing it as drift would hide a tampered row).
    pub fn from_registry(id: &str, s: &str) -> Result<TenantStatus> {
        match s {
            "suspended" => Ok(TenantStatus::Suspended),
            "active" => Ok(TenantStatus::Active),
            other => Err(Error::Invalid(format!(
                "registry row {id:?} has status {other:?}, which tenantctl does not know (active, suspended); fix the row"
            ))),
        }
    }
    /// The word shown and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
            TenantStatus::Unregistered => "unregistered",
        }
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Disagreement between the registry and the schemas that exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Drift {
    /// Registry row and schema agree.
    None,
    /// A registry row whose schema does not exist.
    MissingSchema,
    /// A schema with the tenant prefix that no registry row claims.
    Unregistered,
}

/// One line of `tenant list`: a registry row with its schema's size and table count.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub schema: String,
    pub status: TenantStatus,
    pub config: serde_json::Value,
    /// 0 for an unregistered schema, or an adopted one whose version is not known.
    pub template_version: i32,
    /// Held at this version by `tenant set --pin-version`.
    pub pinned_version: Option<i32>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Estimated from `relpages` unless `size_exact`; `None` when the schema is missing.
    pub size_bytes: Option<i64>,
    pub size_exact: bool,
    pub tables: i64,
    pub drift: Drift,
    /// On Citus: the node (`host:port`) holding a distributed tenant's schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// Facts about the server for the console header.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServerSummary {
    pub server_version: String,
    pub role: String,
    pub database: String,
    pub in_recovery: bool,
    /// The `citus` extension and its nodes, when the database has it.
    pub citus: Option<crate::citus::CitusInfo>,
}

/// One tenant (`$2`): its registry row and the schema it claims or that carries its name,
/// full-joined below, so drift shows both ways. The whole list is [`LIST_ALL`].
const LIST_HEAD: &str = r#"
WITH reg AS (
    SELECT id, name, schema, status, config, template_version, pinned_version, created_at,
           updated_at
    FROM {{registry}}
    WHERE $2::text IS NULL OR id = $2
),
ns AS (
    SELECT n.oid, n.nspname
    FROM pg_namespace n
    WHERE (n.nspname IN (SELECT schema FROM reg)
           OR left(n.nspname, length($1)) = $1)
      AND ($2::text IS NULL OR n.nspname = $1 || $2)
),
"#;

/// The whole list (`LIST_SIZES_SCAN` then `LIST_ALL`): every registry row (drift: its schema
/// missing) and every schema with the tenant prefix that no row claims, each with its size
/// estimate and table count.
///
/// Shaped after measuring at 10,000 tenants (400,000 relations in `pg_class`): the catalog
/// has no index on `relnamespace`, so sizes come from one (parallel) scan of `pg_class`
/// grouped by namespace, over all namespaces: filtering to the tenant schemas inside the
/// scan made each parallel worker build a hash of them first (a registry subquery per
/// worker, 20-30 ms before the scan could start), while grouping the few non-tenant
/// namespaces too costs nothing measurable. The registry and the schemas are joined once,
/// outside the scan, as a registry row with its schema plus the prefixed schemas no row
/// claims, instead of a FULL JOIN whose filter needed the registry twice. TOAST pages of
/// the non-empty TOAST tables (a second scan: no column of a table holds them) are hash
/// joined to their tables: see `LIST_PLANNER` for why a hash join.
const LIST_SIZES_SCAN: &str = r#"
WITH sizes AS (
    SELECT c.relnamespace AS nsp,
           count(*) FILTER (WHERE c.relkind IN ('r', 'p')) AS tables,
           sum(c.relpages::bigint + coalesce(t.relpages, 0)::bigint)
               * current_setting('block_size')::bigint AS bytes
    FROM pg_class c
    LEFT JOIN (
        SELECT x.oid, x.relpages
        FROM pg_class x
        WHERE x.relkind = 't' AND x.relpages > 0
    ) t ON t.oid = c.reltoastrelid
    WHERE c.relkind IN ('r', 'p', 'i', 'm', 'S')
    GROUP BY c.relnamespace
),
"#;

/// No estimate: for `tenant list --exact`, whose measurement counts the tables too, so the
/// scan of `pg_class` would be thrown away (about 5 % of `--exact` at 10,000 tenants).
const LIST_SIZES_NONE: &str = r#"
WITH sizes AS (
    SELECT NULL::oid AS nsp, 0::bigint AS tables, 0::bigint AS bytes WHERE false
),
"#;

/// The rows of the whole list, after one of the `sizes` CTEs above.
const LIST_ALL: &str = r#"
listed AS (
    SELECT reg.id, reg.name, reg.schema, reg.status, reg.config, reg.template_version,
           reg.pinned_version, reg.created_at, reg.updated_at, n.oid AS nsp
    FROM {{registry}} reg
    LEFT JOIN pg_namespace n ON n.nspname = reg.schema
    UNION ALL
    SELECT NULL, NULL, n.nspname::text, NULL, NULL, NULL, NULL, NULL, NULL, n.oid
    FROM pg_namespace n
    WHERE left(n.nspname, length($1)) = $1
      AND NOT EXISTS (SELECT 1 FROM {{registry}} r WHERE r.schema = n.nspname)
)
SELECT coalesce(l.id, substr(l.schema, length($1) + 1)) AS id,
       coalesce(l.name, '') AS name,
       l.schema,
       coalesce(l.status, 'unregistered') AS status,
       coalesce(l.config, '{}'::jsonb) AS config,
       coalesce(l.template_version, 0) AS template_version,
       l.pinned_version,
       l.created_at,
       l.updated_at,
       CASE WHEN l.nsp IS NULL THEN NULL ELSE coalesce(sizes.bytes, 0)::bigint END AS size_bytes,
       coalesce(sizes.tables, 0) AS tables,
       CASE WHEN l.nsp IS NULL THEN 'missing_schema'
            WHEN l.id IS NULL THEN 'unregistered'
            ELSE 'none' END AS drift
FROM listed l
LEFT JOIN sizes ON sizes.nsp = l.nsp
ORDER BY 1
"#;

/// The planner has no statistics on how few TOAST tables are non-empty (often a handful of
/// 100,000 at 10,000 tenants) and, expecting tens of thousands, sorts all of `pg_class` for
/// a merge join (2-3x the bare query at 10,000 tenants) or probes the index once per table.
/// A (parallel) hash join builds the small side once. Set for the list's transaction only.
const LIST_PLANNER: &str = "SELECT pg_catalog.set_config('enable_mergejoin', 'off', true), pg_catalog.set_config('enable_nestloop', 'off', true)";

/// Sizes of one tenant schema without scanning `pg_class`: its relations through their
/// dependency on the schema (`pg_depend` is indexed on the referenced object), their indexes
/// through `pg_index`. Indexes (and TOAST) have no dependency on the schema of their own.
const SIZES_ONE: &str = r#"
own AS (
    SELECT c.oid, c.relnamespace AS nsp, c.relkind, c.relpages, c.reltoastrelid
    FROM ns
    JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ns.oid
                    AND d.classid = 'pg_class'::regclass
    JOIN pg_class c ON c.oid = d.objid AND c.relnamespace = ns.oid
    WHERE c.relkind IN ('r', 'p', 'm', 'S')
),
rels AS (
    SELECT own.nsp, own.relkind, own.relpages::bigint + coalesce(t.relpages, 0)::bigint AS pages
    FROM own
    LEFT JOIN pg_class t ON t.oid = own.reltoastrelid
    UNION ALL
    SELECT own.nsp, i.relkind, i.relpages::bigint
    FROM own
    JOIN pg_index x ON x.indrelid = own.oid
    JOIN pg_class i ON i.oid = x.indexrelid
),
"#;

const LIST_TAIL: &str = r#"
sizes AS (
    SELECT r.nsp,
           count(*) FILTER (WHERE r.relkind IN ('r', 'p')) AS tables,
           sum(r.pages) * current_setting('block_size')::bigint AS bytes
    FROM rels r
    GROUP BY r.nsp
)
SELECT coalesce(reg.id, substr(ns.nspname, length($1) + 1)) AS id,
       coalesce(reg.name, '') AS name,
       coalesce(reg.schema, ns.nspname) AS schema,
       coalesce(reg.status, 'unregistered') AS status,
       coalesce(reg.config, '{}'::jsonb) AS config,
       coalesce(reg.template_version, 0) AS template_version,
       reg.pinned_version,
       reg.created_at,
       reg.updated_at,
       CASE WHEN ns.oid IS NULL THEN NULL ELSE coalesce(sizes.bytes, 0)::bigint END AS size_bytes,
       coalesce(sizes.tables, 0) AS tables,
       CASE WHEN ns.oid IS NULL THEN 'missing_schema'
            WHEN reg.id IS NULL THEN 'unregistered'
            ELSE 'none' END AS drift
FROM reg
FULL JOIN ns ON ns.nspname = reg.schema
LEFT JOIN sizes ON sizes.nsp = ns.oid
ORDER BY 1
"#;

/// Which rows [`query_rows`] reads.
#[derive(Clone, Copy)]
enum Rows<'a> {
    /// The whole list, each schema's size estimated.
    All,
    /// The whole list without the estimate's scan of `pg_class` (sizes come from elsewhere).
    AllUnsized,
    /// One tenant's row (or its unregistered schema), its size estimated by index.
    One(&'a str),
}

async fn query_rows(session: &Session, which: Rows<'_>) -> Result<Vec<TenantRow>> {
    let vars = session.names.template_vars();
    // On Citus the shells on the coordinator weigh nothing: node and size come from Citus
    // (most of the cost: it asks every worker), read on a second connection while the
    // registry is read on the first.
    let placements = session.citus.then(|| {
        let pool = session.pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            crate::citus::catalog::placements(&mut conn).await
        })
    });
    let rows = match which {
        Rows::One(id) => {
            let sql = vars.render(&format!("{LIST_HEAD}{SIZES_ONE}{LIST_TAIL}"))?;
            sqlx::query(&sql)
                .bind(&session.names.schema_prefix)
                .bind(id)
                .fetch_all(&session.pool)
                .await
        }
        Rows::All | Rows::AllUnsized => {
            let head = match which {
                Rows::AllUnsized => LIST_SIZES_NONE,
                _ => LIST_SIZES_SCAN,
            };
            let sql = vars.render(&format!("{head}{LIST_ALL}"))?;
            let query = sqlx::query(&sql).bind(&session.names.schema_prefix);
            let read = Error::db("reading the registry");
            let mut tx = session.pool.begin().await.map_err(read)?;
            sqlx::query(LIST_PLANNER)
                .execute(&mut *tx)
                .await
                .map_err(Error::db("reading the registry"))?;
            let rows = query.fetch_all(&mut *tx).await;
            // Read only: ending it either way changes nothing.
            tx.rollback()
                .await
                .map_err(Error::db("reading the registry"))?;
            rows
        }
    }
    .map_err(|e| registry_error(session, e))?;
    let mut out = Vec::with_capacity(rows.len());
    let placements = match placements {
        Some(task) => task
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("the placements read stopped: {e}")))
            .and_then(|read| read)
            .map_err(Error::db("reading where the Citus tenants live"))?,
        None => Default::default(),
    };
    for r in &rows {
        let read = |e| Error::db("reading the registry")(e);
        let drift = match r.try_get::<String, _>("drift").map_err(read)?.as_str() {
            "missing_schema" => Drift::MissingSchema,
            "unregistered" => Drift::Unregistered,
            _ => Drift::None,
        };
        let id: String = r.try_get("id").map_err(read)?;
        let status = if drift == Drift::Unregistered {
            TenantStatus::Unregistered
        } else {
            TenantStatus::from_registry(&id, &r.try_get::<String, _>("status").map_err(read)?)?
        };
        out.push(
            (|| -> std::result::Result<TenantRow, sqlx::Error> {
                Ok(TenantRow {
                    id: id.clone(),
                    name: r.try_get("name")?,
                    schema: r.try_get("schema")?,
                    status,
                    config: r.try_get("config")?,
                    template_version: r.try_get("template_version")?,
                    pinned_version: r.try_get("pinned_version")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                    size_bytes: r.try_get("size_bytes")?,
                    size_exact: false,
                    tables: r.try_get("tables")?,
                    drift,
                    node: None,
                })
            })()
            .map_err(read)?,
        );
    }
    for row in &mut out {
        if let Some(p) = placements.get(&row.schema) {
            row.node = Some(p.node.clone());
            row.size_bytes = Some(p.bytes);
            row.size_exact = true;
        }
    }
    Ok(out)
}

/// Maps "no such table" to a clear "not bootstrapped".
pub(crate) fn registry_error(session: &Session, e: sqlx::Error) -> Error {
    match sqlstate(&e).as_deref() {
        Some("42P01") | Some("3F000") => Error::NotBootstrapped(format!(
            "the registry {} does not exist",
            session.names.registry()
        )),
        // A column this release added (pins) is missing: bootstrapped by an older release.
        Some("42703") => Error::NotBootstrapped(format!(
            "the registry {} predates this release of tenantctl (run `tenantctl init` to upgrade it in place)",
            session.names.registry()
        )),
        Some("42501") => Error::Invalid(format!(
            "{:?} may not read the registry {}; connect as the admin role {:?}",
            session.spec.user,
            session.names.registry(),
            session.names.admin_role
        )),
        _ => Error::db("reading the registry")(e),
    }
}

/// The registry with estimated sizes and drift rows, ordered by id. One query.
pub async fn list_tenants(session: &Session) -> Result<Vec<TenantRow>> {
    query_rows(session, Rows::All).await
}

/// The rows of [`list_tenants`] without the estimate: sizes 0 (`None` for a missing
/// schema) and no table counts, for a caller that measures both ([`super::measure_sizes`]).
pub async fn list_unsized(session: &Session) -> Result<Vec<TenantRow>> {
    query_rows(session, Rows::AllUnsized).await
}

/// One tenant's registry row with its size estimate (or its unregistered schema).
pub async fn tenant_row(session: &Session, id: &str) -> Result<Option<TenantRow>> {
    Ok(query_rows(session, Rows::One(id)).await?.into_iter().next())
}

/// Server version, connected role and database.
pub async fn server_summary(session: &Session) -> Result<ServerSummary> {
    let (server_version, role, database, in_recovery): (String, String, String, bool) =
        sqlx::query_as(
            "SELECT current_setting('server_version'), current_user::text, current_database()::text, pg_is_in_recovery()",
        )
        .fetch_one(&session.pool)
        .await
        .map_err(Error::db("reading the server version"))?;
    let citus = if session.citus {
        let mut conn = session
            .pool
            .acquire()
            .await
            .map_err(Error::db("reading the Citus nodes"))?;
        crate::citus::detect::detect(&mut conn)
            .await
            .map_err(Error::db("reading the Citus nodes"))?
    } else {
        None
    };
    Ok(ServerSummary {
        server_version,
        role,
        database,
        in_recovery,
        citus,
    })
}
