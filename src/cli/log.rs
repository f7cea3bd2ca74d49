//! `tenantctl log`.

use super::output::{Align, Table};
use super::{Context, EXIT_OK, Format, output};
use crate::error::{Error, Result};
use crate::journal;

/// Arguments of `log`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// Newest N entries
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Check the log's hash chain and name any edited or missing row (exit 2 if any)
    #[arg(long)]
    pub verify: bool,
}

/// Runs `log`.
pub async fn run(ctx: &Context, args: &LogArgs) -> Result<u8> {
    let session = ctx.session().await?;
    if args.verify {
        return verify(ctx, &session).await;
    }
    let entries = journal::recent(&session, args.limit.max(0)).await?;
    match ctx.format {
        Format::Json => output::print_json(&entries)?,
        Format::Text => {
            let mut t = Table::new(&[
                ("WHEN", Align::Left),
                ("WHO", Align::Left),
                ("ACTION", Align::Left),
                ("TENANT", Align::Left),
                ("OUTCOME", Align::Left),
            ]);
            for e in &entries {
                t.row(vec![
                    e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    format!("{}/{}", e.os_user, e.db_role),
                    e.action.clone(),
                    e.tenant_id.clone().unwrap_or_else(|| "-".into()),
                    e.outcome.clone(),
                ]);
            }
            out!("{}", t.render(80));
        }
    }
    Ok(EXIT_OK)
}

async fn verify(ctx: &Context, session: &crate::session::Session) -> Result<u8> {
    let report = journal::verify(session).await?;
    match ctx.format {
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            for f in &report.findings {
                outln!("{}", f.message);
            }
            if report.intact() {
                outln!(
                    "console log intact: {} row(s), every hash and link checks",
                    report.rows
                );
            }
            if let (Some(seq), Some(hash)) = (&report.head_seq, &report.head_hash) {
                outln!(
                    "head: row {seq} sha256 {hash} (keep it elsewhere to detect a rewrite of the whole chain)"
                );
            }
        }
    }
    if report.intact() {
        return Ok(EXIT_OK);
    }
    Err(Error::Conflict(format!(
        "the console log was tampered with: {} problem(s), first: {}",
        report.findings.len(),
        report
            .findings
            .first()
            .map(|f| f.message.as_str())
            .unwrap_or("")
    )))
}
