//! Answers from the read jobs: the registry, measured sizes, the detail panes, the
//! activity log, and migration progress.

use super::{App, Detail, Effect, ErrorText, Load, Measure, Progress, SortKey};
use crate::catalog::{Drift, GrantMatrix, SchemaSize, TenantRow};
use crate::journal::LogEntry;
use crate::policy::Deviation;
use crate::tenant::MigrateProgress;
use std::collections::HashMap;

impl App {
    pub(super) fn on_tenants(&mut self, r: Result<Vec<TenantRow>, ErrorText>) -> Vec<Effect> {
        match r {
            Ok(mut rows) => {
                self.tenants = Load::Ready(());
                let keep = self.selected_row().map(|r| r.id.clone());
                let measure = std::mem::replace(&mut self.measure, Measure::Nothing);
                if measure != Measure::All {
                    self.carry_exact_sizes(&mut rows);
                }
                self.set_rows(rows);
                self.select_id(keep.as_deref());
                let schemas: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|r| r.drift != Drift::MissingSchema)
                    .filter(|r| match measure {
                        Measure::Nothing => false,
                        Measure::Missing => !r.size_exact,
                        Measure::All => true,
                    })
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
                effects.extend(self.ensure_detail());
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

    /// Gives `rows` (fresh from the registry, sizes estimated) the exact sizes already
    /// measured for the schemas they share with the rows shown now.
    pub(super) fn carry_exact_sizes(&self, rows: &mut [TenantRow]) {
        let measured: HashMap<&str, i64> = self
            .rows
            .iter()
            .filter(|r| r.size_exact && r.drift != Drift::MissingSchema)
            .filter_map(|r| Some((r.schema.as_str(), r.size_bytes?)))
            .collect();
        for r in rows.iter_mut().filter(|r| r.drift != Drift::MissingSchema) {
            if let Some(&bytes) = measured.get(r.schema.as_str()) {
                r.size_bytes = Some(bytes);
                r.size_exact = true;
            }
        }
    }

    /// Loads the selected tenant's detail, unless the panes already show that tenant and
    /// nothing was reloaded since.
    pub(super) fn ensure_detail(&mut self) -> Vec<Effect> {
        let shown = match (&self.detail, self.selected_row()) {
            (Some(d), Some(r)) => d.id == r.id,
            (None, None) => true,
            _ => false,
        };
        if shown && !self.detail_stale {
            self.detail_due = None;
            return Vec::new();
        }
        self.load_detail()
    }

    /// Loads the selected tenant's detail (4 catalog queries), unconditionally.
    pub(super) fn load_detail(&mut self) -> Vec<Effect> {
        self.detail_due = None;
        self.detail_stale = false;
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
