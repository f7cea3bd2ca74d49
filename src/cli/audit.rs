//! `tenantctl audit`, `audit who`, `audit fix`.

use super::output::{Align, Table};
use super::{Context, EXIT_FINDINGS, EXIT_OK, Format, output};
use crate::audit::{self, AuditReport, Severity};
use crate::error::{Error, Result};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// Arguments of `audit`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only the findings about this tenant
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// Exit 1 when a finding is at this severity or worse: critical, high, medium, low, info
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// A previous `audit --format json` report: only findings it lacks count (and are marked new)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

/// `audit` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Every role that can read or write a tenant's data, with the path that grants it
    Who {
        /// Tenant id
        tenant: String,
        /// Only this table of the tenant
        #[arg(long, value_name = "TABLE")]
        table: Option<String>,
    },
    /// Apply the fixes of the named findings in one transaction (asks first unless --yes)
    Fix {
        /// Finding ids, as `tenantctl audit` prints them
        #[arg(required = true, value_name = "FINDING_ID")]
        ids: Vec<String>,
        /// Apply without asking
        #[arg(long)]
        yes: bool,
    },
}

fn parse_severity(s: &str) -> std::result::Result<Severity, String> {
    s.parse()
}

/// A token cancelled by Ctrl-C, so a long catalog read stops on the server too.
fn ctrl_c_token() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    cancel
}

/// Runs `audit` or one of its subcommands.
pub async fn run(ctx: &Context, args: &AuditArgs) -> Result<u8> {
    match &args.command {
        None => report(ctx, args).await,
        Some(AuditCommand::Who { tenant, table }) => who(ctx, tenant, table.as_deref()).await,
        Some(AuditCommand::Fix { ids, yes }) => fix(ctx, ids, *yes).await,
    }
}

async fn report(ctx: &Context, args: &AuditArgs) -> Result<u8> {
    // Read the baseline first: a bad file is refused before the database is touched.
    let baseline = match &args.baseline {
        Some(path) => Some(read_baseline(path)?),
        None => None,
    };
    let session = ctx.session().await?;
    let cancel = ctrl_c_token();
    let mut report = audit::run(&session, args.tenant.as_deref(), &cancel).await?;
    if let Some(b) = &baseline {
        report.compare_with(b);
    }
    match ctx.format {
        Format::Json => output::print_json(&report)?,
        Format::Text if ctx.markdown => {
            out!("{}", audit::report::markdown(&report, &database(&session)))
        }
        Format::Text => out!("{}", text(&report)),
    }
    Ok(if report.fails(args.fail_on) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

fn database(session: &crate::session::Session) -> String {
    let s = &session.spec;
    s.target()
}

fn read_baseline(path: &std::path::Path) -> Result<AuditReport> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        what: format!("reading the baseline {}", path.display()),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Invalid(format!(
            "{} is not an audit report (`tenantctl audit --format json` writes one): {e}",
            path.display()
        ))
    })
}

/// The findings as text: one block each, worst first, then the summary.
fn text(report: &AuditReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let place = [f.schema.as_deref(), f.object.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(".");
        out.push_str(&format!(
            "{:<8} {}{}{}\n",
            f.severity.as_str().to_uppercase(),
            f.id,
            if place.is_empty() {
                String::new()
            } else {
                format!("  {}", output::printable(&place))
            },
            if f.new == Some(true) { "  (new)" } else { "" }
        ));
        out.push_str(&format!("         {}\n", output::printable(&f.message)));
        if let Some(path) = &f.path {
            out.push_str(&format!("         path: {}\n", output::printable(path)));
        }
        match &f.fix {
            Some(sql) => {
                for (i, line) in sql.lines().enumerate() {
                    let label = if i == 0 { "fix:  " } else { "      " };
                    out.push_str(&format!("         {label}{}\n", output::printable(line)));
                }
            }
            None => out.push_str("         fix:  a person must decide\n"),
        }
    }
    let s = &report.summary;
    out.push_str(&format!(
        "{} tenant{} checked: {}{}\n",
        s.tenants,
        if s.tenants == 1 { "" } else { "s" },
        s.short(),
        s.new
            .map(|n| format!(" ({n} new since the baseline)"))
            .unwrap_or_default()
    ));
    out
}

async fn who(ctx: &Context, tenant: &str, table: Option<&str>) -> Result<u8> {
    let session = ctx.session().await?;
    let cancel = ctrl_c_token();
    let report = audit::who(&session, tenant, table, &cancel).await?;
    match ctx.format {
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            let mut t = Table::new(&[
                ("ROLE", Align::Left),
                ("PRIVILEGES", Align::Left),
                ("HOW", Align::Left),
            ]);
            for r in &report.roles {
                t.row(vec![
                    output::printable(&r.role),
                    format!(
                        "{}{}",
                        r.privileges.join(","),
                        if r.bypasses_rls { " (past RLS)" } else { "" }
                    ),
                    output::printable(&r.path),
                ]);
            }
            out!("{}", t.render(120));
        }
    }
    Ok(EXIT_OK)
}

async fn fix(ctx: &Context, ids: &[String], yes: bool) -> Result<u8> {
    use std::io::IsTerminal;
    let session = ctx.session().await?;
    session.ensure_writable("audit fix")?;
    let cancel = ctrl_c_token();
    let plan = audit::fix::plan(&session, ids, &cancel).await?;
    eprintln!(
        "The fix of {} finding(s), in one transaction:",
        plan.findings.len()
    );
    for line in plan.sql.lines() {
        eprintln!("  {}", output::printable(line));
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Invalid(
                "audit fix changes the database: confirm with --yes when there is no terminal to ask on; nothing was changed".into(),
            ));
        }
        if !super::confirm("Apply it?")? {
            eprintln!("nothing was changed");
            return Ok(super::EXIT_ERROR);
        }
    }
    let outcome = audit::fix::apply(&session, &plan, &cancel).await?;
    match ctx.format {
        Format::Json => output::print_json(&outcome)?,
        _ => {
            outln!(
                "fixed {} finding(s){}; the audit now says: {}",
                outcome.fixed.len(),
                if outcome.remaining.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} still found ({})",
                        outcome.remaining.len(),
                        outcome.remaining.join(", ")
                    )
                },
                outcome.after.summary.short()
            );
        }
    }
    if outcome.remaining.is_empty() {
        Ok(EXIT_OK)
    } else {
        Err(Error::Invalid(format!(
            "the fix was applied and logged, but {} finding(s) are still there: {}",
            outcome.remaining.len(),
            outcome.remaining.join(", ")
        )))
    }
}
