//! The per-tenant "busy" lock of long jobs (restore, drop): a session-level advisory lock
//! taken without waiting, so a second job is refused at once and told who holds it.

use crate::error::{Error, Result};
use crate::names::TenantId;
use crate::session::Session;
use sqlx::PgConnection;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;

/// Key of the busy lock of a tenant (short changes take it shared, long jobs exclusive).
pub(crate) const BUSY_KEY: &str = "hashtextextended('tenantctl:busy:' || $1, 0)";

const HOLDER_SQL: &str = r#"
SELECT a.pid, coalesce(a.usename::text, '?'), coalesce(a.application_name, ''),
       coalesce(host(a.client_addr), CASE WHEN a.backend_start IS NULL THEN '(hidden)' ELSE 'local' END),
       coalesce(to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '(hidden)')
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND a.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = ((hashtextextended('tenantctl:busy:' || $1, 0) >> 32) & 4294967295)
  AND l.objid::bigint = (hashtextextended('tenantctl:busy:' || $1, 0) & 4294967295)
  AND l.objsubid = 1
LIMIT 1"#;

/// Who holds tenant `id`'s busy lock, in words ("pid 123, tenantctl restore acme, user marvin
/// from 10.0.0.5, connected since ...").
pub async fn holder_of(conn: &mut PgConnection, id: &str) -> String {
    let row: Option<(i32, String, String, String, String)> = sqlx::query_as(HOLDER_SQL)
        .bind(id)
        .fetch_optional(conn)
        .await
        .ok()
        .flatten();
    match row {
        Some((pid, user, app, from, since)) => format!(
            "pid {pid} ({}), user {user} from {from}, connected since {since}",
            if app.is_empty() {
                "no application_name"
            } else {
                app.as_str()
            }
        ),
        None => "another session (it finished meanwhile, or its details are hidden)".into(),
    }
}

/// Holds a tenant's busy lock on a connection of its own until dropped (the session ends,
/// so the lock goes with it even if tenantctl dies).
pub struct TenantBusy {
    pub(crate) conn: PoolConnection<Postgres>,
}

impl TenantBusy {
    /// Takes the lock without waiting; refuses with the holder when another job has it.
    pub async fn hold(session: &Session, id: &TenantId, what: &str) -> Result<TenantBusy> {
        let mut conn = session
            .pool
            .acquire()
            .await
            .map_err(Error::db(format!("{what}: connecting")))?;
        conn.close_on_drop();
        sqlx::query("SELECT set_config('application_name', $1, false)")
            .bind(what)
            .execute(&mut *conn)
            .await
            .map_err(Error::db(format!("{what}: naming the session")))?;
        let got: bool = sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({BUSY_KEY})"))
            .bind(id.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db(format!("{what}: taking the tenant lock")))?;
        if !got {
            let who = holder_of(&mut conn, id.as_str()).await;
            return Err(Error::Conflict(format!(
                "{what}: tenant {id} is busy: held by {who}; nothing was changed; retry when it is done"
            )));
        }
        Ok(TenantBusy { conn })
    }

    /// Begins a transaction on the lock's own connection: lock timeout, acting as the admin role.
    pub(crate) async fn begin(
        &mut self,
        session: &Session,
        action: &str,
    ) -> Result<sqlx::Transaction<'_, Postgres>> {
        let mut tx = sqlx::Connection::begin(&mut *self.conn)
            .await
            .map_err(Error::db(format!("{action}: starting a transaction")))?;
        sqlx::query("SELECT set_config('lock_timeout', $1, true)")
            .bind(format!("{}ms", session.lock_timeout.as_millis()))
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!("{action}: setting lock_timeout")))?;
        crate::session::act_as_admin(&mut tx, &session.names)
            .await
            .map_err(Error::db(format!("{action}: switching to the admin role")))?;
        Ok(tx)
    }
}
