//! `tenantctl tenant ...`.

use super::output::{Align, Table};
use super::{Context, EXIT_OK, Format, output};
use crate::catalog::{self, Drift, TenantRow};
use crate::error::{Error, Result};
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
}

/// Runs a tenant subcommand.
pub async fn run(ctx: &Context, cmd: &TenantCommand) -> Result<u8> {
    match cmd {
        TenantCommand::List { exact } => list(ctx, *exact).await,
        TenantCommand::Show { id } => show(ctx, id).await,
    }
}

async fn list(ctx: &Context, exact: bool) -> Result<u8> {
    let session = ctx.session().await?;
    let mut rows = catalog::list_tenants(&session).await?;
    if exact {
        let schemas: Vec<String> = rows
            .iter()
            .filter(|r| r.size_bytes.is_some())
            .map(|r| r.schema.clone())
            .collect();
        let sizes = catalog::exact_sizes(&session, &schemas).await?;
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
        Format::Text => print!("{}", tenant_table(&rows)),
    }
    Ok(EXIT_OK)
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
    let id = session.names.tenant_id(id)?;
    let row = catalog::tenant_row(&session, id.as_str())
        .await?
        .ok_or_else(|| Error::NoSuchTenant(id.to_string()))?;
    let size = catalog::schema_tables(&session, &row.schema).await?;
    let grants = catalog::grant_matrix(&session, &row.schema).await?;
    match ctx.format {
        Format::Json => {
            let mut v = serde_json::to_value(&row)
                .map_err(|e| Error::Invalid(format!("cannot encode JSON output: {e}")))?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("size_bytes".into(), serde_json::json!(size.total_bytes));
                obj.insert(
                    "size_exact".into(),
                    serde_json::json!(row.drift != Drift::MissingSchema),
                );
                obj.insert("schema_size".into(), serde_json::json!(size));
                obj.insert("grants".into(), serde_json::json!(grants));
                obj.insert("backups".into(), serde_json::json!([]));
            }
            output::print_json(&v)?;
        }
        Format::Text => {
            println!("id        {}", row.id);
            println!("name      {}", row.name);
            println!("schema    {}", row.schema);
            println!("status    {}", row.status);
            println!("template  v{}", row.template_version);
            println!("config    {}", row.config);
            println!(
                "size      {} (tables {}, indexes {}, TOAST {})",
                human_bytes(size.total_bytes),
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
        }
    }
    Ok(EXIT_OK)
}

/// Grants folded to one line per role and object.
fn grouped_grants(m: &catalog::GrantMatrix) -> Vec<(String, String, String, String)> {
    let mut out: Vec<(String, String, String, String)> = Vec::new();
    for e in &m.entries {
        let owner = if e.owner { " (owner)" } else { "" };
        match out.last_mut() {
            Some(last)
                if last.0 == e.grantee && last.2 == e.object && last.1 == e.kind.as_str() =>
            {
                last.3.push_str(&format!(",{}", e.privilege));
            }
            _ => out.push((
                format!("{}{owner}", e.grantee),
                e.kind.as_str().into(),
                e.object.clone(),
                e.privilege.clone(),
            )),
        }
    }
    out
}
