//! The scratch pass: the archive's schema objects restored in the scratch database,
//! renamed there, and dumped again under the side name; and the SQL of an archive's
//! sections as pg_restore writes it, run over our own connections.

use super::*;

impl Job<'_> {
    /// Restore the backup's schema objects into the scratch database, rename to the side
    /// name, move the read-only role, dump the renamed objects to `out`; the scratch
    /// database is left empty of them. The rows stay out of it (they name no schema) unless
    /// a column's values name objects by schema: then they go through it too, and the
    /// result is true.
    pub(super) async fn through_scratch(
        &self,
        busy: &mut TenantBusy,
        old_ro: &str,
        new_ro: &str,
        out: &Path,
    ) -> Result<bool> {
        let names = &self.session.names;
        let scratch = scratch_name(&mut busy.conn).await?;
        let mut spec = self.session.spec.clone();
        spec.dbname = scratch.clone();
        let source = &self.m.schema;
        let connect = async {
            let mut conn = sqlx::PgConnection::connect_with(&spec.options())
                .await
                .map_err(|e| match spec.classify(e) {
                    crate::connect::ConnectError::DatabaseMissing { .. } => Error::Invalid(format!(
                        "the scratch database {scratch} does not exist; run `tenantctl init` once as a superuser to create it"
                    )),
                    other => Error::Connect(other),
                })?;
            // Two restores of backups of one tenant would both restore its schema name here.
            let free: bool = sqlx::query_scalar(
                "SELECT pg_try_advisory_lock(hashtextextended('tenantctl:scratch:' || $1, 0))",
            )
            .bind(source)
            .fetch_one(&mut conn)
            .await
            .map_err(Error::db("restore: locking the scratch database"))?;
            if !free {
                return Err(Error::Conflict(format!(
                    "another restore of a backup of {} is using the scratch database {scratch}; retry when it is done",
                    self.m.tenant
                )));
            }
            // Leftovers of a restore that died here.
            clean_scratch(&mut conn, names, source, self.side)
                .await
                .map_err(Error::db(format!(
                    "restore: clearing the scratch database {scratch}"
                )))?;
            Ok(conn)
        };
        // The archive's schema objects as SQL, written while the connection is made.
        let (conn, script) = tokio::join!(
            connect,
            self.script_of(self.archive, &["pre-data", "post-data"])
        );
        let mut conn = conn?;
        let result: Result<bool> = async {
            let total = self.m.tables.len();
            self.step(BackupStep::ScratchRestore, 0, total, "");
            let scratch_err = |e| scope(e, "restore: restoring into the scratch database");
            match script.map_err(scratch_err)? {
                // Over the connection already open, as the admin role, all or nothing: what
                // the archive's DDL can do stays in the scratch database, as with pg_restore.
                Some(script) => {
                    let saved = session_settings(&mut conn).await?;
                    let during = "restore: restoring into the scratch database";
                    let mut tx = conn.begin().await.map_err(Error::db(during))?;
                    crate::session::act_as_admin(&mut tx, names)
                        .await
                        .map_err(Error::db(during))?;
                    crate::session::run_script(&mut tx, &script)
                        .await
                        .map_err(Error::db(during))?;
                    put_back(&mut tx, &saved).await?;
                    tx.commit().await.map_err(Error::db(during))?;
                }
                None => {
                    self.pg_restore(
                        &scratch,
                        self.archive,
                        &["pre-data", "post-data"],
                        BackupStep::ScratchRestore,
                        total,
                    )
                    .await
                    .map_err(scratch_err)?;
                }
            }
            // Values of the reg* types name objects by schema and are resolved when loaded:
            // loaded beside, 'tenant_acme.t' would point into the live tenant. Such rows
            // go through the scratch database too, where the rename rewrites them (the
            // whole archive again: rows loaded after the constraints could fail their order).
            let by_name: bool = sqlx::query_scalar(NAMES_IN_ROWS)
                .bind(source)
                .fetch_one(&mut conn)
                .await
                .map_err(Error::db("restore: reading the column types"))?;
            if by_name {
                clean_scratch(&mut conn, names, source, self.side)
                    .await
                    .map_err(Error::db(format!(
                        "restore: clearing the scratch database {scratch}"
                    )))?;
                self.pg_restore(
                    &scratch,
                    self.archive,
                    &[],
                    BackupStep::ScratchRestore,
                    total,
                )
                .await
                .map_err(scratch_err)?;
            }
            self.check_cancel()?;
            self.step(BackupStep::Rename, 0, 1, "");
            let mut vars = SqlVars::default();
            vars.literal("side", self.side)
                .literal("old_ro", old_ro)
                .literal("new_ro", new_ro);
            let mut tx = conn
                .begin()
                .await
                .map_err(Error::db("restore: renaming in scratch"))?;
            crate::session::act_as_admin(&mut tx, names)
                .await
                .map_err(Error::db("restore: renaming in scratch"))?;
            sqlx::query(
                &SqlVars::new()
                    .ident("from", source)
                    .ident("to", self.side)
                    .render(RENAME_SCHEMA)?,
            )
            .execute(&mut *tx)
            .await
            .map_err(Error::db(
                "restore: renaming the schema in the scratch database",
            ))?;
            if old_ro != new_ro {
                crate::session::run_script(&mut tx, &vars.render(TRANSFER_READONLY)?)
                    .await
                    .map_err(Error::db("restore: moving the read-only role's privileges"))?;
            }
            tx.commit()
                .await
                .map_err(Error::db("restore: renaming in scratch"))?;
            self.step(BackupStep::Rename, 1, 1, "");
            self.step(BackupStep::ScratchDump, 0, total, "");
            let env = ChildEnv::new(&self.session.spec, &scratch)?;
            let mut done = 0;
            let mut args: Vec<OsString> = vec![
                "--format=custom".into(),
                format!("--schema={}", quote_ident(self.side)).into(),
                "--verbose".into(),
                "--no-password".into(),
                {
                    let mut f = OsString::from("--file=");
                    f.push(out);
                    f
                },
            ];
            if !by_name {
                args.push("--schema-only".into());
            }
            child::run(
                &self.tools.pg_dump,
                &args,
                &env,
                false,
                self.cancel,
                |line| {
                    if line.contains("dumping contents of table ") {
                        done += 1;
                        report(
                            self.progress,
                            self.target.as_str(),
                            BackupStep::ScratchDump,
                            done.min(total),
                            total,
                            "",
                        );
                    }
                },
            )
            .await
            .map_err(|e| scope(e, "restore: dumping the renamed copy"))?;
            Ok(by_name)
        }
        .await;
        let cleaned = clean_scratch(&mut conn, names, source, self.side).await;
        let _ = conn.close().await;
        let by_name = result?;
        cleaned.map_err(Error::db(format!(
            "restore: clearing the scratch database {scratch}"
        )))?;
        Ok(by_name)
    }

    /// The SQL of `sections` of `archive` as pg_restore writes it for psql (`-f -`, the
    /// child connects nowhere), to run over a connection of ours rather than through a
    /// child that opens its own (a tenth of a second each, most of a small tenant's
    /// restore). `None` when it must go through pg_restore after all: text that is not
    /// UTF-8, or in another client encoding (our connections speak UTF-8).
    pub(super) async fn script_of(
        &self,
        archive: &Path,
        sections: &[&str],
    ) -> Result<Option<String>> {
        let env = ChildEnv::new(&crate::backup::verify::no_connection(), "")?;
        let mut args: Vec<OsString> = sections
            .iter()
            .map(|s| OsString::from(format!("--section={s}")))
            .collect();
        args.extend([
            "--no-owner".into(),
            "--file=-".into(),
            archive.as_os_str().to_owned(),
        ]);
        let out = child::run(
            &self.tools.pg_restore,
            &args,
            &env,
            true,
            self.cancel,
            |_| {},
        )
        .await?;
        Ok(psql_script(&out.stdout, out.utf8))
    }
}

/// The SQL of a `pg_restore -f -` script to run over our own connection: without psql's
/// `\restrict KEY` / `\unrestrict KEY` guard lines (meta-commands for psql, which never
/// sees this text; only lines with the script's own random key), and `None` unless it is
/// UTF-8 text declaring the UTF8 client encoding.
pub(super) fn psql_script(text: &str, utf8: bool) -> Option<String> {
    if !utf8 {
        return None;
    }
    let mut encoding_ok = false;
    for line in text.lines() {
        if let Some(enc) = line
            .strip_prefix("SET client_encoding = '")
            .and_then(|r| r.strip_suffix("';"))
        {
            if enc != "UTF8" {
                return None;
            }
            encoding_ok = true;
        }
    }
    if !encoding_ok {
        return None;
    }
    let key = text.lines().find_map(|l| {
        l.strip_prefix("\\restrict ")
            .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()))
    });
    let Some(key) = key else {
        return Some(text.to_string());
    };
    let (restrict, unrestrict) = (format!("\\restrict {key}"), format!("\\unrestrict {key}"));
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare != restrict && bare != unrestrict {
            out.push_str(line);
        }
    }
    Some(out)
}

/// Drops the tenant's schema and the side schema from the scratch database.
pub(super) async fn clean_scratch(
    conn: &mut sqlx::PgConnection,
    names: &NamingPolicy,
    source: &str,
    side: &str,
) -> Result<(), sqlx::Error> {
    let sql = SqlVars::new()
        .ident("source", source)
        .ident("side", side)
        .render("DROP SCHEMA IF EXISTS {{source}} CASCADE; DROP SCHEMA IF EXISTS {{side}} CASCADE")
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let mut tx = conn.begin().await?;
    crate::session::act_as_admin(&mut tx, names).await?;
    crate::session::run_script(&mut tx, &sql).await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::psql_script;

    #[test]
    fn psqls_guard_lines_are_dropped_and_nothing_else() {
        let text = "--\n-- PostgreSQL database dump\n--\n\n\\restrict Abc123\n\nSET client_encoding = 'UTF8';\nCREATE FUNCTION s.f() RETURNS text LANGUAGE sql AS $$\nSELECT '\\restrict Other'\n$$;\n\n\\unrestrict Abc123\n\n";
        let out = psql_script(text, true).unwrap();
        assert!(!out.contains("\\restrict Abc123"), "{out}");
        assert!(!out.contains("\\unrestrict Abc123"), "{out}");
        // A body that happens to hold such a line with another key is left alone.
        assert!(out.contains("SELECT '\\restrict Other'\n"), "{out}");
        assert_eq!(
            out.len(),
            text.len() - "\\restrict Abc123\n\\unrestrict Abc123\n".len()
        );
        // Without the guard (older pg_restore), the text as it is.
        let plain = "SET client_encoding = 'UTF8';\nCREATE TABLE s.t (i int);\n";
        assert_eq!(psql_script(plain, true).as_deref(), Some(plain));
    }

    #[test]
    fn other_encodings_go_through_pg_restore() {
        assert_eq!(
            psql_script(
                "SET client_encoding = 'LATIN1';\nCREATE TABLE s.t (i int);\n",
                true
            ),
            None
        );
        assert_eq!(psql_script("CREATE TABLE s.t (i int);\n", true), None);
        assert_eq!(
            psql_script(
                "SET client_encoding = 'UTF8';\nCREATE TABLE s.t (i int);\n",
                false
            ),
            None
        );
    }
}
