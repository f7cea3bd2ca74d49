//! `tenantctl log`.

use super::output::{Align, Table};
use super::{Context, EXIT_OK, Format, output};
use crate::error::Result;
use crate::journal;

/// Arguments of `log`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// Newest N entries
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

/// Runs `log`.
pub async fn run(ctx: &Context, args: &LogArgs) -> Result<u8> {
    let session = ctx.session().await?;
    let entries = journal::recent(&session, args.limit.max(0)).await?;
    match ctx.format {
        Format::Json => output::print_json(&entries)?,
        Format::Text | Format::Markdown => {
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
            print!("{}", t.render(80));
        }
    }
    Ok(EXIT_OK)
}
