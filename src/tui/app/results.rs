//! Answers from the read jobs: the registry, measured sizes, the detail panes, the
//! activity log, and migration progress.

use super::{App, Detail, Effect, ErrorText, Load, Progress, SortKey};
use crate::catalog::{Drift, GrantMatrix, SchemaSize, TenantRow};
use crate::journal::LogEntry;
use crate::policy::Deviation;
use crate::tenant::MigrateProgress;

impl App {
    pub(super) fn on_tenants(&mut self, r: Result<Vec<TenantRow>, ErrorText>) -> Vec<Effect> {
        match r {
            Ok(rows) => {
                self.tenants = Load::Ready(());
                let keep = self.selected_row().map(|r| r.id.clone());
                self.set_rows(rows);
                self.select_id(keep.as_deref());
                let schemas: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|r| r.drift != Drift::MissingSchema)
                    .map(|r| r.schema.clone())
                    .collect();
                let mut effects = Vec::new();
                if !schemas.is_empty() {
                    self.sizes = Some(Progress {
                        label: "measuring sizes".into(),
                        done: 0,
                        total: schemas.len(),
                        failures: 0,
                    });
                    effects.push(Effect::ExactSizes(schemas));
                }
                self.detail_due = Some(self.now);
                effects.extend(self.load_detail());
                effects
            }
            Err(e) => {
                self.tenants = Load::Failed(e.clone());
                self.fail(e)
            }
        }
    }

    pub(super) fn on_sizes(
        &mut self,
        sizes: Vec<(String, i64)>,
        done: usize,
        total: usize,
    ) -> Vec<Effect> {
        for (schema, bytes) in sizes {
            let id = self.names.id_from_schema(&schema).map(str::to_string);
            let at = id.as_ref().and_then(|id| self.by_id.get(id)).copied();
            if let Some(row) = at.and_then(|i| self.rows.get_mut(i)) {
                row.size_bytes = Some(bytes);
                row.size_exact = true;
            }
        }
        self.sizes = (done < total).then(|| Progress {
            label: "measuring sizes".into(),
            done,
            total,
            failures: 0,
        });
        self.recount();
        self.sorted[SortKey::Size as usize] = None;
        if self.sort == SortKey::Size {
            self.refresh_view();
        }
        Vec::new()
    }

    pub(super) fn on_detail(
        &mut self,
        id: String,
        schema: Result<SchemaSize, ErrorText>,
        grants: Result<GrantMatrix, ErrorText>,
        deviations: Vec<Deviation>,
    ) -> Vec<Effect> {
        if let Some(d) = self.detail.as_mut().filter(|d| d.id == id) {
            d.schema = schema.clone().map_or_else(Load::Failed, Load::Ready);
            d.grants = grants.clone().map_or_else(Load::Failed, Load::Ready);
            d.deviations = deviations;
        }
        match (schema, grants) {
            (Err(e), _) | (_, Err(e)) if e.connection => self.fail(e),
            _ => Vec::new(),
        }
    }

    pub(super) fn on_activity(&mut self, r: Result<Vec<LogEntry>, ErrorText>) -> Vec<Effect> {
        match r {
            Ok(entries) => {
                self.activity = Load::Ready(entries);
                Vec::new()
            }
            Err(e) => {
                self.activity = Load::Failed(e.clone());
                if e.connection {
                    self.fail(e)
                } else {
                    Vec::new()
                }
            }
        }
    }

    pub(super) fn on_migrate(&mut self, p: MigrateProgress) -> Vec<Effect> {
        if let Some(m) = self.migrate.as_mut() {
            m.done = p.done;
            m.total = p.total;
            m.label = format!("migrating {}", p.tenant);
            if p.error.is_some() {
                m.failures += 1;
            }
        }
        Vec::new()
    }

    pub(super) fn on_migrate_done(&mut self, r: Result<String, ErrorText>) -> Vec<Effect> {
        let failures = self.migrate.take().map_or(0, |m| m.failures);
        match r {
            Ok(summary) => {
                self.flash(format!("migrate: {summary}"), failures > 0);
                self.reload()
            }
            Err(e) => {
                let mut effects = self.fail(e);
                effects.extend(self.reload());
                effects
            }
        }
    }

    pub(super) fn load_detail(&mut self) -> Vec<Effect> {
        let Some(row) = self.selected_row() else {
            self.detail = None;
            return Vec::new();
        };
        if row.drift == Drift::MissingSchema {
            self.detail = Some(Detail {
                id: row.id.clone(),
                schema: Load::Failed(ErrorText::plain(format!(
                    "schema {} does not exist",
                    row.schema
                ))),
                grants: Load::Failed(ErrorText::plain(format!(
                    "schema {} does not exist",
                    row.schema
                ))),
                deviations: Vec::new(),
            });
            return Vec::new();
        }
        let effect = Effect::LoadDetail {
            id: row.id.clone(),
            schema: row.schema.clone(),
            status: row.status,
        };
        self.detail = Some(Detail {
            id: row.id.clone(),
            schema: Load::Loading,
            grants: Load::Loading,
            deviations: Vec::new(),
        });
        vec![effect]
    }
}
