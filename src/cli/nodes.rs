//! Citus commands: `nodes`, `tenant move`, `tenant distribute`, `rebalance`.

use super::output::{self, Align, Table};
use super::{Context, EXIT_OK, Format};
use crate::citus::nodes::{self, NodeAddr, NodeRole};
use crate::citus::ops::{self, TransferMode};
use crate::error::{Error, Result};
use crate::job::progress_channel;
use crate::units::human_bytes;
use clap::{Args, ValueEnum};
use tokio_util::sync::CancellationToken;

/// `--mode` of `tenant move` and `rebalance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ModeArg {
    /// Online by logical replication; needs a primary key or replica identity on each table
    #[default]
    Auto,
    /// Online even without replica identity (UPDATE/DELETE on such tables fail meanwhile)
    #[value(name = "force_logical")]
    ForceLogical,
    /// Block the tenant's writes for the whole copy; works for any table
    #[value(name = "block_writes")]
    BlockWrites,
}

impl From<ModeArg> for TransferMode {
    fn from(m: ModeArg) -> TransferMode {
        match m {
            ModeArg::Auto => TransferMode::Auto,
            ModeArg::ForceLogical => TransferMode::ForceLogical,
            ModeArg::BlockWrites => TransferMode::BlockWrites,
        }
    }
}

/// `tenantctl nodes`.
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// Also list each node's tenants
    #[arg(long)]
    pub tenants: bool,
}

/// `tenantctl rebalance`.
#[derive(Debug, Args)]
pub struct RebalanceArgs {
    /// Show the latest rebalance instead of starting one
    #[arg(long)]
    pub status: bool,
    /// How each tenant is copied
    #[arg(long, value_enum, default_value_t = ModeArg::Auto, conflicts_with = "status")]
    pub mode: ModeArg,
    /// Start it and return at once (default: follow it to its end; Ctrl-C stops it)
    #[arg(long, conflicts_with = "status")]
    pub no_wait: bool,
    /// Do not ask for confirmation (required without a terminal)
    #[arg(long, conflicts_with = "status")]
    pub yes: bool,
}

/// Runs `tenantctl nodes`.
pub async fn nodes(ctx: &Context, args: &NodesArgs) -> Result<u8> {
    let session = ctx.session().await?;
    let map = nodes::read(&session, &CancellationToken::new()).await?;
    match ctx.format {
        Format::Json => output::print_json(&serde_json::json!({
            "citus_version": map.citus_version,
            "nodes": map.nodes.iter().map(|n| serde_json::json!({
                "node_id": n.node_id,
                "group_id": n.group_id,
                "host": n.addr.host,
                "port": n.addr.port,
                "address": n.addr.to_string(),
                "role": n.role,
                "active": n.active,
                "should_have_shards": n.should_have_shards,
                "tenants": n.tenants,
                "size_bytes": n.bytes,
            })).collect::<Vec<_>>(),
            "balance": map.balance(),
            "tenants": map.placements.iter().map(|p| serde_json::json!({
                "id": p.tenant,
                "schema": p.schema,
                "distributed": p.distributed,
                "node": p.group_id.and_then(|g| map.node_of_group(g)).map(|n| n.addr.to_string()),
                "size_bytes": p.bytes,
            })).collect::<Vec<_>>(),
        }))?,
        Format::Text => {
            let mut t = Table::new(&[
                ("NODE", Align::Left),
                ("ROLE", Align::Left),
                ("TENANTS", Align::Right),
                ("SIZE", Align::Right),
                ("STATE", Align::Left),
            ]);
            for n in &map.nodes {
                t.row(vec![
                    n.addr.to_string(),
                    match n.role {
                        NodeRole::Coordinator => "coordinator".into(),
                        NodeRole::Worker => "worker".into(),
                    },
                    n.tenants.to_string(),
                    human_bytes(n.bytes),
                    match (n.active, n.should_have_shards) {
                        (false, _) => "inactive".into(),
                        (true, false) if n.role == NodeRole::Worker => "draining".into(),
                        _ => "active".into(),
                    },
                ]);
            }
            out!("{}", t.render(80));
            match map.balance() {
                Some(b) => outln!(
                    "balance: largest node {:.2}× its share of bytes; tenant counts differ by {}",
                    b.max_over_mean,
                    b.tenant_spread
                ),
                None => outln!("balance: fewer than two nodes take data"),
            }
            let local = map.local().count();
            if local > 0 {
                outln!(
                    "{local} tenant(s) still local to the coordinator: `tenantctl tenant distribute --all` distributes them"
                );
            }
            if args.tenants {
                for n in &map.nodes {
                    let on = map.tenants_on(n);
                    if on.is_empty() {
                        continue;
                    }
                    outln!("\n{} ({} tenants)", n.addr, on.len());
                    let mut t = Table::new(&[("TENANT", Align::Left), ("SIZE", Align::Right)]);
                    for p in on {
                        t.row(vec![p.tenant.clone(), human_bytes(p.bytes)]);
                    }
                    out!("{}", t.render(80));
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// Runs `tenantctl tenant move ID --to HOST:PORT`.
pub async fn move_tenant(
    ctx: &Context,
    id: &str,
    to: &str,
    mode: ModeArg,
    yes: bool,
) -> Result<u8> {
    let to = NodeAddr::parse(to)?;
    let session = ctx.session().await?;
    session.ensure_writable("tenant move")?;
    let map = nodes::read(&session, &CancellationToken::new()).await?;
    let plan = ops::plan_move(&session.names, &map, id, &to, mode.into())?;
    super::backup::confirm(
        yes,
        &format!(
            "move tenant {} ({}) from {} to {}: {}",
            plan.tenant,
            human_bytes(plan.bytes),
            plan.from,
            plan.to,
            plan.mode.consequence()
        ),
        "yes",
    )?;
    let (tx, mut rx) = progress_channel::<ops::Moved>();
    let cancel = super::progress::ctrl_c_cancels("cancelling the move…");
    let printer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            if p.done == 0 {
                eprintln!("{}…", p.current);
            }
        }
    });
    let report = ops::move_tenant(&session, &plan, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    let report = report?;
    match ctx.format {
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            for m in &report.done {
                outln!("moved tenant {} from {} to {}", m.tenant, m.from, m.to);
            }
        }
    }
    match report.shortfall("tenant(s)") {
        None => Ok(EXIT_OK),
        Some(_) if report.cancelled => Err(Error::Incomplete(format!(
            "move of tenant {} cancelled; Citus rolled it back and the tenant stays on {}",
            plan.tenant, plan.from
        ))),
        Some(_) => Err(Error::Incomplete(format!(
            "move of tenant {} failed: {}; the tenant stays on {}",
            plan.tenant,
            report
                .failed
                .first()
                .map(|f| f.error.as_str())
                .unwrap_or("unknown cause"),
            plan.from
        ))),
    }
}

/// Runs `tenantctl tenant distribute (ID...|--all)`.
/// Not confirmed, like `migrate`: distributing changes where a tenant lives, not what it
/// holds, and `citus_schema_undistribute` takes it back.
pub async fn distribute(ctx: &Context, ids: &[String], all: bool) -> Result<u8> {
    let session = ctx.session().await?;
    session.ensure_writable("tenant distribute")?;
    let map = nodes::read(&session, &CancellationToken::new()).await?;
    let tenants = ops::plan_distribute(&session.names, &map, ids, all)?;
    if tenants.is_empty() {
        match ctx.format {
            Format::Json => {
                output::print_json(&crate::job::JobReport::<ops::Distributed>::default())?
            }
            Format::Text => outln!("no local tenant: every tenant schema is distributed"),
        }
        return Ok(EXIT_OK);
    }
    let (tx, mut rx) = progress_channel::<ops::Distributed>();
    let cancel = super::progress::ctrl_c_cancels("cancelling after the tenant in progress…");
    let printer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            match p.failed.first() {
                None => eprintln!("[{}/{}] {}", p.done, p.total, p.current),
                Some(f) => eprintln!("[{}/{}] {} FAILED: {}", p.done, p.total, f.item, f.error),
            }
        }
    });
    let report = ops::distribute(&session, &tenants, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    let report = report?;
    match ctx.format {
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            for d in &report.done {
                match &d.node {
                    Some(n) => outln!("distributed tenant {} to {n}", d.tenant),
                    None => outln!("distributed tenant {} (no tables yet)", d.tenant),
                }
            }
            for f in &report.failed {
                outln!("failed: {}: {}", f.item, f.error);
            }
            if !report.not_tried.is_empty() {
                outln!("not tried: {}", report.not_tried.join(" "));
            }
        }
    }
    match report.shortfall("tenant(s)") {
        None => Ok(EXIT_OK),
        Some(s) => Err(Error::Incomplete(format!(
            "distribute did not finish: {s}; {} tenant(s) were distributed; rerun for the rest",
            report.done.len()
        ))),
    }
}

/// Runs `tenantctl rebalance [--status]`.
pub async fn rebalance(ctx: &Context, args: &RebalanceArgs) -> Result<u8> {
    let session = ctx.session().await?;
    if args.status {
        let status = ops::rebalance_status(&session).await?;
        match ctx.format {
            Format::Json => output::print_json(&status)?,
            Format::Text => match &status {
                None => outln!("no rebalance has run on this cluster"),
                Some(s) => outln!(
                    "rebalance job {}: {} ({} of {} moves done)",
                    s.job_id,
                    s.state,
                    s.tasks_done,
                    s.tasks_total
                ),
            },
        }
        return Ok(EXIT_OK);
    }
    session.ensure_writable("rebalance")?;
    nodes::require_citus(&session).await?;
    let mode: TransferMode = args.mode.into();
    super::backup::confirm(
        args.yes,
        &format!(
            "rebalance: Citus moves tenants between nodes until their sizes are even, in the background; each move is {}",
            mode.consequence()
        ),
        "yes",
    )?;
    let Some(job) = ops::rebalance_start(&session, mode).await? else {
        match ctx.format {
            Format::Json => output::print_json(&serde_json::json!({"job_id": null}))?,
            Format::Text => outln!("the cluster is balanced: nothing to move"),
        }
        return Ok(EXIT_OK);
    };
    if args.no_wait {
        match ctx.format {
            Format::Json => output::print_json(&serde_json::json!({"job_id": job}))?,
            Format::Text => {
                outln!("rebalance job {job} started; `tenantctl rebalance --status` follows it")
            }
        }
        return Ok(EXIT_OK);
    }
    let (tx, mut rx) = progress_channel::<ops::RebalanceStatus>();
    let cancel = super::progress::ctrl_c_cancels("stopping the rebalance…");
    let printer = tokio::spawn(async move {
        let mut last = (usize::MAX, usize::MAX);
        while let Some(p) = rx.recv().await {
            if (p.done, p.total) != last {
                eprintln!("[{}/{}] {}", p.done, p.total, p.current);
                last = (p.done, p.total);
            }
        }
    });
    let report = ops::rebalance_follow(
        &session,
        std::time::Duration::from_millis(500),
        &tx,
        &cancel,
    )
    .await;
    drop(tx);
    let _ = printer.await;
    let report = report?;
    let last = report.done.last();
    match ctx.format {
        Format::Json => output::print_json(&serde_json::json!({
            "job_id": job,
            "status": last,
            "failed": report.failed,
            "cancelled": report.cancelled,
        }))?,
        Format::Text => {
            if let Some(s) = last {
                outln!(
                    "rebalance job {}: {} ({} of {} moves done)",
                    s.job_id,
                    s.state,
                    s.tasks_done,
                    s.tasks_total
                );
            }
        }
    }
    match report.shortfall("rebalance") {
        None => Ok(EXIT_OK),
        Some(_) if report.cancelled => Err(Error::Incomplete(format!(
            "rebalance job {job} stopped: {}; moves already done stay done",
            report.not_tried.join(", ")
        ))),
        Some(s) => Err(Error::Incomplete(format!(
            "rebalance job {job} did not finish: {s}; `tenantctl rebalance --status` shows Citus's details"
        ))),
    }
}
