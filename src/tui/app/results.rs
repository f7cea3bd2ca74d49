//! Answers from the read jobs: the registry, measured sizes, the detail panes, the
//! activity log, and migration progress.

use super::list::size_pending;
use super::{App, Detail, Effect, ErrorText, Load, LongJob, Measure};
use crate::audit::Finding;
use crate::catalog::{Drift, GrantMatrix, SchemaSize, TenantRow};
use crate::journal::LogEntry;
use std::collections::HashMap;

impl App {
    /// The registry without sizes: each existing schema's size is pending (neither measured
    /// nor estimated) until the measurement started here lands it. Sizes Citus gave are
    /// kept.
    pub(super) fn on_unsized(&mut self, r: Result<Vec<TenantRow>, ErrorText>) -> Vec<Effect> {
        let r = r.map(|mut rows| {
            for row in rows
                .iter_mut()
                .filter(|r| r.drift != Drift::MissingSchema && !r.size_exact)
            {
                row.size_bytes = None;
            }
            rows
        });
        self.on_tenants(r)
    }

    /// The registry: measures what the pending [`Measure`] asks for, and every size still
    /// pending.
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
                    .list
                    .rows
                    .iter()
                    .filter(|r| r.drift != Drift::MissingSchema)
                    .filter(|r| match measure {
                        Measure::Nothing => size_pending(r),
                        Measure::Missing => !r.size_exact,
                        Measure::All => true,
                    })
                    .map(|r| r.schema.clone())
                    .collect();
                let mut effects = Vec::new();
                if !schemas.is_empty() {
                    let total = schemas.len();
                    effects.extend(self.start_job(LongJob::Sizes(schemas), total));
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

    pub(super) fn on_detail(
        &mut self,
        id: String,
        schema: Result<SchemaSize, ErrorText>,
        grants: Result<GrantMatrix, ErrorText>,
        findings: Result<Vec<Finding>, ErrorText>,
    ) -> Vec<Effect> {
        if let Some(d) = self.detail.as_mut().filter(|d| d.id == id) {
            d.schema = schema.clone().map_or_else(Load::Failed, Load::Ready);
            d.grants = grants.clone().map_or_else(Load::Failed, Load::Ready);
            d.findings = findings.map_or_else(Load::Failed, Load::Ready);
        }
        match (schema, grants) {
            (Err(e), _) | (_, Err(e)) if e.connection => self.fail(e),
            _ => Vec::new(),
        }
    }

    pub(super) fn on_activity(&mut self, r: Result<Vec<LogEntry>, ErrorText>) -> Vec<Effect> {
        match r {
            Ok(entries) => {
                self.activity.entries = Load::Ready(entries);
                Vec::new()
            }
            Err(e) => {
                self.activity.entries = Load::Failed(e.clone());
                if e.connection {
                    self.fail(e)
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Estimates for the rows whose size is still pending (their measurement stopped
    /// short). A row measured meanwhile keeps its measured size: the estimate may land
    /// after it.
    pub(super) fn on_estimates(&mut self, r: Result<Vec<TenantRow>, ErrorText>) -> Vec<Effect> {
        match r {
            Ok(estimated) => {
                let by_schema: HashMap<&str, (i64, i64)> = estimated
                    .iter()
                    .filter_map(|r| Some((r.schema.as_str(), (r.size_bytes?, r.tables))))
                    .collect();
                for row in self.list.rows.iter_mut().filter(|r| size_pending(r)) {
                    if let Some(&(bytes, tables)) = by_schema.get(row.schema.as_str()) {
                        row.size_bytes = Some(bytes);
                        row.tables = tables;
                    }
                }
                self.sizes_changed();
                Vec::new()
            }
            Err(e) => self.fail(e),
        }
    }

    /// Gives `rows` (fresh from the registry, sizes estimated) the exact sizes already
    /// measured for the schemas they share with the rows shown now.
    pub(super) fn carry_exact_sizes(&self, rows: &mut [TenantRow]) {
        let measured: HashMap<&str, i64> = self
            .list
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
                findings: Load::Idle,
            });
            return Vec::new();
        }
        let effect = Effect::LoadDetail {
            id: row.id.clone(),
            schema: row.schema.clone(),
        };
        self.detail = Some(Detail {
            id: row.id.clone(),
            schema: Load::Loading,
            grants: Load::Loading,
            findings: Load::Loading,
        });
        vec![effect]
    }
}
