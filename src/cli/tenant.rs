//! `tenantctl tenant ...`.

use super::output::{Align, Table};
use super::{Context, EXIT_OK, Format, output};
use crate::catalog::{self, Drift, TenantRow};
use crate::error::{Error, Result};
use crate::tenant;
use crate::units::human_bytes;

/// Tenant subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {
    /// The registry with sizes (estimated from the catalog; measured on disk with --exact)
    List {
        /// Measure sizes on disk (pg_total_relation_size) instead of estimating them
        #[arg(long)]
        exact: bool,
    },
    /// One tenant: registry row, schema size, tables and grants
    Show {
        /// Tenant id
        id: String,
    },
    /// Provision a tenant (registry row, schema, template, grants, RLS, read-only role), all or nothing
    Create {
        /// Tenant id: a lowercase letter, then lowercase letters, digits or _
        #[arg(required_unless_present = "from")]
        id: Option<String>,
        /// Display name [default: the id]
        #[arg(long)]
        name: Option<String>,
        /// Config entry; VALUE is JSON if it parses (42, true, {"a":1}), else text;
        /// KEY=- reads the value from standard input (for secrets)
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Config entry whose value is the content of a file (for secrets)
        #[arg(long = "set-file", value_name = "KEY=PATH")]
        set_file: Vec<String>,
        /// Provision every tenant of FILE: JSON lines ({"id":…,"name":…,"config":{…}}) or CSV
        /// with a header (id,name,config); each all or nothing; existing tenants are skipped
        #[arg(long, value_name = "FILE", conflicts_with_all = ["id", "name", "set", "set_file"])]
        from: Option<std::path::PathBuf>,
        /// With --from: tenants provisioned at a time, one connection each
        #[arg(long, default_value_t = 4, requires = "from")]
        jobs: usize,
        /// Accept that the applied file of version V changed: the history records its new
        /// checksum (tenants keep what the old file did); as on `tenant migrate`
        #[arg(long = "accept-checksum", value_name = "V")]
        accept_checksum: Vec<i32>,
    },
    /// Change a tenant's name or config
    Set {
        /// Tenant id
        id: String,
        /// New display name
        #[arg(long)]
        name: Option<String>,
        /// Config entry to set; VALUE is JSON if it parses, else text; KEY=- reads the
        /// value from standard input (for secrets)
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Config entry whose value is the content of a file (for secrets)
        #[arg(long = "set-file", value_name = "KEY=PATH")]
        set_file: Vec<String>,
        /// Config key to remove
        #[arg(long = "unset", value_name = "KEY")]
        unset: Vec<String>,
        /// Hold the tenant at template version N: `migrate` takes it no further
        #[arg(long, value_name = "N", conflicts_with_all = ["name", "set", "set_file", "unset", "unpin"])]
        pin_version: Option<i32>,
        /// Release a pin: `migrate` takes the tenant to the newest version again
        #[arg(long, conflicts_with_all = ["name", "set", "set_file", "unset"])]
        unpin: bool,
        /// Record the template version of an adopted tenant that has none (migrate then
        /// takes it from there); refused for a tenant with a version
        #[arg(long, value_name = "N", conflicts_with_all = ["name", "set", "set_file", "unset", "pin_version", "unpin"])]
        template_version: Option<i32>,
    },
    /// Suspend a tenant: status suspended, and every application role loses USAGE on its schema
    Suspend {
        /// Tenant id
        id: String,
    },
    /// Resume a suspended tenant: status active, application roles' USAGE restored
    Resume {
        /// Tenant id
        id: String,
    },
    /// Deprovision: a verified dump first, then schema, read-only role and registry row in one transaction
    Drop {
        /// Tenant id
        id: String,
        /// The tenant id again, to confirm
        #[arg(long, value_name = "ID")]
        confirm: String,
    },
    /// Bring a schema made elsewhere under management, in one transaction: registry row,
    /// ownership of the schema and every object to the admin role, read-only role, the
    /// model's grants, RLS and policies
    Adopt {
        /// The existing schema (named <schema_prefix><id>)
        #[arg(
            required_unless_present = "all_unregistered",
            conflicts_with = "all_unregistered"
        )]
        schema: Option<String>,
        /// Tenant id [default: the schema name without the prefix]
        #[arg(long, conflicts_with = "all_unregistered")]
        id: Option<String>,
        /// The template version the schema is at [default: none: migrate leaves it alone]
        #[arg(long, value_name = "N")]
        at_version: Option<i32>,
        /// Every schema with the tenant prefix and no registry row, each in its own transaction
        #[arg(long)]
        all_unregistered: bool,
        /// Show what would change; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Bring tenants to the newest template version (or --to N), each in its own
    /// transaction, several at once; pinned tenants are held at their pin
    Migrate {
        /// Tenant ids
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Every tenant in the registry
        #[arg(long)]
        all: bool,
        /// Target version [default: the template's newest]
        #[arg(long, value_name = "N")]
        to: Option<i32>,
        /// Tenants migrated at once, one connection each (capped by the free max_connections)
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
        jobs: u16,
        /// Migrate this tenant first, alone; if it fails, nothing else is tried
        #[arg(long, value_name = "ID")]
        canary: Option<String>,
        /// Print, per version, how many tenants it would touch and the SQL of the first; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Accept that the applied file of version V changed: the history records its new
        /// checksum (tenants keep what the old file did)
        #[arg(long = "accept-checksum", value_name = "V")]
        accept_checksum: Vec<i32>,
    },
    /// Citus: move a tenant's schema to another node (online by default)
    Move {
        /// Tenant id
        id: String,
        /// Target node, as `tenantctl nodes` lists it
        #[arg(long, value_name = "HOST:PORT")]
        to: String,
        /// How the tenant is copied: auto is online (logical replication), block_writes
        /// blocks its writes for the copy
        #[arg(long, value_enum, default_value_t = super::nodes::ModeArg::Auto)]
        mode: super::nodes::ModeArg,
        /// Do not ask for confirmation (required without a terminal)
        #[arg(long)]
        yes: bool,
    },
    /// Citus: make local tenant schemas distributed (each moves whole to a worker)
    Distribute {
        /// Tenant ids
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Every tenant schema still local to the coordinator
        #[arg(long)]
        all: bool,
    },
}

use crate::tenant::parse_pair;

/// Runs a tenant subcommand.
pub async fn run(ctx: &Context, cmd: &TenantCommand) -> Result<u8> {
    match cmd {
        TenantCommand::List { exact } => list(ctx, *exact).await,
        TenantCommand::Show { id } => show(ctx, id).await,
        TenantCommand::Create {
            from: Some(file),
            jobs,
            accept_checksum,
            ..
        } => super::bulk::run(ctx, file, *jobs, accept_checksum).await,
        TenantCommand::Create {
            id,
            name,
            set,
            set_file,
            accept_checksum,
            ..
        } => {
            let config = config_entries(set, set_file)?;
            let session = ctx.session().await?;
            if !accept_checksum.is_empty() {
                tenant::check_applied_files(&session, accept_checksum).await?;
            }
            let new = tenant::NewTenant {
                id: id.clone().unwrap_or_default(),
                name: name.clone(),
                config,
            };
            let row = tenant::create(&session, &new).await?;
            changed(
                ctx,
                &row,
                &format!("provisioned tenant {} in schema {}", row.id, row.schema),
            )
        }
        TenantCommand::Set {
            id,
            name,
            set,
            set_file,
            unset,
            pin_version,
            unpin,
            template_version,
        } => {
            if let Some(v) = template_version {
                let session = ctx.session().await?;
                let row = tenant::set_version(&session, id, *v).await?;
                return changed(
                    ctx,
                    &row,
                    &format!("tenant {} is recorded at template version {v}", row.id),
                );
            }
            if pin_version.is_some() || *unpin {
                let session = ctx.session().await?;
                let row = tenant::pin(&session, id, *pin_version).await?;
                let message = match row.pinned_version {
                    Some(p) => format!(
                        "tenant {} is pinned at template version {p} (now at v{})",
                        row.id, row.template_version
                    ),
                    None => format!("tenant {} is no longer pinned", row.id),
                };
                return changed(ctx, &row, &message);
            }
            let set = config_entries(set, set_file)?;
            let session = ctx.session().await?;
            let change = tenant::TenantChange {
                name: name.clone(),
                set,
                unset: unset.clone(),
            };
            let row = tenant::set(&session, id, &change).await?;
            changed(ctx, &row, &format!("updated tenant {}", row.id))
        }
        TenantCommand::Suspend { id } => {
            let session = ctx.session().await?;
            let row = tenant::suspend(&session, id).await?;
            changed(
                ctx,
                &row,
                &format!(
                    "suspended tenant {}: no application role can reach {} any more",
                    row.id, row.schema
                ),
            )
        }
        TenantCommand::Resume { id } => {
            let session = ctx.session().await?;
            let row = tenant::resume(&session, id).await?;
            changed(ctx, &row, &format!("resumed tenant {}", row.id))
        }
        TenantCommand::Drop { id, confirm } => {
            let settings = super::backup::settings(ctx, None)?;
            let session = ctx.session().await?;
            let (tx, cancel, printer) = super::backup::progress_and_cancel();
            let r =
                crate::backup::drop_tenant(&session, &settings, id, confirm, &tx, &cancel).await;
            drop(tx);
            let _ = printer.await;
            let report = r?;
            match ctx.format {
                Format::Json if report.complete() => output::print_json(&report.done[0])?,
                Format::Json => output::print_json(&report)?,
                Format::Text => {
                    for f in &report.failed {
                        eprintln!("error: {}: {}", f.item, f.error);
                    }
                    if let Some(r) = report.done.first() {
                        outln!(
                            "dropped tenant {}; its verified backup is {}",
                            r.tenant,
                            r.backup.display()
                        );
                    }
                }
            }
            match report.shortfall("step(s)") {
                None => Ok(EXIT_OK),
                Some(shortfall) => Err(crate::error::Error::Incomplete(format!(
                    "drop did not finish: {shortfall}; {}",
                    if report.done.is_empty() {
                        format!("tenant {id} was not dropped")
                    } else {
                        format!("tenant {id} is gone")
                    }
                ))),
            }
        }
        TenantCommand::Adopt {
            schema,
            id,
            at_version,
            all_unregistered: _,
            dry_run,
        } => {
            let session = ctx.session().await?;
            let schemas = match schema {
                Some(s) => vec![s.clone()],
                None => tenant::unregistered_schemas(&session).await?,
            };
            adopt(
                ctx,
                &session,
                &schemas,
                id.as_deref(),
                *at_version,
                *dry_run,
            )
            .await
        }
        TenantCommand::Migrate {
            ids,
            all,
            to,
            jobs,
            canary,
            dry_run,
            accept_checksum,
        } => {
            let opts = tenant::MigrateOptions {
                ids: if *all { None } else { Some(ids.clone()) },
                to: *to,
                jobs: usize::from(*jobs),
                canary: canary.clone(),
                accept_checksums: accept_checksum.clone(),
            };
            if *dry_run {
                migrate_plan(ctx, &opts).await
            } else {
                migrate(ctx, &opts).await
            }
        }
        TenantCommand::Move { id, to, mode, yes } => {
            super::nodes::move_tenant(ctx, id, to, *mode, *yes).await
        }
        TenantCommand::Distribute { ids, all } => super::nodes::distribute(ctx, ids, *all).await,
    }
}

/// `--set` and `--set-file` entries with their values read: `KEY=-` from standard input
/// (once), `--set-file KEY=PATH` from the file; one trailing newline is dropped. No secret
/// needs to appear on a command line.
fn config_entries(set: &[String], set_file: &[String]) -> Result<Vec<(String, String)>> {
    // Parsed here, not by clap, whose errors repeat the raw argument (a secret, maybe).
    let pairs = |raw: &[String], flag: &str| -> Result<Vec<(String, String)>> {
        raw.iter()
            .map(|r| parse_pair(r).map_err(|e| Error::Invalid(format!("{flag}: {e}"))))
            .collect()
    };
    let set = pairs(set, "--set")?;
    let set_file = pairs(set_file, "--set-file")?;
    let strip = |mut v: String| {
        if v.ends_with('\n') {
            v.pop();
            if v.ends_with('\r') {
                v.pop();
            }
        }
        v
    };
    let mut stdin_used = false;
    let mut out = Vec::with_capacity(set.len() + set_file.len());
    for (k, v) in &set {
        if v != "-" {
            out.push((k.clone(), v.clone()));
            continue;
        }
        if stdin_used {
            return Err(Error::Invalid(format!(
                "--set {k}=-: standard input was already read for another key; use --set-file for the others"
            )));
        }
        stdin_used = true;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|source| {
            Error::Io {
                what: format!("reading the value of {k} from standard input"),
                source,
            }
        })?;
        out.push((k.clone(), strip(text)));
    }
    for (k, path) in &set_file {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            what: format!("reading the value of {k} from {path}"),
            source,
        })?;
        out.push((k.clone(), strip(text)));
    }
    Ok(out)
}

/// A row as it may be printed: secret-looking config values masked.
fn shown(mut row: TenantRow) -> TenantRow {
    row.config = tenant::masked(&row.config);
    row
}

fn changed(ctx: &Context, row: &TenantRow, message: &str) -> Result<u8> {
    match ctx.format {
        Format::Json => output::print_json(&shown(row.clone()))?,
        Format::Text => outln!("{message}"),
    }
    Ok(EXIT_OK)
}

async fn adopt(
    ctx: &Context,
    session: &crate::session::Session,
    schemas: &[String],
    id: Option<&str>,
    at_version: Option<i32>,
    dry_run: bool,
) -> Result<u8> {
    let mut plans = Vec::new();
    let mut failures = Vec::new();
    for schema in schemas {
        let a = tenant::Adoption {
            schema: schema.clone(),
            id: id.map(str::to_string),
            at_version,
        };
        let result = if dry_run {
            tenant::adopt_plan(session, &a).await
        } else {
            tenant::adopt(session, &a).await
        };
        match result {
            Ok(p) => plans.push(p),
            // One schema named: its error is the command's.
            Err(e) if schemas.len() == 1 => return Err(e),
            Err(e) => failures.push(crate::job::ItemFailure {
                item: schema.clone(),
                error: e.to_string(),
            }),
        }
    }
    match ctx.format {
        Format::Json => output::print_json(&serde_json::json!({
            "dry_run": dry_run,
            "adopted": plans,
            "failed": failures,
        }))?,
        Format::Text => {
            if schemas.is_empty() {
                outln!("no unregistered schema to adopt");
            }
            for p in &plans {
                outln!(
                    "{} schema {} as tenant {} (template version {}):",
                    if dry_run { "would adopt" } else { "adopted" },
                    p.schema,
                    p.tenant,
                    p.at_version
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "none; migrate leaves it alone".into())
                );
                for c in &p.owner_changes {
                    outln!("  owner {} -> admin: {} {}", c.owner, c.kind, c.object);
                }
                outln!(
                    "  role {} created; RLS, policies and grants on {} table(s)",
                    p.readonly_role,
                    p.tables.len()
                );
            }
            for f in &failures {
                outln!("failed: {}: {}", f.item, f.error);
            }
        }
    }
    if failures.is_empty() {
        Ok(EXIT_OK)
    } else {
        Err(Error::Incomplete(format!(
            "adopt did not finish: {} schema(s) failed; each failed schema was left as it was; the others were adopted",
            failures.len()
        )))
    }
}

/// The pool a migration needs: one connection per job, and one for the run itself.
fn migrate_pool(opts: &tenant::MigrateOptions) -> u32 {
    u32::try_from(opts.jobs).unwrap_or(4).max(4) + 1
}

async fn migrate_plan(ctx: &Context, opts: &tenant::MigrateOptions) -> Result<u8> {
    let session = ctx.session_with(migrate_pool(opts)).await?;
    let plan = tenant::plan(&session, opts).await?;
    match ctx.format {
        Format::Json => output::print_json(&plan)?,
        Format::Text => {
            outln!(
                "dry run: target template v{}, {} job(s); nothing was changed",
                plan.target_version,
                plan.jobs
            );
            if plan.versions.is_empty() {
                outln!("no tenant needs a version");
            }
            for v in &plan.versions {
                outln!(
                    "\nversion {} ({}): {} tenant(s); SQL for {}:",
                    v.version,
                    v.file,
                    v.tenants,
                    v.first_tenant
                );
                outln!("{}", v.first_sql.trim_end());
            }
            outln!(
                "\n{} already current, {} pinned{}",
                plan.current.len(),
                plan.pinned.len(),
                if plan.pinned.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", plan.pinned.join(" "))
                }
            );
            if !plan.unversioned.is_empty() {
                outln!(
                    "without a version (left alone): {}",
                    plan.unversioned.join(" ")
                );
            }
        }
    }
    Ok(EXIT_OK)
}

async fn migrate(ctx: &Context, opts: &tenant::MigrateOptions) -> Result<u8> {
    let session = ctx.session_with(migrate_pool(opts)).await?;
    let (tx, mut rx) = crate::job::progress_channel::<tenant::MigrateOutcome>();
    let cancel = super::progress::ctrl_c_cancels("cancelling after the tenant in progress…");
    let printer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            match p.failed.first() {
                None => eprintln!("[{}/{}] {}", p.done, p.total, p.current),
                Some(f) => eprintln!("[{}/{}] {} FAILED: {}", p.done, p.total, f.item, f.error),
            }
        }
    });
    let report = tenant::migrate_with(&session, opts, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    let report = report?;
    match ctx.format {
        Format::Json => output::print_json(&serde_json::json!({
            "target_version": opts.to.unwrap_or(session.template.latest()),
            "done": report.done,
            "failed": report.failed,
            "not_tried": report.not_tried,
            "cancelled": report.cancelled,
        }))?,
        Format::Text => {
            outln!("{}", report.summary());
            let pinned: Vec<&str> = report
                .done
                .iter()
                .filter(|o| o.result == tenant::MigrateResult::Pinned)
                .map(|o| o.tenant.as_str())
                .collect();
            if !pinned.is_empty() {
                outln!("pinned (skipped): {}", pinned.join(" "));
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
        Some(shortfall) => {
            let mut next = Vec::new();
            if !report.failed.is_empty() {
                next.push(
                    "failed tenants were left at their old version; `tenantctl log` has the causes",
                );
            }
            let canary_failed = opts
                .canary
                .as_ref()
                .is_some_and(|c| report.failed.iter().any(|f| &f.item == c));
            if canary_failed {
                next.push("the canary failed, so no other tenant was tried; fix it and rerun");
            } else if !report.not_tried.is_empty() {
                next.push("rerun to continue");
            }
            Err(Error::Incomplete(format!(
                "migrate did not finish: {shortfall}; {}",
                next.join("; ")
            )))
        }
    }
}

async fn list(ctx: &Context, exact: bool) -> Result<u8> {
    let session = ctx.session().await?;
    // Measured sizes come with table counts: the estimate's scan would be thrown away.
    let listed = match exact {
        true => catalog::list_unsized(&session).await?,
        false => catalog::list_tenants(&session).await?,
    };
    let mut rows: Vec<TenantRow> = listed.into_iter().map(shown).collect();
    if exact {
        let schemas: Vec<String> = rows
            .iter()
            .filter(|r| r.size_bytes.is_some())
            .map(|r| r.schema.clone())
            .collect();
        let sizes = measure_with_progress(&session, &schemas).await?;
        let by_schema: std::collections::HashMap<String, catalog::Measured> =
            sizes.into_iter().map(|m| (m.schema.clone(), m)).collect();
        for r in &mut rows {
            if let Some(m) = by_schema.get(&r.schema) {
                r.size_bytes = Some(m.bytes);
                r.size_exact = true;
                r.tables = m.tables;
            }
        }
    }
    match ctx.format {
        Format::Json => output::print_json(&rows)?,
        Format::Text => {
            out!("{}", tenant_table(&rows));
            if let Some(line) = version_distribution(&rows) {
                outln!("{line}");
            }
        }
    }
    Ok(EXIT_OK)
}

/// Measures exact sizes chunk by chunk, with progress on a terminal's stderr; Ctrl-C
/// cancels the running query.
async fn measure_with_progress(
    session: &crate::session::Session,
    schemas: &[String],
) -> Result<Vec<catalog::Measured>> {
    use std::io::IsTerminal;
    let cancel = super::progress::ctrl_c_cancels("cancelling the measurement…");
    let (tx, mut rx) = crate::job::progress_channel::<catalog::Measured>();
    let show = std::io::stderr().is_terminal() && schemas.len() > catalog::EXACT_CHUNK;
    let printer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            if show {
                eprint!("\rmeasuring sizes: {}/{} schemas", p.done, p.total);
            }
        }
        if show {
            eprintln!();
        }
    });
    let result = catalog::measure_sizes(session, schemas, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    let report = result?;
    if let Some(shortfall) = report.shortfall("schemas") {
        return Err(Error::Incomplete(format!(
            "tenant list --exact did not finish: {shortfall}; nothing was printed"
        )));
    }
    Ok(report.done)
}

/// How many registered tenants are at each template version, and how many are pinned.
fn version_distribution(rows: &[TenantRow]) -> Option<String> {
    let mut by_version = std::collections::BTreeMap::<i32, usize>::new();
    for r in rows.iter().filter(|r| r.drift != Drift::Unregistered) {
        *by_version.entry(r.template_version).or_default() += 1;
    }
    if by_version.is_empty() {
        return None;
    }
    let parts: Vec<String> = by_version
        .iter()
        .map(|(v, n)| match v {
            0 => format!("no version: {n}"),
            v => format!("v{v}: {n}"),
        })
        .collect();
    let pinned = rows.iter().filter(|r| r.pinned_version.is_some()).count();
    Some(format!(
        "template versions: {}; pinned: {pinned}",
        parts.join(", ")
    ))
}

/// The registry as an aligned table that fits 80 columns.
pub fn tenant_table(rows: &[TenantRow]) -> String {
    // On Citus, where each tenant lives; the column is absent elsewhere.
    let citus = rows.iter().any(|r| r.node.is_some());
    let mut columns = vec![
        ("ID", Align::Left),
        ("NAME", Align::Left),
        ("STATUS", Align::Left),
        ("SIZE", Align::Right),
        ("TABLES", Align::Right),
        ("VER", Align::Right),
        ("PIN", Align::Right),
        ("DRIFT", Align::Left),
    ];
    if citus {
        columns.insert(3, ("NODE", Align::Left));
    }
    let mut t = Table::new(&columns);
    for r in rows {
        let mut cells = vec![
            r.id.clone(),
            r.name.clone(),
            r.status.to_string(),
            match r.size_bytes {
                Some(b) if r.size_exact => human_bytes(b),
                Some(b) => format!("~{}", human_bytes(b)),
                None => "-".into(),
            },
            r.tables.to_string(),
            if r.drift == Drift::Unregistered {
                "-".into()
            } else {
                r.template_version.to_string()
            },
            r.pinned_version.map(|p| p.to_string()).unwrap_or_default(),
            match r.drift {
                Drift::None => String::new(),
                Drift::MissingSchema => "schema missing".into(),
                Drift::Unregistered => "no registry row".into(),
            },
        ];
        if citus {
            cells.insert(3, r.node.clone().unwrap_or_else(|| "local".into()));
        }
        t.row(cells);
    }
    t.render(80)
}

async fn show(ctx: &Context, id: &str) -> Result<u8> {
    // One connection: its parts are small queries, and at 10,000 tenants each further
    // connection's handshake (SCRAM, a new backend) cost more than running them side by side
    // saved.
    let session = ctx.session_with(1).await?;
    let tenant::TenantDetail {
        row,
        tables: size,
        grants,
        findings,
    } = tenant::inspect(&session, id).await?;
    let row = shown(row);
    // No backup folder configured means no backups to show, not a failure of `show`.
    let backups = match super::backup::settings(ctx, None) {
        Ok(s) => crate::backup::list(&s.dir, Some(&row.id))?,
        Err(_) => Vec::new(),
    };
    match ctx.format {
        Format::Json => {
            let mut v = serde_json::to_value(&row)
                .map_err(|e| Error::Invalid(format!("cannot encode JSON output: {e}")))?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("schema_size".into(), serde_json::json!(size));
                obj.insert("findings".into(), serde_json::json!(findings));
                obj.insert("grants".into(), serde_json::json!(grants));
                obj.insert("backups".into(), serde_json::json!(backups));
                obj.insert(
                    "connection".into(),
                    serde_json::json!({ "target": session.spec.target(), "tls": session.tls }),
                );
            }
            output::print_json(&v)?;
        }
        Format::Text => {
            outln!("id        {}", row.id);
            outln!("name      {}", output::printable(&row.name));
            outln!("schema    {}", row.schema);
            outln!("status    {}", row.status);
            match row.pinned_version {
                Some(p) => outln!("template  v{} (pinned at v{p})", row.template_version),
                None => outln!("template  v{}", row.template_version),
            }
            outln!("config    {}", row.config);
            outln!(
                "size      {} (tables {}, indexes {}, TOAST {})",
                human_bytes(row.size_bytes.unwrap_or(size.total_bytes)),
                human_bytes(size.table_bytes),
                human_bytes(size.index_bytes),
                human_bytes(size.toast_bytes)
            );
            outln!();
            let mut t = Table::new(&[
                ("TABLE", Align::Left),
                ("ROWS~", Align::Right),
                ("SIZE", Align::Right),
                ("RLS", Align::Left),
                ("POLICIES", Align::Right),
            ]);
            for tb in &size.tables {
                t.row(vec![
                    tb.name.clone(),
                    tb.row_estimate
                        .map(crate::units::human_count)
                        .unwrap_or_else(|| "?".into()),
                    human_bytes(tb.total_bytes),
                    match (tb.rls_enabled, tb.rls_forced) {
                        (true, true) => "on, forced".into(),
                        (true, false) => "on".into(),
                        _ => "off".into(),
                    },
                    tb.policies.to_string(),
                ]);
            }
            out!("{}", t.render(80));
            outln!();
            let mut g = Table::new(&[
                ("ROLE", Align::Left),
                ("KIND", Align::Left),
                ("OBJECT", Align::Left),
                ("PRIVILEGES", Align::Left),
            ]);
            for (role, kind, object, privs) in grouped_grants(&grants) {
                g.row(vec![role, kind, object, privs]);
            }
            out!("{}", g.render(80));
            outln!();
            if backups.is_empty() {
                outln!("backups   none");
            } else {
                outln!("backups   {}", backups.len());
                out!("{}", super::backup::backup_table(&backups));
            }
            outln!();
            if findings.is_empty() {
                outln!("grants match the model (the audit finds nothing)");
            } else {
                outln!("{} audit finding(s):", findings.len());
                for f in &findings {
                    outln!(
                        "  ! {} {}: {}",
                        f.severity,
                        f.id,
                        output::printable(&f.message)
                    );
                    match &f.fix {
                        Some(sql) => {
                            for (i, line) in sql.lines().enumerate() {
                                let head = if i == 0 { "fix:" } else { "    " };
                                outln!("      {head} {}", output::printable(line));
                            }
                        }
                        None => outln!("      fix: none (a person must decide)"),
                    }
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// Grants folded to one line per role and object.
fn grouped_grants(m: &catalog::GrantMatrix) -> Vec<(String, String, String, String)> {
    let mut out: Vec<(String, String, String, String)> = Vec::new();
    for e in &m.entries {
        // Compared by the role's display form, which carries the owner mark.
        let role = role_shown(e);
        match out.last_mut() {
            Some(last) if last.0 == role && last.2 == e.object && last.1 == e.kind.as_str() => {
                last.3.push_str(&format!(",{}", e.privilege));
            }
            _ => out.push((
                role,
                e.kind.as_str().into(),
                e.object.clone(),
                e.privilege.clone(),
            )),
        }
    }
    out
}

fn role_shown(e: &catalog::GrantEntry) -> String {
    if e.owner {
        format!("{} (owner)", e.grantee)
    } else {
        e.grantee.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::grouped_grants;
    use crate::catalog::{GrantEntry, GrantMatrix, ObjectKind};

    fn entry(grantee: &str, privilege: &str, owner: bool) -> GrantEntry {
        GrantEntry {
            grantee: grantee.into(),
            kind: ObjectKind::Table,
            object: "customers".into(),
            privilege: privilege.into(),
            grantable: owner,
            owner,
        }
    }

    #[test]
    fn the_owners_privileges_fold_into_one_line() {
        let m = GrantMatrix {
            entries: vec![
                entry("marvin", "DELETE", true),
                entry("marvin", "INSERT", true),
                entry("marvin", "SELECT", true),
                entry("svc", "INSERT", false),
                entry("svc", "SELECT", false),
            ],
            ..GrantMatrix::default()
        };
        let rows = grouped_grants(&m);
        assert_eq!(
            rows,
            vec![
                (
                    "marvin (owner)".to_string(),
                    "table".to_string(),
                    "customers".to_string(),
                    "DELETE,INSERT,SELECT".to_string()
                ),
                (
                    "svc".to_string(),
                    "table".to_string(),
                    "customers".to_string(),
                    "INSERT,SELECT".to_string()
                ),
            ]
        );
    }
}
