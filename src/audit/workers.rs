//! The audit across Citus workers: the privileges and policies of each distributed tenant
//! schema on the worker that holds it, compared with the coordinator's.
//!
//! Citus propagates GRANT, REVOKE and policies from the coordinator to the shards, but a
//! statement run on a worker directly (by a DBA fixing something in a hurry, or an
//! attacker with a worker login) changes only that node, and the coordinator's catalog
//! never shows it. The application's queries run on the shards, so the worker's grants
//! are the ones that hold.
//!
//! How workers are reached: `pg_dist_node` names each node's host and port as the
//! coordinator reaches it; tenantctl connects there as the connected user, with the same
//! password and TLS settings, to the same database. One set-based query per worker (its
//! tenant schemas, their tables and shards), never one per tenant. A worker that cannot
//! be reached is a finding, not a failure of the audit.

use super::finding::{Draft, Finding, Rule, Severity};
use crate::error::{Error, Result};
use crate::names::qualified;
use crate::session::Session;
use std::collections::{BTreeMap, BTreeSet};
use tokio_util::sync::CancellationToken;

/// One schema or table as a node's catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct Object {
    schema: String,
    /// `None` for the schema itself.
    relname: Option<String>,
    /// The ACL with defaults filled in (`acldefault` for a NULL one).
    acl: Vec<String>,
    rls: bool,
    force_rls: bool,
    /// Each policy as one comparable line (name, command, kind, roles, expressions).
    policies: Vec<String>,
    /// The policies' names (what a fix drops before re-creating the coordinator's).
    policy_names: Vec<String>,
}

/// A coordinator table's shard on a worker.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Shard {
    schema: String,
    relname: String,
    shardid: i64,
    host: String,
    port: i32,
}

/// Policies of a relation as sorted comparable lines; roles by name, expressions deparsed
/// against the relation itself (a shard's columns are the table's).
const POLICIES: &str = "ARRAY(
    SELECT pol.polname::text || ' ' || pol.polcmd::text || ' '
           || CASE WHEN pol.polpermissive THEN 'permissive' ELSE 'restrictive' END || ' '
           || COALESCE((SELECT pg_catalog.string_agg(CASE WHEN r.oid = 0 THEN 'public' ELSE r.rolname::text END, ',' ORDER BY r.rolname)
                        FROM pg_catalog.unnest(pol.polroles) AS pr(oid)
                        LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) pr.oid), '') || ' '
           || COALESCE(pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), '') || ' '
           || COALESCE(pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid), '')
    FROM pg_catalog.pg_policy pol WHERE pol.polrelid OPERATOR(pg_catalog.=) c.oid ORDER BY 1)";

/// The schemas and their tables, on any node, restricted to `$1` (schema names).
fn objects_sql() -> String {
    format!(
        "SELECT n.nspname::text AS schema, NULL::text AS relname,
                COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))::text[] AS acl,
                false AS rls, false AS force_rls, '{{}}'::text[] AS policies,
                '{{}}'::text[] AS policy_names
         FROM pg_catalog.pg_namespace n
         WHERE n.nspname OPERATOR(pg_catalog.=) ANY ($1)
         UNION ALL
         SELECT n.nspname::text, c.relname::text,
                COALESCE(c.relacl, pg_catalog.acldefault('r', c.relowner))::text[],
                c.relrowsecurity, c.relforcerowsecurity, {POLICIES},
                ARRAY(SELECT pol.polname::text FROM pg_catalog.pg_policy pol
                      WHERE pol.polrelid OPERATOR(pg_catalog.=) c.oid ORDER BY 1)
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         WHERE n.nspname OPERATOR(pg_catalog.=) ANY ($1) AND c.relkind IN ('r', 'p')"
    )
}

/// Every shard of a distributed tenant schema's tables, with the node holding it.
const SHARDS_SQL: &str = "\
SELECT n.nspname::text AS schema, c.relname::text AS relname, s.shardid,
       nd.nodename::text AS host, nd.nodeport AS port
FROM pg_catalog.pg_dist_schema ds
JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) ds.schemaid
JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid
JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) c.oid
JOIN pg_catalog.pg_dist_placement pl ON pl.shardid OPERATOR(pg_catalog.=) s.shardid
JOIN pg_catalog.pg_dist_node nd ON nd.groupid OPERATOR(pg_catalog.=) pl.groupid
WHERE pg_catalog.starts_with(n.nspname, $1)
  AND ($2::text IS NULL OR n.nspname OPERATOR(pg_catalog.=) $2)
  AND nd.noderole OPERATOR(pg_catalog.=) 'primary' AND nd.groupid OPERATOR(pg_catalog.<>) 0";

/// grantee → privilege letters (with `*` for grant options), grantor left out: Citus
/// applies the coordinator's grants on the shards as whoever runs them.
type Grants = BTreeMap<String, BTreeSet<String>>;

fn grants(acl: &[String]) -> Grants {
    let mut out = Grants::new();
    for item in acl {
        let Some((grantee, rest)) = item.split_once('=') else {
            continue;
        };
        let privs = rest.split('/').next().unwrap_or("");
        let grantee = if grantee.is_empty() {
            "PUBLIC".to_string()
        } else {
            grantee.trim_matches('"').to_string()
        };
        let set = out.entry(grantee).or_default();
        let mut chars = privs.chars().peekable();
        while let Some(c) = chars.next() {
            let mut p = c.to_string();
            if chars.peek() == Some(&'*') {
                chars.next();
                p.push('*');
            }
            set.insert(p);
        }
    }
    out
}

/// The SQL keyword of an ACL letter, for schemas (`n`) or tables (`r`).
/// `None` for a grant option (`r*`): its fix needs WITH GRANT OPTION, which a person
/// should decide on.
fn keyword(letter: &str, schema: bool) -> Option<&'static str> {
    let mut chars = letter.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    Some(match (c, schema) {
        ('U', true) => "USAGE",
        ('C', true) => "CREATE",
        ('r', false) => "SELECT",
        ('a', false) => "INSERT",
        ('w', false) => "UPDATE",
        ('d', false) => "DELETE",
        ('D', false) => "TRUNCATE",
        ('x', false) => "REFERENCES",
        ('t', false) => "TRIGGER",
        ('m', false) => "MAINTAIN",
        _ => return None,
    })
}

/// Audits every worker for the distributed tenant schemas it holds (or only `schema`'s
/// worker). Empty on a database without Citus.
pub async fn audit(
    session: &Session,
    schema: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Vec<Finding>> {
    // No query without Citus: the session found out when it opened.
    if !session.citus || crate::citus::nodes::citus_version(session).await?.is_none() {
        return Ok(Vec::new());
    }
    let prefix = session.names.schema_prefix.clone();
    let only = schema.map(str::to_string);
    let shards: Vec<Shard> = session
        .cancellable(cancel, "reading the Citus shard placements", move |conn| {
            Box::pin(async move {
                sqlx::query_as(SHARDS_SQL)
                    .bind(&prefix)
                    .bind(&only)
                    .fetch_all(&mut *conn)
                    .await
            })
        })
        .await?;
    let mut by_node: BTreeMap<(String, i32), Vec<Shard>> = BTreeMap::new();
    for s in shards {
        by_node.entry((s.host.clone(), s.port)).or_default().push(s);
    }
    let schemas: Vec<String> = by_node
        .values()
        .flatten()
        .map(|s| s.schema.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if schemas.is_empty() {
        return Ok(Vec::new());
    }
    let sql = objects_sql();
    let coordinator: Vec<Object> = {
        let sql = sql.clone();
        let schemas = schemas.clone();
        session
            .cancellable(
                cancel,
                "reading the coordinator's tenant grants",
                move |conn| {
                    Box::pin(async move {
                        sqlx::query_as(&sql)
                            .bind(&schemas)
                            .fetch_all(&mut *conn)
                            .await
                    })
                },
            )
            .await?
    };
    let coord: BTreeMap<(String, Option<String>), Object> = coordinator
        .into_iter()
        .map(|o| ((o.schema.clone(), o.relname.clone()), o))
        .collect();
    let mut findings = Vec::new();
    // Policy findings waiting for their fix: (index, schema, table, the worker's names).
    let mut policy_fixes: Vec<(usize, String, String, Vec<String>)> = Vec::new();
    for ((host, port), shards) in &by_node {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled(
                "auditing the Citus workers: cancelled".into(),
            ));
        }
        let node = format!("{host}:{port}");
        let here: Vec<String> = shards
            .iter()
            .map(|s| s.schema.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let worker = match read_worker(session, host, *port, &sql, &here).await {
            Ok(w) => w,
            Err(cause) => {
                let mut d = Draft::new(
                    Rule::WorkerUnreachable,
                    Severity::Medium,
                    format!(
                        "worker {node} could not be read, so the grants of its {} tenant schema(s) are unchecked there: {cause}",
                        here.len()
                    ),
                );
                d.object = Some(node.clone());
                d.path = Some(format!("coordinator → pg_dist_node → {node}"));
                findings.push(d.finish());
                continue;
            }
        };
        let on_worker: BTreeMap<(String, Option<String>), Object> = worker
            .into_iter()
            .map(|o| ((o.schema.clone(), o.relname.clone()), o))
            .collect();
        for schema in &here {
            let key = (schema.clone(), None);
            if let (Some(c), Some(w)) = (coord.get(&key), on_worker.get(&key)) {
                compare(session, &node, schema, None, None, c, w, &mut findings);
            }
        }
        for s in shards {
            let Some(c) = coord.get(&(s.schema.clone(), Some(s.relname.clone()))) else {
                continue;
            };
            // The shard holds the rows; the shell of the same name is what a session on
            // the worker names. Both must carry the coordinator's grants.
            let shard_name = format!("{}_{}", s.relname, s.shardid);
            for name in [&shard_name, &s.relname] {
                if let Some(w) = on_worker.get(&(s.schema.clone(), Some(name.clone()))) {
                    let policy_drift = compare(
                        session,
                        &node,
                        &s.schema,
                        Some(&s.relname),
                        Some(name),
                        c,
                        w,
                        &mut findings,
                    );
                    if policy_drift {
                        policy_fixes.push((
                            findings.len() - 1,
                            s.schema.clone(),
                            s.relname.clone(),
                            w.policy_names.clone(),
                        ));
                    }
                }
            }
        }
    }
    // One coordinator read per drifted table (drift is rare: never one per tenant).
    let mut made: BTreeMap<(String, String), Option<TablePolicies>> = BTreeMap::new();
    for (i, schema, table, worker_names) in policy_fixes {
        let key = (schema.clone(), table.clone());
        if !made.contains_key(&key) {
            let read = table_policies(session, &schema, &table).await?;
            made.insert(key.clone(), read);
        }
        if let (Some(Some(coord)), Some(f)) = (made.get(&key), findings.get_mut(i)) {
            f.fix = policy_fix(&schema, &table, coord, &worker_names);
        }
    }
    Ok(findings)
}

/// One policy of a coordinator table, as `CREATE POLICY` needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct PolicyDef {
    name: String,
    permissive: bool,
    cmd: String,
    /// Role names; PUBLIC apart.
    roles: Vec<String>,
    public: bool,
    /// The server's deparse of the expressions (identifiers quoted by the server).
    using: Option<String>,
    check: Option<String>,
}

/// A coordinator table's RLS flags and policies.
#[derive(Debug, Clone)]
struct TablePolicies {
    rls: bool,
    force_rls: bool,
    policies: Vec<PolicyDef>,
}

const TABLE_POLICIES_SQL: &str = "\
SELECT pol.polname::text AS name, pol.polpermissive AS permissive, pol.polcmd::text AS cmd,
       ARRAY(SELECT r.rolname::text FROM pg_catalog.unnest(pol.polroles) AS pr(oid)
             JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) pr.oid ORDER BY 1) AS roles,
       0::oid OPERATOR(pg_catalog.=) ANY (pol.polroles) AS public,
       pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) AS using,
       pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid) AS check
FROM pg_catalog.pg_policy pol WHERE pol.polrelid OPERATOR(pg_catalog.=) $1::regclass ORDER BY 1";

/// The coordinator's RLS flags and policies of `schema.table`; `None` when it is gone.
async fn table_policies(
    session: &Session,
    schema: &str,
    table: &str,
) -> Result<Option<TablePolicies>> {
    let name = qualified(schema, table);
    let what = format!("reading the coordinator's policies of {name}");
    let flags: Option<(bool, bool)> = sqlx::query_as(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_catalog.pg_class
         WHERE oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)",
    )
    .bind(&name)
    .fetch_optional(&session.pool)
    .await
    .map_err(Error::db(what.clone()))?;
    let Some((rls, force_rls)) = flags else {
        return Ok(None);
    };
    let policies: Vec<PolicyDef> = sqlx::query_as(TABLE_POLICIES_SQL)
        .bind(&name)
        .fetch_all(&session.pool)
        .await
        .map_err(Error::db(what))?;
    Ok(Some(TablePolicies {
        rls,
        force_rls,
        policies,
    }))
}

/// Re-creates the coordinator's policies and RLS flags of `schema.table` on every shard:
/// run on the coordinator, each statement goes to every shard (and the workers' shells)
/// through Citus, after dropping every policy either side has. On the coordinator itself
/// it changes nothing, so it only brings the worker back to what the coordinator says.
/// One `DO` block, so that Citus gets each statement on its own (for some DDL it forwards
/// the whole query string, which fails when it holds several statements).
fn policy_fix(
    schema: &str,
    table: &str,
    coord: &TablePolicies,
    worker_names: &[String],
) -> Option<String> {
    let mut vars = crate::sql::SqlVars::new();
    vars.qualified("table", schema, table);
    let mut statements = Vec::new();
    let names: BTreeSet<&String> = coord
        .policies
        .iter()
        .map(|p| &p.name)
        .chain(worker_names)
        .collect();
    for name in names {
        let mut each = vars.clone();
        each.ident("policy", name);
        statements.push(
            each.render("DROP POLICY IF EXISTS {{policy}} ON {{table}};")
                .ok()?,
        );
    }
    for p in &coord.policies {
        let cmd = match p.cmd.as_str() {
            "*" => "ALL",
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => return None,
        };
        let mut roles: Vec<String> = p
            .roles
            .iter()
            .map(|r| crate::names::quote_ident(r))
            .collect();
        if p.public {
            roles.push("PUBLIC".into());
        }
        if roles.is_empty() {
            return None;
        }
        let mut each = vars.clone();
        each.ident("policy", &p.name)
            .keyword(
                "kind",
                if p.permissive {
                    "PERMISSIVE"
                } else {
                    "RESTRICTIVE"
                },
            )
            .keyword("cmd", cmd)
            .deparsed("roles", &roles.join(", "))
            .deparsed("using", p.using.as_deref().unwrap_or(""))
            .deparsed("check", p.check.as_deref().unwrap_or(""));
        let mut sql = "CREATE POLICY {{policy}} ON {{table}} AS {{kind}} FOR {{cmd}} TO {{roles}}"
            .to_string();
        if p.using.is_some() {
            sql.push_str(" USING ({{using}})");
        }
        if p.check.is_some() {
            sql.push_str(" WITH CHECK ({{check}})");
        }
        sql.push(';');
        statements.push(each.render(&sql).ok()?);
    }
    let mut flags = vars.clone();
    flags
        .keyword("rls", if coord.rls { "ENABLE" } else { "DISABLE" })
        .keyword("force", if coord.force_rls { "FORCE" } else { "NO FORCE" });
    statements.push(
        flags
            .render("ALTER TABLE {{table}} {{rls}} ROW LEVEL SECURITY;")
            .ok()?,
    );
    statements.push(
        flags
            .render("ALTER TABLE {{table}} {{force}} ROW LEVEL SECURITY;")
            .ok()?,
    );
    const TAG: &str = "$tenantctl_fix$";
    if statements.iter().any(|s| s.contains(TAG)) {
        return None;
    }
    Some(format!(
        "DO {TAG} BEGIN\n{}\nEND {TAG};",
        statements.join("\n")
    ))
}

/// Reads one worker's objects for `schemas`; the error as text for the finding.
async fn read_worker(
    session: &Session,
    host: &str,
    port: i32,
    sql: &str,
    schemas: &[String],
) -> std::result::Result<Vec<Object>, String> {
    let mut spec = session.spec.clone();
    spec.host = host.to_string();
    spec.port = u16::try_from(port).map_err(|_| format!("bad port {port}"))?;
    spec.warnings.clear();
    let pool = spec.connect(1).await.map_err(|e| e.to_string())?;
    let rows = async {
        let mut conn = pool.acquire().await?;
        // Citus hides shards from pg_class on workers for sessions not its own; the shards
        // are what the audit is here to read.
        sqlx::query("SET citus.override_table_visibility TO off")
            .execute(&mut *conn)
            .await?;
        sqlx::query_as(sql)
            .bind(schemas)
            .fetch_all(&mut *conn)
            .await
    }
    .await
    .map_err(|e: sqlx::Error| e.to_string());
    pool.close().await;
    rows
}

/// Compares one object's grants, RLS and policies on a worker with the coordinator's;
/// true when it pushed a policy finding (last), whose fix the caller makes.
#[allow(clippy::too_many_arguments)]
fn compare(
    session: &Session,
    node: &str,
    schema: &str,
    table: Option<&str>,
    worker_name: Option<&str>,
    coord: &Object,
    worker: &Object,
    findings: &mut Vec<Finding>,
) -> bool {
    let tenant = session.names.id_from_schema(schema).map(str::to_string);
    let on_coord = qualified_text(schema, table);
    let on_worker = qualified_text(schema, worker_name);
    let path = format!("node {node} → {on_worker}");
    let cg = grants(&coord.acl);
    let wg = grants(&worker.acl);
    let roles: BTreeSet<&String> = cg.keys().chain(wg.keys()).collect();
    let empty = BTreeSet::new();
    for role in roles {
        let c = cg.get(role).unwrap_or(&empty);
        let w = wg.get(role).unwrap_or(&empty);
        let extra: Vec<&String> = w.difference(c).collect();
        let missing: Vec<&String> = c.difference(w).collect();
        for (aspect_base, privs, verb) in [("extra", extra, "holds"), ("missing", missing, "lacks")]
        {
            if privs.is_empty() {
                continue;
            }
            let words: Vec<&str> = privs
                .iter()
                .filter_map(|p| keyword(p, table.is_none()))
                .collect();
            let names = privs
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join("");
            let mut d = Draft::new(
                Rule::WorkerGrantDrift,
                Severity::High,
                format!(
                    "on worker {node}, {role} {verb} {} on {on_worker} that the coordinator's {on_coord} {}",
                    if words.is_empty() {
                        names.clone()
                    } else {
                        words.join(", ")
                    },
                    if aspect_base == "extra" {
                        "does not grant"
                    } else {
                        "grants"
                    },
                ),
            );
            d.schema = Some(schema.to_string());
            d.object = Some(format!("{node}/{}", worker_name.unwrap_or(schema)));
            d.role = Some(role.clone());
            d.tenant = tenant.clone();
            d.aspect = if aspect_base == "extra" {
                "extra"
            } else {
                "missing"
            };
            d.path = Some(path.clone());
            d.fix = grant_fix(
                schema,
                table,
                role,
                &words,
                aspect_base == "extra",
                privs.len(),
            );
            findings.push(d.finish());
        }
    }
    if coord.rls != worker.rls
        || coord.force_rls != worker.force_rls
        || coord.policies != worker.policies
    {
        let rls_off = coord.rls && !worker.rls;
        let mut d = Draft::new(
            Rule::WorkerPolicyDrift,
            if rls_off {
                Severity::Critical
            } else {
                Severity::High
            },
            if rls_off {
                format!(
                    "on worker {node}, row-level security is off on {on_worker}, on on the coordinator's {on_coord}: every row is readable there"
                )
            } else {
                format!(
                    "on worker {node}, the row-level security or policies of {on_worker} differ from the coordinator's {on_coord}"
                )
            },
        );
        d.schema = Some(schema.to_string());
        d.object = Some(format!("{node}/{}", worker_name.unwrap_or(schema)));
        d.tenant = tenant;
        d.aspect = if rls_off { "rls_off" } else { "policies" };
        d.path = Some(path);
        findings.push(d.finish());
        return true;
    }
    false
}

fn qualified_text(schema: &str, object: Option<&str>) -> String {
    match object {
        Some(o) => qualified(schema, o),
        None => crate::names::quote_ident(schema),
    }
}

/// GRANT or REVOKE on the coordinator, which Citus applies to every shard (and the worker's
/// shell): safe because it only brings the worker back to what the coordinator already
/// says. `None` when a privilege has no keyword here (a person must look).
fn grant_fix(
    schema: &str,
    table: Option<&str>,
    role: &str,
    words: &[&'static str],
    extra: bool,
    count: usize,
) -> Option<String> {
    if words.is_empty() || words.len() != count {
        return None;
    }
    let mut vars = crate::sql::SqlVars::default();
    vars.grantee("role", role).keywords("privs", words);
    let template = match (table, extra) {
        (Some(t), true) => {
            vars.qualified("obj", schema, t);
            "REVOKE {{privs}} ON TABLE {{obj}} FROM {{role}};"
        }
        (Some(t), false) => {
            vars.qualified("obj", schema, t);
            "GRANT {{privs}} ON TABLE {{obj}} TO {{role}};"
        }
        (None, true) => {
            vars.ident("obj", schema);
            "REVOKE {{privs}} ON SCHEMA {{obj}} FROM {{role}};"
        }
        (None, false) => {
            vars.ident("obj", schema);
            "GRANT {{privs}} ON SCHEMA {{obj}} TO {{role}};"
        }
    };
    vars.render(template).ok()
}
