//! The rules: each reads the snapshot through [`Ctx`] and adds findings.

mod defaults;
mod functions;
mod log;
mod objects;
mod registry;
mod rls;
mod roles;

use super::finding::{Draft, Finding};
use super::members::Memberships;
use super::model::Model;
use super::snapshot::{Policy, Relation, Snapshot};
use crate::names::SqlVars;
use std::collections::{HashMap, HashSet};

/// What every rule reads, indexed once.
pub struct Ctx<'a> {
    pub snap: &'a Snapshot,
    pub model: &'a Model,
    pub members: &'a Memberships,
    pub relations_by_oid: HashMap<i64, &'a Relation>,
    pub policies_by_relation: HashMap<i64, Vec<&'a Policy>>,
    /// Tables carrying tenantctl's binding, unaltered (rules ask several times per table).
    pub bound: HashSet<i64>,
    out: Vec<Finding>,
}

impl<'a> Ctx<'a> {
    /// Indexes the snapshot for the rules.
    pub fn new(snap: &'a Snapshot, model: &'a Model, members: &'a Memberships) -> Ctx<'a> {
        let mut policies_by_relation: HashMap<i64, Vec<&Policy>> = HashMap::new();
        for p in &snap.policies {
            policies_by_relation.entry(p.relation).or_default().push(p);
        }
        let relations_by_oid: HashMap<i64, &Relation> =
            snap.relations.iter().map(|r| (r.oid, r)).collect();
        let bound = snap
            .policies
            .iter()
            .filter(|p| {
                relations_by_oid
                    .get(&p.relation)
                    .is_some_and(|rel| rls::is_binding(model, rel, p))
            })
            .map(|p| p.relation)
            .collect();
        Ctx {
            snap,
            model,
            members,
            relations_by_oid,
            policies_by_relation,
            bound,
            out: Vec::new(),
        }
    }

    /// Records a finding.
    pub fn add(&mut self, draft: Draft) {
        self.out.push(draft.finish());
    }

    /// Placeholders every fix may use: the model's names, quoted.
    pub fn vars(&self) -> SqlVars {
        self.model.names.template_vars()
    }
}

/// Renders a fix template; the templates are ours and tested, so a failure is a bug and
/// shows as a missing fix rather than a wrong one.
pub fn fix(vars: &SqlVars, template: &str) -> Option<String> {
    vars.render(template).ok()
}

/// Runs every rule and returns the findings, worst first, then by schema and object.
pub fn run(snap: &Snapshot, model: &Model, members: &Memberships) -> Vec<Finding> {
    let mut ctx = Ctx::new(snap, model, members);
    registry::check(&mut ctx);
    objects::check(&mut ctx);
    defaults::check(&mut ctx);
    rls::check(&mut ctx);
    functions::check(&mut ctx);
    roles::check(&mut ctx);
    log::check(&mut ctx);
    let mut out = ctx.out;
    out.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| a.schema.cmp(&b.schema))
            .then_with(|| a.object.cmp(&b.object))
            .then_with(|| a.role.cmp(&b.role))
            .then_with(|| a.id.cmp(&b.id))
    });
    out.dedup_by(|a, b| a.id == b.id);
    out
}
