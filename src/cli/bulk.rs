//! `tenantctl tenant create --from FILE`: bulk provisioning with progress and a report.

use super::{Context, EXIT_OK, Format, output};
use crate::error::{Error, Result};
use crate::tenant::{self, BulkResult};
use std::path::Path;

/// Reads `file`, refuses it whole if any line is malformed, then provisions every tenant
/// over `jobs` connections; existing tenants are skipped. Exit 2 if any tenant failed.
pub async fn run(ctx: &Context, file: &Path, jobs: usize, accept: &[i32]) -> Result<u8> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
        what: format!("reading {}", file.display()),
        source,
    })?;
    let rows = tenant::parse_bulk(&text).map_err(|errors| {
        let shown: Vec<&str> = errors.iter().take(10).map(String::as_str).collect();
        let more = errors.len().saturating_sub(shown.len());
        Error::Invalid(format!(
            "{}: {} malformed line(s), nothing was provisioned: {}{}; fix them and rerun",
            file.display(),
            errors.len(),
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ))
    })?;
    let jobs = jobs.clamp(1, 16);
    // One connection per worker, and one for the reads around them.
    let session = ctx.session_with(jobs as u32 + 1).await?;
    if !accept.is_empty() {
        tenant::check_applied_files(&session, accept).await?;
    }
    let (tx, mut rx) = crate::job::progress_channel::<tenant::BulkOutcome>();
    let cancel = tokio_util::sync::CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("cancelling after the tenants in progress…");
            on_ctrl_c.cancel();
        }
    });
    let printer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let Some(o) = p.landed.first() else { continue };
            match o.result {
                BulkResult::Created => eprintln!("[{}/{}] {} created", p.done, p.total, o.id),
                BulkResult::Exists => {
                    eprintln!("[{}/{}] {} exists, skipped", p.done, p.total, o.id)
                }
                BulkResult::Failed => eprintln!(
                    "[{}/{}] {} (line {}) FAILED: {}",
                    p.done,
                    p.total,
                    o.id,
                    o.line,
                    o.error.as_deref().unwrap_or("")
                ),
            }
        }
    });
    let report = tenant::create_many(&session, rows, jobs, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    watcher.abort();
    let report = report?;
    match ctx.format {
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            for o in report
                .outcomes
                .iter()
                .filter(|o| o.result == BulkResult::Failed)
            {
                outln!(
                    "failed: line {} {}: {}",
                    o.line,
                    o.id,
                    o.error.as_deref().unwrap_or("")
                );
            }
            outln!("{}", report.summary());
        }
    }
    let failed = report.count(BulkResult::Failed);
    if failed > 0 {
        return Err(Error::Invalid(format!(
            "{failed} tenant(s) failed and were left out (each all or nothing); the others were provisioned; fix those lines and rerun the same file"
        )));
    }
    if report.cancelled {
        return Err(Error::Cancelled(
            "cancelled: rerun the same file to provision the rest".into(),
        ));
    }
    Ok(EXIT_OK)
}
