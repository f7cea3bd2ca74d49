//! `tenantctl demo`: a throwaway PostgreSQL with sample tenants.

use super::{Context, EXIT_OK};
use crate::error::Result;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of sample tenants
    #[arg(long, default_value_t = 12)]
    pub tenants: usize,
}

/// Runs `demo`.
pub async fn run(_ctx: &Context, _args: &DemoArgs) -> Result<u8> {
    Ok(EXIT_OK)
}
