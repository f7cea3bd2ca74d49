//! The side copy: the backup's rows streamed into the side schema, and what is done to
//! it before the swap while nobody else uses it (statistics, the model's grants and policies).

use super::*;

impl Job<'_> {
    /// Streams the backup's data section into the side schema over the restore's own
    /// connection, in one transaction (see [`crate::backup::data_load`]).
    /// With `schema`, the side copy's pre-data and post-data scripts (from
    /// [`Self::script_of`]) run around the rows in the same transaction; without, they were
    /// or will be restored by pg_restore.
    pub(super) async fn load_rows(
        &self,
        busy: &mut TenantBusy,
        schema: Option<(&str, &str)>,
    ) -> Result<()> {
        let side = self.side;
        let env = ChildEnv::new(&self.session.spec, self.database)?;
        let args: Vec<OsString> = vec![
            "--data-only".into(),
            "--file=-".into(),
            self.archive.as_os_str().to_owned(),
        ];
        // Started first: it reads the archive while the tables are made.
        let (child, stdout) = child::StreamingChild::spawn(&self.tools.pg_restore, &args, &env)?;
        let saved = match schema {
            Some(_) => session_settings(&mut busy.conn).await?,
            None => Vec::new(),
        };
        let mut tx = busy.begin(self.session, "restore").await?;
        if let Some((pre, _)) = schema {
            crate::session::run_script(&mut tx, pre)
                .await
                .map_err(Error::db(format!("restore: making the tables of {side}")))?;
            put_back(&mut tx, &saved).await?;
        }
        let rels: Vec<(String, i8)> = sqlx::query_as(
            "SELECT c.relname::text, c.relkind::\"char\" FROM pg_class c
             WHERE c.oid IN (SELECT d.objid FROM pg_depend d
                             WHERE d.refclassid = 'pg_namespace'::regclass
                               AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1)
                               AND d.classid = 'pg_class'::regclass)
               AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
               AND c.relkind IN ('r', 'p', 'S')",
        )
        .bind(side)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db(format!("restore: listing the tables of {side}")))?;
        let mut targets = data_load::Targets {
            tables: HashMap::new(),
            sequences: HashSet::new(),
            rows: self
                .m
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.rows))
                .collect(),
            // Made in this transaction: COPY may write their rows frozen.
            freeze: schema.is_some(),
        };
        for (name, kind) in rels {
            match kind as u8 {
                b'S' => {
                    targets.sequences.insert(name);
                }
                k => {
                    targets.tables.insert(name, k as char);
                }
            }
        }
        // As pg_restore sets them: a long load is not a slow statement, and a policy must
        // never silently filter rows being restored (with row_security off it errors).
        sqlx::query(
            "SELECT set_config('statement_timeout', '0', true), set_config('row_security', 'off', true)",
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::db("restore: preparing to load the rows"))?;
        let total = self.m.tables.len();
        let mut done = 0;
        let mut ended = false;
        let loaded = data_load::load(
            &mut tx,
            tokio::io::BufReader::with_capacity(1 << 20, stdout),
            &self.m.schema,
            side,
            &targets,
            self.cancel,
            &mut ended,
            |table| {
                done += 1;
                report(
                    self.progress,
                    self.target.as_str(),
                    BackupStep::Restore,
                    done.min(total),
                    total,
                    table,
                );
            },
        )
        .await;
        match loaded {
            Ok(()) => child.wait(&env).await?,
            // The stream ended early: pg_restore's own failure says why, when it failed.
            Err(e) if ended => {
                match tokio::time::timeout(std::time::Duration::from_secs(5), child.wait(&env))
                    .await
                {
                    Ok(Err(child_err)) => return Err(child_err),
                    _ => return Err(e),
                }
            }
            // Dropping the child kills it.
            Err(e) => return Err(e),
        }
        if let Some((_, post)) = schema {
            crate::session::run_script(&mut tx, post)
                .await
                .map_err(Error::db(format!(
                    "restore: indexing and constraining {side}"
                )))?;
            put_back(&mut tx, &saved).await?;
        }
        tx.commit()
            .await
            .map_err(Error::db(format!("restore: committing the rows of {side}")))
    }

    /// Before the swap, on the side copy (nobody else uses it): statistics for the restored
    /// tables (pg_restore brings none, and a table without them plans as if empty) and the
    /// model's grants and policies for the tenant, so that the swap itself only takes the
    /// live tables' lock. Policies and RLS take ACCESS EXCLUSIVE locks, and autovacuum,
    /// drawn to freshly loaded tables, gives way to a waiting lock only after
    /// deadlock_timeout: done in the swap, they waited behind it. Its own transaction after
    /// the rows' commit, so the analysis also stands in for autovacuum's. The side schema
    /// stays closed (as for a suspended tenant) until the swap opens it.
    pub(super) async fn prepare(&self, busy: &mut TenantBusy) -> Result<()> {
        let session = self.session;
        let id = self.target;
        let side = self.side;
        self.step(BackupStep::Analyze, 0, 1, "");
        let tables: Vec<String> = sqlx::query_scalar(LIVE_TABLES)
            .bind(side)
            .fetch_all(&mut *busy.conn)
            .await
            .map_err(Error::db(format!(
                "restore {id}: listing the restored tables"
            )))?;
        // The tables are analyzed side by side on the pool's idle connections, up to three
        // (each samples its own table: 0.4 s of the 1 GB restore, done one after the
        // other), or all on this one when none is idle: opening a connection for it would
        // cost a small tenant more than it saves.
        let idle = session.pool.num_idle();
        let width = tables.len().min(idle).min(3);
        if width > 0 {
            let groups: Vec<Vec<&String>> = (0..width)
                .map(|g| tables.iter().skip(g).step_by(width).collect())
                .collect();
            let runs = groups.iter().map(|group| async move {
                let mut conn = session
                    .pool
                    .acquire()
                    .await
                    .map_err(Error::db(format!("restore {id}: connecting to analyze")))?;
                let mut tx = sqlx::Connection::begin(&mut *conn)
                    .await
                    .map_err(Error::db(format!("restore {id}: analyzing {side}")))?;
                crate::session::act_as_admin(&mut tx, &session.names)
                    .await
                    .map_err(Error::db(format!("restore {id}: analyzing {side}")))?;
                analyze(&mut tx, side, group)
                    .await
                    .map_err(Error::db(format!("restore {id}: analyzing {side}")))?;
                tx.commit()
                    .await
                    .map_err(Error::db(format!("restore {id}: analyzing {side}")))
            });
            for r in futures_util::future::join_all(runs).await {
                r?;
            }
        }
        let mut tx = busy.begin(session, "restore").await?;
        if width == 0 && !tables.is_empty() {
            let all: Vec<&String> = tables.iter().collect();
            analyze(&mut tx, side, &all)
                .await
                .map_err(Error::db(format!("restore {id}: analyzing {side}")))?;
        }
        crate::tenant::template::apply_model_at(&mut tx, &session.names, id, side, true, "restore")
            .await?;
        tx.commit().await.map_err(Error::db(format!(
            "restore {id}: committing the analysis and grants of {side}"
        )))?;
        self.step(BackupStep::Analyze, 1, 1, "");
        Ok(())
    }
}

/// ANALYZE of `tables` of `schema`, in one statement.
pub(super) async fn analyze(
    conn: &mut sqlx::PgConnection,
    schema: &str,
    tables: &[&String],
) -> Result<(), sqlx::Error> {
    let sql = SqlVars::new()
        .qualified_list("tables", schema, tables)
        .render("ANALYZE {{tables}}")
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    sqlx::query(&sql).execute(conn).await?;
    Ok(())
}
