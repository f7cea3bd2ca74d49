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
        id: String,
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
    /// Bring tenants to the newest template version, each in its own transaction
    Migrate {
        /// Tenant id
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every tenant in the registry
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
            id,
            name,
            set,
            set_file,
        } => {
            let config = config_entries(set, set_file)?;
            let session = ctx.session().await?;
            let new = tenant::NewTenant {
                id: id.clone(),
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
        } => {
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
        TenantCommand::Migrate { id, all } => migrate(ctx, id.as_deref(), *all).await,
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
        Format::Text | Format::Markdown => println!("{message}"),
    }
    Ok(EXIT_OK)
}

async fn migrate(ctx: &Context, id: Option<&str>, all: bool) -> Result<u8> {
    let session = ctx.session().await?;
    let ids = if all {
        None
    } else {
        id.map(|i| vec![i.to_string()])
    };
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
    let report = tenant::migrate(&session, ids, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    let report = report?;
    match ctx.format {
        Format::Json => output::print_json(&serde_json::json!({
            "target_version": tenant::latest_version(),
            "done": report.done,
            "failed": report.failed,
            "not_tried": report.not_tried,
            "cancelled": report.cancelled,
        }))?,
        Format::Text | Format::Markdown => {
            println!("{}", report.summary());
            for f in &report.failed {
                println!("failed: {}: {}", f.item, f.error);
            }
            if !report.not_tried.is_empty() {
                println!("not tried: {}", report.not_tried.join(" "));
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
            if !report.not_tried.is_empty() {
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
    let mut rows: Vec<TenantRow> = catalog::list_tenants(&session)
        .await?
        .into_iter()
        .map(shown)
        .collect();
    if exact {
        let schemas: Vec<String> = rows
            .iter()
            .filter(|r| r.size_bytes.is_some())
            .map(|r| r.schema.clone())
            .collect();
        let sizes = measure_with_progress(&session, &schemas).await?;
        let by_schema: std::collections::HashMap<String, i64> = sizes.into_iter().collect();
        for r in &mut rows {
            if let Some(b) = by_schema.get(&r.schema) {
                r.size_bytes = Some(*b);
                r.size_exact = true;
            }
        }
    }
    match ctx.format {
        Format::Json => output::print_json(&rows)?,
        Format::Text | Format::Markdown => print!("{}", tenant_table(&rows)),
    }
    Ok(EXIT_OK)
}

/// Measures exact sizes chunk by chunk, with progress on a terminal's stderr; Ctrl-C
/// cancels the running query.
async fn measure_with_progress(
    session: &crate::session::Session,
    schemas: &[String],
) -> Result<Vec<(String, i64)>> {
    use std::io::IsTerminal;
    let cancel = super::progress::ctrl_c_cancels("cancelling the measurement…");
    let (tx, mut rx) = crate::job::progress_channel::<(String, i64)>();
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

/// The registry as an aligned table that fits 80 columns.
pub fn tenant_table(rows: &[TenantRow]) -> String {
    let mut t = Table::new(&[
        ("ID", Align::Left),
        ("NAME", Align::Left),
        ("STATUS", Align::Left),
        ("SIZE", Align::Right),
        ("TABLES", Align::Right),
        ("VER", Align::Right),
        ("DRIFT", Align::Left),
    ]);
    for r in rows {
        t.row(vec![
            r.id.clone(),
            r.name.clone(),
            r.status.to_string(),
            match r.size_bytes {
                Some(b) if r.size_exact => human_bytes(b),
                Some(b) => format!("~{}", human_bytes(b)),
                None => "-".into(),
            },
            r.tables.to_string(),
            r.template_version.to_string(),
            match r.drift {
                Drift::None => String::new(),
                Drift::MissingSchema => "schema missing".into(),
                Drift::Unregistered => "no registry row".into(),
            },
        ]);
    }
    t.render(80)
}

async fn show(ctx: &Context, id: &str) -> Result<u8> {
    let session = ctx.session().await?;
    let tenant::TenantDetail {
        row,
        tables: size,
        grants,
        findings,
    } = tenant::inspect(&session, id).await?;
    let row = shown(row);
    match ctx.format {
        Format::Json => {
            let mut v = serde_json::to_value(&row)
                .map_err(|e| Error::Invalid(format!("cannot encode JSON output: {e}")))?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("schema_size".into(), serde_json::json!(size));
                obj.insert("findings".into(), serde_json::json!(findings));
                obj.insert("grants".into(), serde_json::json!(grants));
                obj.insert("backups".into(), serde_json::json!([]));
                obj.insert(
                    "connection".into(),
                    serde_json::json!({ "target": session.spec.target(), "tls": session.tls }),
                );
            }
            output::print_json(&v)?;
        }
        Format::Text | Format::Markdown => {
            println!("id        {}", row.id);
            println!("name      {}", output::printable(&row.name));
            println!("schema    {}", row.schema);
            println!("status    {}", row.status);
            println!("template  v{}", row.template_version);
            println!("config    {}", row.config);
            println!(
                "size      {} (tables {}, indexes {}, TOAST {})",
                human_bytes(row.size_bytes.unwrap_or(size.total_bytes)),
                human_bytes(size.table_bytes),
                human_bytes(size.index_bytes),
                human_bytes(size.toast_bytes)
            );
            println!();
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
            print!("{}", t.render(80));
            println!();
            let mut g = Table::new(&[
                ("ROLE", Align::Left),
                ("KIND", Align::Left),
                ("OBJECT", Align::Left),
                ("PRIVILEGES", Align::Left),
            ]);
            for (role, kind, object, privs) in grouped_grants(&grants) {
                g.row(vec![role, kind, object, privs]);
            }
            print!("{}", g.render(80));
            println!();
            if findings.is_empty() {
                println!("grants match the model (the audit finds nothing)");
            } else {
                println!("{} audit finding(s):", findings.len());
                for f in &findings {
                    println!(
                        "  ! {} {}: {}",
                        f.severity,
                        f.id,
                        output::printable(&f.message)
                    );
                    match &f.fix {
                        Some(sql) => {
                            for (i, line) in sql.lines().enumerate() {
                                let head = if i == 0 { "fix:" } else { "    " };
                                println!("      {head} {}", output::printable(line));
                            }
                        }
                        None => println!("      fix: none (a person must decide)"),
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
