//! Moving tenants between Citus nodes, distributing local tenants, and rebalancing: each on
//! the long-job contract of [`crate::job`].
//!
//! These run as the connected role, outside tenantctl's `SET ROLE` to the admin: Citus
//! opens its connections to the workers as the current role, which must be able to log in
//! there (the admin role of the model is NOLOGIN). Citus itself requires the schema's
//! owner or a superuser for a move or a distribute.

use super::nodes::{self, NodeAddr, NodeMap, NodeRole};
use crate::error::{Error, Result};
use crate::job::{ItemFailure, JobReport, Progress, ProgressSender, report_progress};
use crate::names::NamingPolicy;
use crate::session::Session;
use serde::Serialize;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How `citus_schema_move` copies a tenant (`citus.shard_transfer_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// Logical replication when every table has a primary key or replica identity (writes
    /// go on during the copy, only a short block at the switch); fails otherwise, naming
    /// the table, rather than block writes unasked.
    #[default]
    Auto,
    /// Logical replication even for tables without a replica identity: their UPDATEs and
    /// DELETEs fail during the copy.
    ForceLogical,
    /// Copies with writes to the tenant blocked for the whole copy: works for any table,
    /// the application waits (reads go on).
    BlockWrites,
}

impl TransferMode {
    /// The value of `citus.shard_transfer_mode`.
    pub fn as_sql(self) -> &'static str {
        match self {
            TransferMode::Auto => "auto",
            TransferMode::ForceLogical => "force_logical",
            TransferMode::BlockWrites => "block_writes",
        }
    }

    /// Parses the CLI's and the console's name.
    pub fn parse(text: &str) -> Result<TransferMode> {
        match text {
            "auto" => Ok(TransferMode::Auto),
            "force_logical" => Ok(TransferMode::ForceLogical),
            "block_writes" => Ok(TransferMode::BlockWrites),
            other => Err(Error::Invalid(format!(
                "unknown transfer mode {other:?}: use auto, force_logical or block_writes"
            ))),
        }
    }

    /// What the mode means for the application, for confirmations.
    pub fn consequence(self) -> &'static str {
        match self {
            TransferMode::Auto => {
                "online: copied by logical replication while the application keeps writing; writes pause briefly at the switch (needs a primary key or replica identity on every table)"
            }
            TransferMode::ForceLogical => {
                "online by logical replication even for tables without a replica identity, whose UPDATE and DELETE fail during the copy"
            }
            TransferMode::BlockWrites => {
                "writes to the tenant are blocked for the whole copy (reads go on); works for any table"
            }
        }
    }
}

/// A tenant that moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub tenant: String,
    pub schema: String,
    pub from: NodeAddr,
    pub to: NodeAddr,
    pub mode: TransferMode,
}

/// What a move would do, checked against the cluster before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePlan {
    pub tenant: String,
    pub schema: String,
    pub from: NodeAddr,
    pub to: NodeAddr,
    pub bytes: i64,
    pub mode: TransferMode,
}

/// Checks a move of `tenant` to `to`: the tenant is distributed, the target an active
/// node that takes data and not where the tenant already is.
pub fn plan_move(
    names: &NamingPolicy,
    map: &NodeMap,
    tenant: &str,
    to: &NodeAddr,
    mode: TransferMode,
) -> Result<MovePlan> {
    let id = names.tenant_id(tenant)?;
    let schema = names.schema_of(&id);
    let placement = map
        .placement(&schema)
        .ok_or_else(|| Error::NoSuchTenant(tenant.into()))?;
    if !placement.distributed {
        return Err(Error::Invalid(format!(
            "tenant {tenant} is still local to the coordinator; `tenantctl tenant distribute {tenant}` makes it a distributed schema first"
        )));
    }
    let from = placement
        .group_id
        .and_then(|g| map.node_of_group(g))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "tenant {tenant} has no tables yet, so it is on no node; there is nothing to move"
            ))
        })?;
    let known: Vec<String> = map.nodes.iter().map(|n| n.addr.to_string()).collect();
    let target = map.node(to).ok_or_else(|| {
        Error::Invalid(format!(
            "{to} is not a node of this cluster (nodes: {})",
            known.join(", ")
        ))
    })?;
    if !target.active {
        return Err(Error::Invalid(format!(
            "{to} is not active; activate it (citus_activate_node) or pick another node"
        )));
    }
    if target.role == NodeRole::Coordinator && !target.should_have_shards {
        return Err(Error::Invalid(format!(
            "{to} is the coordinator, which holds no distributed data here; pick a worker"
        )));
    }
    if target.group_id == from.group_id {
        return Err(Error::Invalid(format!(
            "tenant {tenant} is already on {to}"
        )));
    }
    Ok(MovePlan {
        tenant: id.as_str().to_string(),
        schema,
        from: from.addr.clone(),
        to: target.addr.clone(),
        bytes: placement.bytes,
        mode,
    })
}

/// Moves a tenant's schema to another node (`citus_schema_move`): one item. Cancelling asks
/// the server to cancel the move, which Citus rolls back (the tenant stays where it was,
/// its copy on the target is cleaned up).
pub async fn move_tenant(
    session: &Session,
    plan: &MovePlan,
    progress: &ProgressSender<Moved>,
    cancel: &CancellationToken,
) -> Result<JobReport<Moved>> {
    session.ensure_writable("moving a tenant")?;
    let mut report = JobReport::default();
    if cancel.is_cancelled() {
        report.cancelled = true;
        report.not_tried.push(plan.tenant.clone());
        return Ok(report);
    }
    report_progress(
        progress,
        Progress {
            done: 0,
            total: 1,
            current: format!("moving {} to {}", plan.tenant, plan.to),
            landed: Vec::new(),
            failed: Vec::new(),
        },
    );
    let schema = plan.schema.clone();
    let host = plan.to.host.clone();
    let port = i32::from(plan.to.port);
    let mode = plan.mode.as_sql();
    let outcome = session
        .cancellable(cancel, "moving the tenant", move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "SELECT pg_catalog.citus_schema_move(n.oid::pg_catalog.regnamespace, $2, $3, $4::citus.shard_transfer_mode)
                     FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) $1",
                )
                .bind(&schema)
                .bind(&host)
                .bind(port)
                .bind(mode)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await;
    let summary = format!(
        "citus_schema_move({}, {}, {})",
        plan.schema,
        plan.to,
        plan.mode.as_sql()
    );
    let moved = Moved {
        tenant: plan.tenant.clone(),
        schema: plan.schema.clone(),
        from: plan.from.clone(),
        to: plan.to.clone(),
        mode: plan.mode,
    };
    match outcome {
        Ok(()) => {
            log_best_effort(session, "tenant move", &plan.tenant, summary, "ok".into()).await;
            report.done.push(moved.clone());
            report_progress(
                progress,
                Progress {
                    done: 1,
                    total: 1,
                    current: plan.tenant.clone(),
                    landed: vec![moved],
                    failed: Vec::new(),
                },
            );
        }
        Err(Error::Cancelled(_)) => {
            report.cancelled = true;
            report.not_tried.push(plan.tenant.clone());
        }
        Err(e) => {
            let failure = ItemFailure {
                item: plan.tenant.clone(),
                error: format!("{e}{}", move_hint(&e)),
            };
            log_best_effort(
                session,
                "tenant move",
                &plan.tenant,
                summary,
                format!("failed: {e}"),
            )
            .await;
            report.failed.push(failure.clone());
            report_progress(
                progress,
                Progress {
                    done: 1,
                    total: 1,
                    current: plan.tenant.clone(),
                    landed: Vec::new(),
                    failed: vec![failure],
                },
            );
        }
    }
    Ok(report)
}

/// What to do about a failed move, when the cause is a known one.
fn move_hint(e: &Error) -> &'static str {
    let text = e.to_string();
    if text.contains("replica identity") || text.contains("REPLICA IDENTITY") {
        " (a table has no primary key or replica identity: retry with --mode block_writes, which blocks the tenant's writes during the copy)"
    } else {
        ""
    }
}

/// Writes a console log row when the database is bootstrapped; a Citus cluster used before
/// `init` has no log, and a move is not undone for want of one.
async fn log_best_effort(
    session: &Session,
    action: &str,
    tenant: &str,
    sql_summary: String,
    outcome: String,
) {
    let entry = crate::journal::Entry {
        action,
        tenant: Some(tenant),
        sql_summary,
        outcome,
        detail: None,
    };
    let logged: Option<String> = sqlx::query_scalar("SELECT pg_catalog.to_regclass($1)::text")
        .bind(session.names.log())
        .fetch_one(&session.pool)
        .await
        .ok()
        .flatten();
    if logged.is_some() {
        // A failure here is not the operation's: the move itself is done (or failed on its
        // own), and the log row is a record of it.
        let _ = crate::journal::record_failure(session, &entry).await;
    }
}

/// A tenant schema that became distributed, and the node Citus put it on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distributed {
    pub tenant: String,
    pub schema: String,
    pub node: Option<NodeAddr>,
}

/// The tenants to distribute: the named ones (each must be local), or every local tenant.
pub fn plan_distribute(
    names: &NamingPolicy,
    map: &NodeMap,
    tenants: &[String],
    all: bool,
) -> Result<Vec<String>> {
    if all {
        return Ok(map.local().map(|p| p.tenant.clone()).collect());
    }
    let mut out = Vec::new();
    for t in tenants {
        let id = names.tenant_id(t)?;
        let schema = names.schema_of(&id);
        let p = map
            .placement(&schema)
            .ok_or_else(|| Error::NoSuchTenant(t.clone()))?;
        if p.distributed {
            return Err(Error::Invalid(format!(
                "tenant {t} is already distributed; `tenantctl tenant move {t} --to HOST:PORT` moves it"
            )));
        }
        out.push(id.as_str().to_string());
    }
    Ok(out)
}

/// Makes each local tenant schema a distributed schema (`citus_schema_distribute`), one
/// transaction per tenant: Citus moves its tables to a worker of its choosing. Cancel is
/// checked between tenants; a tenant in flight is cancelled on the server and rolled back.
pub async fn distribute(
    session: &Session,
    tenants: &[String],
    progress: &ProgressSender<Distributed>,
    cancel: &CancellationToken,
) -> Result<JobReport<Distributed>> {
    session.ensure_writable("distributing tenants")?;
    let mut report = JobReport::default();
    let total = tenants.len();
    for (i, tenant) in tenants.iter().enumerate() {
        if cancel.is_cancelled() {
            report.cancelled = true;
            report.not_tried.extend(tenants[i..].iter().cloned());
            break;
        }
        let id = session.names.tenant_id(tenant)?;
        let schema = session.names.schema_of(&id);
        let s = schema.clone();
        let lock_timeout = format!("{}ms", session.lock_timeout.as_millis());
        let outcome = session
            .cancellable(cancel, "distributing the tenant", move |conn| {
                Box::pin(async move {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    sqlx::query("SELECT pg_catalog.set_config('lock_timeout', $1, true)")
                        .bind(&lock_timeout)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "SELECT pg_catalog.citus_schema_distribute(n.oid::pg_catalog.regnamespace)
                         FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) $1",
                    )
                    .bind(&s)
                    .execute(&mut *tx)
                    .await?;
                    let node: Option<(String, i32)> = sqlx::query_as(
                        "SELECT nd.nodename::text, nd.nodeport
                         FROM pg_catalog.pg_dist_schema ds
                         JOIN pg_catalog.pg_dist_partition p ON p.colocationid OPERATOR(pg_catalog.=) ds.colocationid
                         JOIN pg_catalog.pg_dist_shard sh ON sh.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid
                         JOIN pg_catalog.pg_dist_placement pl ON pl.shardid OPERATOR(pg_catalog.=) sh.shardid
                         JOIN pg_catalog.pg_dist_node nd ON nd.groupid OPERATOR(pg_catalog.=) pl.groupid
                         WHERE ds.schemaid OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_namespace
                                                                   WHERE nspname OPERATOR(pg_catalog.=) $1)
                         LIMIT 1",
                    )
                    .bind(&s)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(node)
                })
            })
            .await;
        let summary = format!("citus_schema_distribute({schema})");
        match outcome {
            Ok(node) => {
                log_best_effort(session, "tenant distribute", tenant, summary, "ok".into()).await;
                let d = Distributed {
                    tenant: tenant.clone(),
                    schema,
                    node: node.map(|(host, port)| NodeAddr {
                        host,
                        port: u16::try_from(port).unwrap_or(0),
                    }),
                };
                report.done.push(d.clone());
                report_progress(
                    progress,
                    Progress {
                        done: i + 1,
                        total,
                        current: tenant.clone(),
                        landed: vec![d],
                        failed: Vec::new(),
                    },
                );
            }
            Err(Error::Cancelled(_)) => {
                report.cancelled = true;
                report.not_tried.extend(tenants[i..].iter().cloned());
                break;
            }
            Err(e) => {
                log_best_effort(
                    session,
                    "tenant distribute",
                    tenant,
                    summary,
                    format!("failed: {e}"),
                )
                .await;
                let f = ItemFailure {
                    item: tenant.clone(),
                    error: e.to_string(),
                };
                report.failed.push(f.clone());
                report_progress(
                    progress,
                    Progress {
                        done: i + 1,
                        total,
                        current: tenant.clone(),
                        landed: Vec::new(),
                        failed: vec![f],
                    },
                );
            }
        }
    }
    Ok(report)
}

/// The latest rebalance job (`citus_rebalance_status()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebalanceStatus {
    pub job_id: i64,
    /// Citus's job state: scheduled, running, finished, cancelled, failed, …
    pub state: String,
    /// Moves done and planned, from the job's tasks.
    pub tasks_done: usize,
    pub tasks_total: usize,
    /// Citus's own details (tasks with their state and progress).
    pub details: serde_json::Value,
}

impl RebalanceStatus {
    /// True once Citus will do no more for this job.
    pub fn ended(&self) -> bool {
        status_is_final(&self.state)
    }
}

/// The latest rebalance, or `None` when there never was one.
pub async fn rebalance_status(session: &Session) -> Result<Option<RebalanceStatus>> {
    nodes::require_citus(session).await?;
    let row: Option<(i64, String, Option<serde_json::Value>)> = sqlx::query_as(
        "SELECT job_id, state::text, details FROM pg_catalog.citus_rebalance_status()",
    )
    .fetch_optional(&session.pool)
    .await
    .map_err(Error::db("reading the rebalance status"))?;
    Ok(row.map(|(job_id, state, details)| {
        let details = details.unwrap_or(serde_json::Value::Null);
        let (tasks_done, tasks_total) = task_counts(&details);
        RebalanceStatus {
            job_id,
            state,
            tasks_done,
            tasks_total,
            details,
        }
    }))
}

/// Done and total tasks from `details.task_state_counts` (e.g. `{"done": 2, "runnable": 1}`).
fn task_counts(details: &serde_json::Value) -> (usize, usize) {
    let Some(counts) = details.get("task_state_counts").and_then(|c| c.as_object()) else {
        return (0, 0);
    };
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0) as usize;
    let total = counts.values().map(n).sum();
    let done = counts.get("done").map(n).unwrap_or(0);
    (done, total)
}

/// Starts a rebalance in the background (`citus_rebalance_start`); `None` when the cluster
/// is already balanced (Citus plans no move).
pub async fn rebalance_start(session: &Session, mode: TransferMode) -> Result<Option<i64>> {
    session.ensure_writable("starting a rebalance")?;
    nodes::require_citus(session).await?;
    let job: Option<i64> = sqlx::query_scalar(
        "SELECT pg_catalog.citus_rebalance_start(shard_transfer_mode => $1::citus.shard_transfer_mode)",
    )
    .bind(mode.as_sql())
    .fetch_one(&session.pool)
    .await
    .map_err(|e| match crate::error::sqlstate(&e).as_deref() {
        Some("55000") | Some("55006") => Error::Conflict(format!(
            "a rebalance is already running; `tenantctl rebalance --status` follows it ({})",
            e
        )),
        _ => Error::db("starting the rebalance")(e),
    })?;
    log_best_effort(
        session,
        "rebalance",
        "",
        format!("citus_rebalance_start({})", mode.as_sql()),
        match job {
            Some(j) => format!("ok: job {j}"),
            None => "ok: nothing to move".into(),
        },
    )
    .await;
    Ok(job)
}

/// Follows the latest rebalance until it ends, reporting its moves as progress. Cancelling
/// stops the rebalance (`citus_rebalance_stop`): moves already done stay, the one in
/// flight is rolled back by Citus. The report's one item is the final status.
pub async fn rebalance_follow(
    session: &Session,
    poll: Duration,
    progress: &ProgressSender<RebalanceStatus>,
    cancel: &CancellationToken,
) -> Result<JobReport<RebalanceStatus>> {
    let mut report = JobReport::default();
    loop {
        let Some(status) = rebalance_status(session).await? else {
            return Err(Error::Invalid(
                "no rebalance has run on this cluster; `tenantctl rebalance` starts one".into(),
            ));
        };
        if status_is_final(&status.state) {
            let item = format!("rebalance job {}", status.job_id);
            if status.state != "finished" {
                report.failed.push(ItemFailure {
                    item,
                    error: format!("the rebalance ended {}", status.state),
                });
            }
            report_progress(
                progress,
                Progress {
                    done: status.tasks_done,
                    total: status.tasks_total,
                    current: status.state.clone(),
                    landed: vec![status.clone()],
                    failed: report.failed.clone(),
                },
            );
            report.done.push(status);
            return Ok(report);
        }
        report_progress(
            progress,
            Progress {
                done: status.tasks_done,
                total: status.tasks_total,
                current: status.state.clone(),
                landed: Vec::new(),
                failed: Vec::new(),
            },
        );
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = cancel.cancelled() => {
                if !session.read_only() {
                    sqlx::query("SELECT pg_catalog.citus_rebalance_stop()")
                        .execute(&session.pool)
                        .await
                        .map_err(Error::db("stopping the rebalance"))?;
                }
                report.cancelled = true;
                report.not_tried.push(format!(
                    "the rest of rebalance job {} ({} of {} moves done)",
                    status.job_id, status.tasks_done, status.tasks_total
                ));
                return Ok(report);
            }
        }
    }
}

/// Citus job states after which nothing more happens.
fn status_is_final(state: &str) -> bool {
    matches!(state, "finished" | "cancelled" | "failed")
}

/// Starts a rebalance and follows it to its end (the console's job): nothing lands when
/// the cluster is already balanced.
pub async fn rebalance_job(
    session: &Session,
    mode: TransferMode,
    progress: &ProgressSender<RebalanceStatus>,
    cancel: &CancellationToken,
) -> Result<JobReport<RebalanceStatus>> {
    match rebalance_start(session, mode).await? {
        None => Ok(JobReport::default()),
        Some(_) => rebalance_follow(session, Duration::from_millis(500), progress, cancel).await,
    }
}
