//! The one short transaction that makes the side schema the tenant: in place (a swap that
//! keeps the previous contents) or beside.

use super::*;

impl Job<'_> {
    /// In the swap (or create): the application roles' way into the restored schema, which
    /// [`Self::prepare`] left closed; a schema privilege, so no table lock.
    pub(super) async fn open(&self, conn: &mut sqlx::PgConnection, suspended: bool) -> Result<()> {
        if suspended {
            return Ok(());
        }
        let names = &self.session.names;
        let sql = crate::tenant::template::tenant_vars(names, self.target)
            .render("GRANT USAGE ON SCHEMA {{schema}} TO {{service}}, {{rls}}, {{ro}}")?;
        sqlx::query(&sql)
            .execute(&mut *conn)
            .await
            .map_err(Error::db(format!(
                "restore {}: granting the application roles the restored schema",
                self.target
            )))?;
        Ok(())
    }

    /// In place: one transaction swaps live -> kept and side -> live, closes the kept copy
    /// to everyone but its owner, and re-applies the model's grants.
    pub(super) async fn swap(&self, busy: &mut TenantBusy, kept: &str) -> Result<()> {
        let session = self.session;
        let names = &session.names;
        let id = self.target;
        let schema = names.schema_of(id);
        let now = chrono::Utc::now();
        let mut tx = busy.begin(session, "restore").await?;
        let (status, name, config): (String, String, serde_json::Value) =
            sqlx::query_as(&names.template_vars().render(
                "SELECT status, name, config FROM {{registry}} WHERE id = $1 FOR UPDATE",
            )?)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db(format!("restore {id}: reading the registry row")))?
            .ok_or_else(|| Error::NoSuchTenant(id.to_string()))?;
        let reg = &self.m.registry;
        let (status, name, config) = if self.registry_from_backup {
            (reg.status.clone(), reg.name.clone(), reg.config.clone())
        } else {
            (status, name, config)
        };
        // Writers of the live tables finish first (or the swap gives up after lock_timeout):
        // a transaction writing across the swap would leave half its rows in each copy.
        let tables: Vec<String> = sqlx::query_scalar(LIVE_TABLES)
            .bind(&schema)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db(format!("restore {id}: listing the live tables")))?;
        if !tables.is_empty() {
            sqlx::query(
                &SqlVars::new()
                    .qualified_list("tables", &schema, &tables)
                    .render("LOCK TABLE {{tables}} IN EXCLUSIVE MODE")?,
            )
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!(
                "restore {id}: waiting for writers of {schema} to finish"
            )))?;
        }
        let sql = SqlVars::new()
            .ident("live", &schema)
            .ident("kept", kept)
            .ident("side", self.side)
            .render("ALTER SCHEMA {{live}} RENAME TO {{kept}}; ALTER SCHEMA {{side}} RENAME TO {{live}}")?;
        crate::session::run_script(&mut tx, &sql)
            .await
            .map_err(Error::db(format!(
                "restore {id}: swapping {schema} and {}",
                self.side
            )))?;
        let mut vars = SqlVars::default();
        vars.literal("kept", kept);
        crate::session::run_script(&mut tx, &vars.render(CLOSE_KEPT)?)
            .await
            .map_err(Error::db(format!(
                "restore {id}: revoking every privilege on {kept}"
            )))?;
        let note = serde_json::json!({
            "tenant": id.as_str(),
            "kept_at": now,
            "restored_from": self.archive,
        });
        sqlx::query(
            &SqlVars::new()
                .ident("kept", kept)
                .literal("note", &note.to_string())
                .render("COMMENT ON SCHEMA {{kept}} IS {{note}}")?,
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("restore {id}: labelling {kept}")))?;
        let version = reg.template_version;
        self.open(&mut tx, status == "suspended").await?;
        sqlx::query(&names.template_vars().render(
            "UPDATE {{registry}} SET name = $2, status = $3, config = $4, template_version = $5, pinned_version = $6, updated_at = now() WHERE id = $1",
        )?)
        .bind(id.as_str())
        .bind(&name)
        .bind(&status)
        .bind(&config)
        .bind(version)
        // The pin goes with the data: the restored objects are at the backup's version.
        .bind(reg.pinned_version)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("restore {id}: updating the registry row")))?;
        journal::record(
            &mut tx,
            session,
            &Entry {
                action: "restore",
                tenant: Some(id.as_str()),
                sql_summary: format!(
                    "swap {schema} -> {kept}, {} -> {schema}; revoke all on {kept}; model grants",
                    self.side
                ),
                outcome: "ok".into(),
                detail: Some(serde_json::json!({
                    "backup": self.archive, "sha256": self.m.sha256, "kept": kept,
                    "registry_from_backup": self.registry_from_backup,
                })),
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("restore {id}: committing the swap")))?;
        Ok(())
    }

    /// Beside (or a dropped tenant again): one transaction makes the side schema a tenant
    /// and proves nothing in it still names the old schema or role.
    pub(super) async fn create(
        &self,
        busy: &mut TenantBusy,
        old_ro: &str,
        new_ro: &str,
    ) -> Result<()> {
        let session = self.session;
        let names = &session.names;
        let id = self.target;
        let schema = names.schema_of(id);
        let reg = &self.m.registry;
        let mut tx = busy.begin(session, "restore").await?;
        sqlx::query(
            &SqlVars::new()
                .ident("from", self.side)
                .ident("to", &schema)
                .render(RENAME_SCHEMA)?,
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!(
            "restore {id}: renaming {} to {schema}",
            self.side
        )))?;
        sqlx::query(&names.template_vars().render(
            "INSERT INTO {{registry}} (id, name, schema, status, config, template_version, pinned_version) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )?)
        .bind(id.as_str())
        .bind(&reg.name)
        .bind(&schema)
        .bind(&reg.status)
        .bind(&reg.config)
        .bind(reg.template_version)
        .bind(reg.pinned_version)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("restore {id}: inserting the registry row")))?;
        self.open(&mut tx, reg.status == "suspended").await?;
        sqlx::query(
            &SqlVars::new()
                .ident("role", new_ro)
                .render("COMMENT ON ROLE {{role}} IS NULL")?,
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("restore {id}: adopting role {new_ro}")))?;
        let mut old: Vec<&str> = vec![self.side];
        if self.m.schema != schema {
            old.push(&self.m.schema);
        }
        if old_ro != new_ro {
            old.push(old_ro);
        }
        // Names are validated identifiers ([a-z0-9_]), so they are safe inside the pattern.
        let pattern = format!("(^|[^a-z0-9_$])({})($|[^a-z0-9_$])", old.join("|"));
        let leftovers: Vec<String> = sqlx::query_scalar(OLD_NAMES)
            .bind(&schema)
            .bind(&pattern)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db(format!("restore {id}: checking for old names")))?;
        if !leftovers.is_empty() {
            return Err(Error::Invalid(format!(
                "restore {id}: the copy still names {} in: {}; tenantctl cannot rewrite those safely (edit them in the source tenant, dump again, and retry)",
                old.join(" / "),
                leftovers.join(", ")
            )));
        }
        journal::record(
            &mut tx,
            session,
            &Entry {
                action: if self.mode == RestoreMode::Beside {
                    "restore beside"
                } else {
                    "restore"
                },
                tenant: Some(id.as_str()),
                sql_summary: format!(
                    "RENAME {} -> {schema}; INSERT registry row; role {new_ro}; model grants",
                    self.side
                ),
                outcome: "ok".into(),
                detail: Some(serde_json::json!({
                    "backup": self.archive, "sha256": self.m.sha256, "from_tenant": self.m.tenant,
                })),
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("restore {id}: committing")))?;
        Ok(())
    }
}
