//! An open connection pool plus what every operation needs to know: names, read-only, timeouts.

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::names::NamingPolicy;
use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

/// A connection to the target database and the policy it is run under.
#[derive(Debug, Clone)]
pub struct Session {
    pub pool: PgPool,
    pub spec: ConnectionSpec,
    pub names: NamingPolicy,
    pub lock_timeout: Duration,
    /// OS user recorded in the console log.
    pub os_user: String,
    /// The TLS protection of the connections.
    pub tls: crate::tls::TlsState,
    /// The tenant template: the built-in sample unless `template_dir` names a folder.
    pub template: std::sync::Arc<crate::tenant::Template>,
    /// The database has the `citus` extension (checked when the session opened).
    pub citus: bool,
}

impl Session {
    /// Connects with `spec` (a pool of up to `max_connections`).
    pub async fn open(
        spec: ConnectionSpec,
        names: NamingPolicy,
        lock_timeout: Duration,
        max_connections: u32,
    ) -> Result<Session> {
        let (pool, tls, citus) = spec.connect_probed(max_connections).await?;
        Ok(Session {
            citus,
            tls,
            pool,
            spec,
            names,
            lock_timeout,
            os_user: crate::connect::os_user(),
            template: std::sync::Arc::new(crate::tenant::Template::builtin().for_server(citus)),
        })
    }

    /// The same session provisioning and migrating with `template` (its Citus variants in
    /// force on a Citus coordinator).
    pub fn with_template(mut self, template: crate::tenant::Template) -> Session {
        self.template = std::sync::Arc::new(template.for_server(self.citus));
        self
    }

    /// True when nothing may be changed.
    pub fn read_only(&self) -> bool {
        self.spec.read_only
    }

    /// Refuses `action` in a read-only session.
    pub fn ensure_writable(&self, action: &str) -> Result<()> {
        if self.read_only() {
            return Err(Error::ReadOnly {
                action: action.into(),
            });
        }
        Ok(())
    }

    /// Begins a change: refuses when read-only, sets the DDL lock timeout, and acts as the
    /// admin role so that everything created is owned by it.
    pub async fn begin_change(&self, action: &str) -> Result<Transaction<'static, Postgres>> {
        self.ensure_writable(action)?;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::db(format!("{action}: starting a transaction")))?;
        let timeout_ms = format!("{}ms", self.lock_timeout.as_millis());
        sqlx::query("SELECT set_config('lock_timeout', $1, true)")
            .bind(&timeout_ms)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!("{action}: setting lock_timeout")))?;
        act_as_admin(&mut tx, &self.names)
            .await
            .map_err(|e| match crate::error::sqlstate(&e).as_deref() {
                Some("42501") | Some("42704") => Error::Invalid(format!(
                    "{action}: the connected role {:?} cannot act as the admin role {:?}; connect as {:?} or a superuser",
                    self.spec.user, self.names.admin_role, self.names.admin_role
                )),
                _ => Error::db(format!("{action}: switching to the admin role"))(e),
            })?;
        Ok(tx)
    }
}

/// Acts as the admin role for the rest of the transaction, so that everything created is
/// owned by it whoever connected (the admin itself, or a superuser).
pub async fn act_as_admin(
    conn: &mut sqlx::PgConnection,
    names: &NamingPolicy,
) -> Result<(), sqlx::Error> {
    let sql = names
        .template_vars()
        .render("SET LOCAL ROLE {{admin}}")
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    sqlx::query(&sql).execute(conn).await?;
    Ok(())
}

/// A query future borrowing a connection.
pub type ConnFuture<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

impl Session {
    /// Runs `run` on a connection of its own. If `cancel` fires first, the server is asked
    /// to cancel the statement (`pg_cancel_backend`) and the connection is discarded, so a
    /// long catalog query never outlives the operator's patience.
    pub async fn cancellable<T, F>(
        &self,
        cancel: &tokio_util::sync::CancellationToken,
        during: &str,
        run: F,
    ) -> Result<T>
    where
        F: for<'c> FnOnce(&'c mut sqlx::PgConnection) -> ConnFuture<'c, T>,
    {
        let mut conn = self.pool.acquire().await.map_err(Error::db(during))?;
        // The simple protocol: one round trip, where a prepared statement takes two.
        let pid: i32 = sqlx::Executor::fetch_one(&mut *conn, "SELECT pg_catalog.pg_backend_pid()")
            .await
            .and_then(|row| sqlx::Row::try_get(&row, 0))
            .map_err(Error::db(during))?;
        let outcome = tokio::select! {
            r = run(&mut conn) => Some(r),
            _ = cancel.cancelled() => None,
        };
        match outcome {
            Some(r) => r.map_err(Error::db(during)),
            None => {
                conn.close_on_drop();
                drop(conn);
                // Only a cancel the server accepted is reported as one: otherwise the
                // statement may run on to its end, and the operator must know.
                let cancelled: Result<bool, sqlx::Error> =
                    sqlx::query_scalar("SELECT pg_cancel_backend($1)")
                        .bind(pid)
                        .fetch_one(&self.pool)
                        .await;
                match cancelled {
                    Ok(true) => Err(Error::Cancelled(format!("{during}: cancelled"))),
                    Ok(false) => Err(Error::Invalid(format!(
                        "{during}: stopped waiting, but the server did not accept the cancel of backend {pid}; the statement may still be running there (see pg_stat_activity)"
                    ))),
                    Err(e) => Err(Error::db(format!(
                        "{during}: stopped waiting, but cancelling backend {pid} on the server failed, so the statement may still be running there"
                    ))(e)),
                }
            }
        }
    }
}

impl Session {
    /// Runs a template script; on Citus one statement at a time (see `citus::script`).
    pub async fn run_template_script(
        &self,
        conn: &mut sqlx::PgConnection,
        sql: &str,
    ) -> Result<(), sqlx::Error> {
        crate::citus::script::run_script(conn, sql, self.citus).await
    }
}

/// Runs a multi-statement script: a `&str` without arguments goes over the simple query
/// protocol, as `raw_sql` would, but `raw_sql`'s future fails rustc's higher-ranked `Send`
/// check, and the console spawns provisioning and migration on tasks.
pub async fn run_script(conn: &mut sqlx::PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(conn, sql).await?;
    Ok(())
}
