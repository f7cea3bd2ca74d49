//! Dump and restore on Citus: refused, with what would be needed. pg_dump on the coordinator
//! writes a distributed schema's tables as the empty shells the coordinator holds (the rows
//! are in shards on a worker), so such a backup would look complete and restore nothing.
//! pg_dump on the worker sees shard tables (`orders_102008`), not the tenant's tables.

use crate::catalog::TenantRow;
use crate::error::{Error, Result};
use crate::session::Session;

/// Refuses to dump a tenant whose schema is distributed.
pub fn refuse_dump(row: &TenantRow) -> Result<()> {
    let Some(node) = &row.node else {
        return Ok(());
    };
    Err(Error::Invalid(format!(
        "dump {}: the tenant is a distributed Citus schema on {node}; pg_dump on the coordinator would write empty tables (the rows are in shards on that worker), so tenantctl refuses; to dump it, first bring it back to the coordinator with SELECT citus_schema_undistribute('{}') (then `tenant distribute` it again), or back up the cluster as a whole; nothing was written",
        row.id, row.schema
    )))
}

/// Refuses to restore into a Citus coordinator: the in-place swap and the scratch database
/// rename local schemas, which would leave the restored tenant local (not distributed) and
/// the old shards behind.
pub fn refuse_restore(session: &Session, id: &str) -> Result<()> {
    if !session.citus {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "restore {id}: restoring into a Citus coordinator is not supported (the restore swaps local schemas; a distributed tenant's rows are in shards on a worker); restore into a plain PostgreSQL database, or use `tenant create` and copy the rows through the coordinator; nothing was changed"
    )))
}
