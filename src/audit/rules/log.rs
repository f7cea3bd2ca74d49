//! The console log: append-only triggers in place and enabled, hash chain intact.

use super::{Ctx, fix};
use crate::audit::finding::{Draft, Rule, Severity};

/// The triggers `tenantctl init` (bootstrap v3) puts on the console log.
const TRIGGERS: [&str; 3] = [
    "admin_log_chain",
    "admin_log_no_update_delete",
    "admin_log_no_truncate",
];

/// Adds the console-log findings.
pub fn check(ctx: &mut Ctx<'_>) {
    let commons = ctx.model.names.common_schema.clone();
    let log = ctx.model.names.log_table.clone();
    // A one-tenant audit does not read the common schema: nothing to judge.
    if !ctx.snap.namespaces.iter().any(|n| n.name == commons) {
        return;
    }
    for name in TRIGGERS {
        let state = ctx
            .snap
            .log_triggers
            .iter()
            .find(|(t, _)| t == name)
            .map(|(_, on)| *on);
        let (message, fix_sql) = match state {
            Some(true) => continue,
            Some(false) => (
                format!(
                    "trigger {name} on the console log {commons}.{log} is disabled: rows can be changed or removed, or added outside the hash chain"
                ),
                Some("ALTER TABLE {{commons}}.{{admin_log}} ENABLE TRIGGER {{trigger}};"),
            ),
            None => (
                format!(
                    "trigger {name} is missing from the console log {commons}.{log}: run `tenantctl init` to upgrade the bootstrap, which makes the log append-only and hash-chained"
                ),
                None,
            ),
        };
        let mut vars = ctx.vars();
        vars.ident("trigger", name);
        let mut d = Draft::new(Rule::LogTamper, Severity::High, message);
        d.schema = Some(commons.clone());
        d.object = Some(format!("{log} trigger {name}"));
        d.fix = fix_sql.and_then(|t| fix(&vars, t));
        ctx.add(d);
    }
    let Some(chain) = ctx.snap.log_chain.clone() else {
        return;
    };
    for f in &chain.findings {
        let mut d = Draft::new(
            Rule::LogTamper,
            Severity::High,
            format!(
                "the console log's hash chain is broken: {} (`tenantctl log --verify` lists every break)",
                f.message
            ),
        );
        d.schema = Some(commons.clone());
        d.object = Some(format!("{log} row seq {}", f.seq));
        d.aspect = "chain";
        ctx.add(d);
    }
}
