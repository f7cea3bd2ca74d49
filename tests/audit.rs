//! The permission audit against a real cluster: each planted misconfiguration is found
//! with its id, severity and path, its fix removes it, and the tenant keeps working for
//! the service role.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, run_cli};
use tenantctl::audit::{self, AuditReport, Finding, Rule, Severity};
use tenantctl::session::Session;
use tenantctl::tenant::{self, NewTenant};
use tokio_util::sync::CancellationToken;

fn new(id: &str) -> NewTenant {
    NewTenant {
        id: id.into(),
        name: None,
        config: vec![],
    }
}

async fn audited(s: &Session) -> AuditReport {
    audit::run(s, None, &CancellationToken::new())
        .await
        .unwrap()
}

/// Runs SQL as the cluster's superuser.
async fn exec(s: &Session, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(&s.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Two tenants, `a` and `b`, on a bootstrapped database.
async fn two_tenants() -> (TestDb, Session) {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("a")).await.unwrap();
    tenant::create(&s, &new("b")).await.unwrap();
    (db, s)
}

fn ro(db: &TestDb, id: &str) -> String {
    db.names.readonly_role_pattern.replace("{id}", id)
}

/// The one finding of `rule` on `object` (and `role`, when given).
fn one<'r>(
    report: &'r AuditReport,
    rule: Rule,
    object: Option<&str>,
    role: Option<&str>,
) -> &'r Finding {
    let hits: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| {
            f.rule == rule
                && (object.is_none() || f.object.as_deref() == object)
                && (role.is_none() || f.role.as_deref() == role)
        })
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one {rule} finding on {object:?}/{role:?}, got {hits:#?}\nall: {:#?}",
        report.findings
    );
    hits[0]
}

/// Applies the finding's fix the way `audit fix` does and checks it is gone.
async fn fix(s: &Session, f: &Finding) {
    let cancel = CancellationToken::new();
    let plan = audit::fix::plan(s, std::slice::from_ref(&f.id), &cancel)
        .await
        .unwrap();
    let outcome = audit::fix::apply(s, &plan, &cancel).await.unwrap();
    assert_eq!(outcome.fixed, vec![f.id.clone()], "{outcome:#?}");
    assert!(
        !outcome.after.findings.iter().any(|g| g.id == f.id),
        "still found after its fix"
    );
}

/// The service role reads and writes tenant `id`, routed by search_path as the seed says.
async fn service_works(s: &Session, id: &str) {
    let mut tx = s.pool.begin().await.unwrap();
    let sql = format!(
        "SET LOCAL ROLE {}; SET LOCAL search_path TO tenant_{id}, commons, public;
         INSERT INTO customers (name) VALUES ('c');
         INSERT INTO orders (customer_id, total_cents) SELECT max(id), 5 FROM customers;
         SELECT count(*) FROM orders;",
        s.names.service_role
    );
    sqlx::raw_sql(&sql)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("the service role cannot work on tenant {id}: {e}"));
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn ids_are_stable_across_runs_and_databases() {
    let (_d1, s1) = two_tenants().await;
    exec(&s1, "GRANT TRUNCATE ON tenant_a.orders TO PUBLIC").await;
    let first = one(
        &audited(&s1).await,
        Rule::TablePrivilege,
        Some("orders"),
        Some("PUBLIC"),
    )
    .clone();
    let again = one(
        &audited(&s1).await,
        Rule::TablePrivilege,
        Some("orders"),
        Some("PUBLIC"),
    )
    .clone();
    assert_eq!(first.id, again.id);
    // Another database with the same problem on the same object: the same id, though
    // every oid differs.
    let (_d2, s2) = two_tenants().await;
    exec(&s2, "GRANT TRUNCATE ON tenant_a.orders TO PUBLIC").await;
    let other = one(
        &audited(&s2).await,
        Rule::TablePrivilege,
        Some("orders"),
        Some("PUBLIC"),
    )
    .clone();
    assert_eq!(first.id, other.id);
    // A different object: a different id.
    exec(&s2, "GRANT TRUNCATE ON tenant_a.customers TO PUBLIC").await;
    let customers = one(
        &audited(&s2).await,
        Rule::TablePrivilege,
        Some("customers"),
        Some("PUBLIC"),
    )
    .clone();
    assert_ne!(first.id, customers.id);
}

#[tokio::test]
async fn audit_flags_cross_tenant_read_by_a_readonly_role() {
    let (db, s) = two_tenants().await;
    let ro_a = ro(&db, "a");
    exec(&s, &format!("GRANT SELECT ON tenant_b.orders TO {ro_a}")).await;
    let r = audited(&s).await;
    let f = one(&r, Rule::TablePrivilege, Some("orders"), Some(&ro_a));
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.schema.as_deref(), Some("tenant_b"));
    assert_eq!(f.tenant.as_deref(), Some("b"));
    assert!(f.message.contains("cross-tenant"), "{}", f.message);
    assert_eq!(
        f.path.as_deref(),
        Some(format!("{ro_a} → SELECT on tenant_b.orders").as_str())
    );
    // One tenant's audit reads only its schema: the finding is b's, not a's.
    let cancel = CancellationToken::new();
    let of_b = audit::run(&s, Some("b"), &cancel).await.unwrap();
    assert_eq!(of_b.findings, vec![f.clone()]);
    let of_a = audit::run(&s, Some("a"), &cancel).await.unwrap();
    assert!(of_a.findings.is_empty(), "{:#?}", of_a.findings);
    fix(&s, f).await;
    service_works(&s, "b").await;
}

#[tokio::test]
async fn audit_flags_extra_and_missing_service_privileges() {
    let (db, s) = two_tenants().await;
    let svc = db.names.service_role.clone();
    exec(
        &s,
        &format!(
            "GRANT TRUNCATE, TRIGGER ON tenant_a.orders TO {svc};
             REVOKE INSERT ON tenant_a.customers FROM {svc};"
        ),
    )
    .await;
    let r = audited(&s).await;
    let extra = one(&r, Rule::TablePrivilege, Some("orders"), Some(&svc));
    // TRIGGER runs code as whoever writes the table: high, not hygiene.
    assert_eq!(extra.severity, Severity::High);
    assert!(
        extra.message.contains("TRUNCATE, TRIGGER"),
        "{}",
        extra.message
    );
    let missing = one(&r, Rule::TablePrivilege, Some("customers"), Some(&svc));
    assert_eq!(missing.severity, Severity::High);
    assert!(
        missing.message.contains("lacks INSERT"),
        "{}",
        missing.message
    );
    let (extra, missing) = (extra.clone(), missing.clone());
    fix(&s, &extra).await;
    fix(&s, &missing).await;
    service_works(&s, "a").await;
}

#[tokio::test]
async fn audit_flags_grant_option_and_column_grants() {
    let (db, s) = two_tenants().await;
    let svc = db.names.service_role.clone();
    let ro_b = ro(&db, "b");
    exec(
        &s,
        &format!(
            "GRANT SELECT ON tenant_a.orders TO {svc} WITH GRANT OPTION;
             GRANT SELECT (notes) ON tenant_a.customers TO {ro_b};"
        ),
    )
    .await;
    let r = audited(&s).await;
    let opt = one(&r, Rule::GrantOption, Some("orders"), Some(&svc)).clone();
    assert_eq!(opt.severity, Severity::High);
    let col = one(
        &r,
        Rule::ColumnPrivilege,
        Some("customers.notes"),
        Some(&ro_b),
    )
    .clone();
    assert_eq!(col.severity, Severity::High);
    assert_eq!(
        col.path.as_deref(),
        Some(format!("{ro_b} → SELECT on column tenant_a.customers.notes").as_str())
    );
    fix(&s, &opt).await;
    fix(&s, &col).await;
    service_works(&s, "a").await;
}

#[tokio::test]
async fn audit_flags_schema_create_and_missing_usage() {
    let (db, s) = two_tenants().await;
    let svc = db.names.service_role.clone();
    exec(
        &s,
        &format!(
            "GRANT CREATE ON SCHEMA tenant_a TO {svc}; REVOKE USAGE ON SCHEMA tenant_b FROM {svc};"
        ),
    )
    .await;
    let r = audited(&s).await;
    let create = r
        .findings
        .iter()
        .find(|f| f.rule == Rule::SchemaPrivilege && f.schema.as_deref() == Some("tenant_a"))
        .unwrap()
        .clone();
    assert_eq!(create.severity, Severity::Critical);
    let usage = r
        .findings
        .iter()
        .find(|f| f.rule == Rule::SchemaPrivilege && f.schema.as_deref() == Some("tenant_b"))
        .unwrap()
        .clone();
    assert_eq!(usage.severity, Severity::High);
    assert!(usage.message.contains("lacks USAGE"), "{}", usage.message);
    fix(&s, &create).await;
    fix(&s, &usage).await;
    service_works(&s, "b").await;
}

#[tokio::test]
async fn audit_flags_an_application_role_owning_a_table() {
    let (db, s) = two_tenants().await;
    let svc = db.names.service_role.clone();
    exec(&s, &format!("ALTER TABLE tenant_a.orders OWNER TO {svc}")).await;
    let r = audited(&s).await;
    let f = one(&r, Rule::Owner, Some("orders"), Some(&svc)).clone();
    assert_eq!(f.severity, Severity::Critical);
    fix(&s, &f).await;
    service_works(&s, "a").await;
}

#[tokio::test]
async fn audit_flags_a_missing_sequence_grant() {
    let (db, s) = two_tenants().await;
    let svc = db.names.service_role.clone();
    exec(
        &s,
        &format!("REVOKE USAGE ON SEQUENCE tenant_a.orders_id_seq FROM {svc}"),
    )
    .await;
    let r = audited(&s).await;
    let f = one(
        &r,
        Rule::SequencePrivilege,
        Some("orders_id_seq"),
        Some(&svc),
    )
    .clone();
    assert_eq!(f.severity, Severity::High);
    fix(&s, &f).await;
    service_works(&s, "a").await;
}

#[tokio::test]
async fn audit_flags_default_privileges_missing_extra_and_foreign() {
    let (db, s) = two_tenants().await;
    let (admin, svc) = (db.names.admin_role.clone(), db.names.service_role.clone());
    exec(
        &s,
        &format!(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {admin} IN SCHEMA tenant_a REVOKE INSERT ON TABLES FROM {svc};
             ALTER DEFAULT PRIVILEGES FOR ROLE {admin} IN SCHEMA tenant_b GRANT TRUNCATE ON TABLES TO {svc};
             ALTER DEFAULT PRIVILEGES FOR ROLE {svc} IN SCHEMA tenant_a GRANT SELECT ON TABLES TO PUBLIC;"
        ),
    )
    .await;
    let r = audited(&s).await;
    let missing = r
        .findings
        .iter()
        .find(|f| {
            f.rule == Rule::DefaultPrivilege
                && f.schema.as_deref() == Some("tenant_a")
                && f.role.as_deref() == Some(svc.as_str())
        })
        .unwrap()
        .clone();
    assert_eq!(missing.severity, Severity::High);
    let extra = r
        .findings
        .iter()
        .find(|f| {
            f.rule == Rule::DefaultPrivilege
                && f.schema.as_deref() == Some("tenant_b")
                && f.role.as_deref() == Some(svc.as_str())
        })
        .unwrap()
        .clone();
    assert_eq!(extra.severity, Severity::Medium);
    let foreign = one(&r, Rule::DefaultPrivilegeForeignRole, None, Some(&svc));
    assert!(foreign.fix.is_none());
    fix(&s, &missing).await;
    fix(&s, &extra).await;
    // The fix really restores what a migration's new table gets.
    exec(
        &s,
        &format!("SET ROLE {admin}; CREATE TABLE tenant_a.later (id int); RESET ROLE;"),
    )
    .await;
    let granted: bool =
        sqlx::query_scalar("SELECT has_table_privilege($1, 'tenant_a.later', 'INSERT')")
            .bind(&svc)
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(granted);
}

#[tokio::test]
async fn audit_flags_public_create_on_public() {
    let (_db, s) = two_tenants().await;
    exec(&s, "GRANT CREATE ON SCHEMA public TO PUBLIC").await;
    let r = audited(&s).await;
    let f = one(&r, Rule::PublicSchemaCreate, None, Some("PUBLIC")).clone();
    assert_eq!(f.severity, Severity::High);
    fix(&s, &f).await;
}

#[tokio::test]
async fn audit_flags_rls_off_and_its_fix_restores_isolation() {
    let (db, s) = two_tenants().await;
    let rls = db.names.rls_role.clone();
    exec(&s, &format!("GRANT SELECT ON tenant_a.orders TO {rls}")).await;
    exec(&s, "ALTER TABLE tenant_a.orders DISABLE ROW LEVEL SECURITY").await;
    let r = audited(&s).await;
    let f = one(&r, Rule::RlsDisabled, Some("orders"), Some(&rls)).clone();
    assert_eq!(f.severity, Severity::Critical);
    fix(&s, &f).await;
    service_works(&s, "a").await;
    // After the fix, an RLS session routed to b reads nothing of a's orders.
    exec(&s, "INSERT INTO tenant_a.customers (name) VALUES ('x'); INSERT INTO tenant_a.orders (customer_id, total_cents, placed_by) SELECT max(id), 1, NULL FROM tenant_a.customers;").await;
    let mut tx = s.pool.begin().await.unwrap();
    sqlx::raw_sql(&format!(
        "SET LOCAL ROLE {rls}; SET LOCAL search_path TO tenant_b, commons, public; SET LOCAL app.user_id = '1';"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_a.orders")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, 0);
}

#[tokio::test]
async fn audit_flags_a_dropped_tenant_binding() {
    let (db, s) = two_tenants().await;
    let rls = db.names.rls_role.clone();
    // Take the binding away as someone with the admin's rights might.
    exec(
        &s,
        "DROP POLICY IF EXISTS tenantctl_tenant_bound ON tenant_a.orders",
    )
    .await;
    exec(&s, &format!("GRANT SELECT ON tenant_a.orders TO {rls}")).await;
    let r = audited(&s).await;
    let f = r
        .findings
        .iter()
        .find(|f| {
            f.rule == Rule::TenantBindingMissing
                && f.schema.as_deref() == Some("tenant_a")
                && f.object.as_deref() == Some("orders")
        })
        .unwrap()
        .clone();
    assert_eq!(f.severity, Severity::Critical);
    fix(&s, &f).await;
}

/// The audit deparses one binding per distinct stored expression, not one per table; an
/// edited binding must still be judged on its own text. Each edit here keeps the policy's
/// name, kind and role, so only its expression gives it away.
#[tokio::test]
async fn audit_flags_a_binding_edited_in_place() {
    let (_db, s) = two_tenants().await;
    exec(
        &s,
        // Bound to the other tenant: the very expression tenant_b's own bindings store.
        "ALTER POLICY tenantctl_tenant_bound ON tenant_a.orders
             USING (pg_catalog.current_schema() OPERATOR(pg_catalog.=) 'tenant_b'::pg_catalog.name);
         -- Widened by a column test (an expression that reads a column is never deparsed).
         ALTER POLICY tenantctl_tenant_bound ON tenant_a.customers
             USING (pg_catalog.current_schema() OPERATOR(pg_catalog.=) 'tenant_a'::pg_catalog.name
                    OR id IS NOT NULL);
         ALTER POLICY tenantctl_tenant_bound ON tenant_a.invoices USING (true);",
    )
    .await;
    let r = audited(&s).await;
    let mut edited: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.rule == Rule::TenantBindingMissing)
        .map(|f| {
            assert_eq!(f.schema.as_deref(), Some("tenant_a"), "{f:#?}");
            f.object.as_deref().unwrap_or_default()
        })
        .collect();
    edited.sort_unstable();
    assert_eq!(
        edited,
        ["customers", "invoices", "orders"],
        "{:#?}",
        r.findings
    );
    for f in r
        .findings
        .iter()
        .filter(|f| f.rule == Rule::TenantBindingMissing)
        .cloned()
        .collect::<Vec<_>>()
    {
        fix(&s, &f).await;
    }
}

#[tokio::test]
async fn audit_flags_an_always_true_policy_and_a_definer_view() {
    let (db, s) = two_tenants().await;
    let rls = db.names.rls_role.clone();
    let admin = db.names.admin_role.clone();
    exec(
        &s,
        &format!(
            "CREATE POLICY open_all ON tenant_a.orders FOR SELECT TO {rls} USING (true);
             SET ROLE {admin};
             CREATE VIEW tenant_a.all_orders AS SELECT * FROM tenant_a.orders;
             RESET ROLE;
             GRANT SELECT ON tenant_a.all_orders TO {rls};"
        ),
    )
    .await;
    let r = audited(&s).await;
    let open = r
        .findings
        .iter()
        .find(|f| f.rule == Rule::PolicyAlwaysTrue && f.object.as_deref() == Some("orders"))
        .unwrap()
        .clone();
    assert!(open.severity <= Severity::High);
    let view = one(&r, Rule::ViewBypassesRls, Some("all_orders"), Some(&rls)).clone();
    assert_eq!(view.severity, Severity::Critical);
    fix(&s, &open).await;
    fix(&s, &view).await;
}

#[tokio::test]
async fn audit_flags_definer_functions_and_public_execute() {
    let (db, s) = two_tenants().await;
    let admin = db.names.admin_role.clone();
    exec(
        &s,
        &format!(
            "SET ROLE {admin};
             CREATE FUNCTION tenant_a.peek() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM tenant_a.orders';
             CREATE FUNCTION tenant_a.harmless(x int) RETURNS int LANGUAGE sql AS 'SELECT x';
             RESET ROLE;
             GRANT EXECUTE ON FUNCTION tenant_a.peek() TO PUBLIC;
             GRANT EXECUTE ON FUNCTION tenant_a.harmless(int) TO PUBLIC;"
        ),
    )
    .await;
    let r = audited(&s).await;
    let path = one(&r, Rule::SecurityDefinerSearchPath, Some("peek()"), None);
    assert_eq!(path.severity, Severity::High);
    assert!(path.fix.is_none(), "a person must decide how to pin it");
    let definer = one(&r, Rule::FunctionExecute, Some("peek()"), Some("PUBLIC")).clone();
    assert_eq!(definer.severity, Severity::Critical);
    let invoker = one(
        &r,
        Rule::FunctionExecute,
        Some("harmless(x integer)"),
        Some("PUBLIC"),
    )
    .clone();
    assert_eq!(invoker.severity, Severity::Medium);
    fix(&s, &definer).await;
    fix(&s, &invoker).await;
}

#[tokio::test]
async fn audit_flags_dangerous_attributes_of_application_roles() {
    let (db, s) = two_tenants().await;
    let rls = db.names.rls_role.clone();
    exec(&s, &format!("ALTER ROLE {rls} BYPASSRLS LOGIN")).await;
    let r = audited(&s).await;
    let bypass = r
        .findings
        .iter()
        .find(|f| f.rule == Rule::RoleAttribute && f.severity == Severity::Critical)
        .unwrap()
        .clone();
    assert!(bypass.message.contains("BYPASSRLS"), "{}", bypass.message);
    let login = r
        .findings
        .iter()
        .find(|f| f.rule == Rule::RoleAttribute && f.message.contains("can log in"))
        .unwrap()
        .clone();
    fix(&s, &bypass).await;
    fix(&s, &login).await;
}

#[tokio::test]
async fn audit_follows_membership_chains() {
    let (db, s) = two_tenants().await;
    let (ro_a, ro_b) = (ro(&db, "a"), ro(&db, "b"));
    let admin = db.names.admin_role.clone();
    let svc = db.names.service_role.clone();
    let hop = format!("{}_hop", db.dbname);
    exec(
        &s,
        &format!(
            "CREATE ROLE {hop} NOLOGIN;
             GRANT {ro_b} TO {hop};
             GRANT {hop} TO {ro_a};
             GRANT {admin} TO {svc};"
        ),
    )
    .await;
    let r = audited(&s).await;
    let chain = one(&r, Rule::Membership, Some(&ro_b), Some(&ro_a)).clone();
    assert_eq!(chain.severity, Severity::High);
    assert_eq!(
        chain.path.as_deref(),
        Some(format!("{ro_a} → member of {hop} → member of {ro_b}").as_str())
    );
    let to_admin = one(&r, Rule::Membership, Some(&admin), Some(&svc)).clone();
    assert_eq!(to_admin.severity, Severity::Critical);
    fix(&s, &chain).await;
    fix(&s, &to_admin).await;
    service_works(&s, "a").await;
}

#[tokio::test]
async fn audit_flags_reach_through_a_role_outside_the_model() {
    let (db, s) = two_tenants().await;
    let ro_a = ro(&db, "a");
    let analyst = format!("{}_analyst", db.dbname);
    exec(
        &s,
        &format!(
            "CREATE ROLE {analyst} NOLOGIN;
             GRANT USAGE ON SCHEMA tenant_b TO {analyst};
             GRANT SELECT ON tenant_b.orders TO {analyst};
             GRANT {analyst} TO {ro_a};"
        ),
    )
    .await;
    let r = audited(&s).await;
    // The analyst's own grant is a finding, and so is the read-only role's reach through it.
    one(&r, Rule::TablePrivilege, Some("orders"), Some(&analyst));
    let reach = one(&r, Rule::CrossTenantReach, None, Some(&ro_a)).clone();
    assert_eq!(reach.severity, Severity::High);
    assert_eq!(reach.tenant.as_deref(), Some("b"));
    assert_eq!(
        reach.path.as_deref(),
        Some(format!("{ro_a} → member of {analyst} → SELECT on tenant_b.orders").as_str())
    );
    fix(&s, &reach).await;
}

#[tokio::test]
async fn audit_flags_registry_drift_both_ways() {
    let (_db, s) = two_tenants().await;
    exec(
        &s,
        "DROP SCHEMA tenant_b CASCADE; CREATE SCHEMA tenant_stray;",
    )
    .await;
    let r = audited(&s).await;
    let missing = r
        .findings
        .iter()
        .find(|f| f.rule == Rule::RegistrySchemaMissing)
        .unwrap();
    assert_eq!(missing.tenant.as_deref(), Some("b"));
    assert_eq!(missing.severity, Severity::High);
    let stray = r
        .findings
        .iter()
        .find(|f| f.rule == Rule::UnregisteredSchema)
        .unwrap();
    assert_eq!(stray.schema.as_deref(), Some("tenant_stray"));
    // Neither has an automatic fix: `audit fix` refuses before changing anything.
    let err = audit::fix::plan(
        &s,
        std::slice::from_ref(&missing.id),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no automatic fix"), "{err}");
}

#[tokio::test]
async fn who_lists_the_roles_that_reach_a_tenant_and_how() {
    let (db, s) = two_tenants().await;
    let (ro_a, ro_b) = (ro(&db, "a"), ro(&db, "b"));
    let who = audit::who(&s, "a", Some("orders"), &CancellationToken::new())
        .await
        .unwrap();
    let roles: Vec<&str> = who.roles.iter().map(|r| r.role.as_str()).collect();
    assert!(roles.contains(&db.names.service_role.as_str()), "{roles:?}");
    assert!(roles.contains(&ro_a.as_str()), "{roles:?}");
    assert!(roles.contains(&db.names.admin_role.as_str()), "{roles:?}");
    assert!(!roles.contains(&ro_b.as_str()), "{roles:?}");
    // A reporting login that is a member of b's read-only role, granted a's table too.
    let reporter = format!("{}_reporter", db.dbname);
    exec(
        &s,
        &format!("CREATE ROLE {reporter} LOGIN; GRANT {ro_b} TO {reporter}; GRANT USAGE ON SCHEMA tenant_a TO {ro_b}; GRANT SELECT ON tenant_a.orders TO {ro_b};"),
    )
    .await;
    let who = audit::who(&s, "a", Some("orders"), &CancellationToken::new())
        .await
        .unwrap();
    let rep = who.roles.iter().find(|r| r.role == reporter).unwrap();
    assert_eq!(rep.privileges, vec!["SELECT"]);
    assert_eq!(
        rep.path,
        format!("{reporter} → member of {ro_b} → SELECT on tenant_a.orders")
    );
}

#[tokio::test]
async fn cli_audit_exit_codes_formats_and_baseline() {
    let (db, s) = two_tenants().await;
    exec(&s, "GRANT SELECT ON tenant_a.orders TO PUBLIC").await;
    let out = run_cli(&db, &["audit", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "table_privilege" && f["role"] == "PUBLIC")
        .unwrap();
    for key in [
        "id", "severity", "schema", "object", "message", "path", "fix",
    ] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
    // Accepted as the baseline, nothing is new: exit 0 at the default threshold.
    let baseline = db.dir.path().join("baseline.json");
    std::fs::write(&baseline, &out.stdout).unwrap();
    let out = run_cli(&db, &["audit", "--baseline", baseline.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A new problem after the baseline is new, and fails.
    exec(&s, "GRANT SELECT ON tenant_b.orders TO PUBLIC").await;
    let out = run_cli(
        &db,
        &[
            "audit",
            "--format",
            "json",
            "--baseline",
            baseline.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["new"] == true)
        .collect();
    assert_eq!(new.len(), 1, "{new:#?}");
    assert_eq!(new[0]["schema"], "tenant_b");
    // Markdown groups by severity.
    let out = run_cli(
        &db,
        &["audit", "--format", "markdown", "--fail-on", "critical"],
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## high"), "{md}");
    // A fix without a terminal and without --yes changes nothing.
    let id = f["id"].as_str().unwrap();
    let out = run_cli(&db, &["audit", "fix", id]);
    assert_eq!(out.status.code(), Some(2));
    let still: bool =
        sqlx::query_scalar("SELECT has_table_privilege('public', 'tenant_a.orders', 'SELECT')")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(still);
    let out = run_cli(&db, &["audit", "fix", id, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = run_cli(&db, &["log", "--format", "json"]);
    assert!(String::from_utf8_lossy(&log.stdout).contains("audit fix"));
}

#[tokio::test]
async fn a_freshly_provisioned_database_has_no_finding() {
    let (db, s) = two_tenants().await;
    let r = audited(&s).await;
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    // Suspended and resumed, migrated, and with a security-invoker view the RLS role may
    // read: still nothing.
    tenant::suspend(&s, "b").await.unwrap();
    let r = audited(&s).await;
    assert!(r.findings.is_empty(), "after suspend: {:#?}", r.findings);
    tenant::resume(&s, "b").await.unwrap();
    let admin = db.names.admin_role.clone();
    let rls = db.names.rls_role.clone();
    let major = common::server_major().await;
    if major >= 15 {
        exec(
            &s,
            &format!(
                "SET ROLE {admin};
                 CREATE VIEW tenant_a.open_orders WITH (security_invoker = true) AS SELECT * FROM tenant_a.orders WHERE status = 'open';
                 RESET ROLE;
                 GRANT SELECT ON tenant_a.open_orders TO {rls};"
            ),
        )
        .await;
    } else {
        common::skip(
            "a_freshly_provisioned_database_has_no_finding (security-invoker view part)",
            &format!("security_invoker views exist from PostgreSQL 15 on; this server is {major}"),
        );
    }
    // Tenant a as a release before the hardening left it: no binding, the RLS role granted
    // in bulk, template version 2. The audit sees it; migrate brings it to the model.
    exec(
        &s,
        &format!(
            "DO $$ DECLARE t text; BEGIN
               FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'tenant_a' LOOP
                 EXECUTE format('DROP POLICY tenantctl_tenant_bound ON tenant_a.%I', t);
               END LOOP; END $$;
             GRANT SELECT ON ALL TABLES IN SCHEMA tenant_a TO {rls};
             UPDATE commons.tenants SET template_version = 2 WHERE id = 'a';"
        ),
    )
    .await;
    let before = audited(&s).await;
    assert!(
        before
            .findings
            .iter()
            .any(|f| f.rule == Rule::TenantBindingMissing && f.severity == Severity::Critical),
        "{:#?}",
        before.findings
    );
    let (ptx, _prx) = tokio::sync::mpsc::unbounded_channel();
    tenant::migrate(&s, Some(vec!["a".into()]), &ptx, &Default::default())
        .await
        .unwrap();
    let r = audited(&s).await;
    assert!(r.findings.is_empty(), "after migrate: {:#?}", r.findings);
}

#[tokio::test]
async fn audit_flags_a_disabled_log_trigger_and_an_edited_log_row() {
    let (_db, s) = two_tenants().await;
    exec(
        &s,
        "ALTER TABLE commons.admin_log DISABLE TRIGGER admin_log_no_update_delete;
         UPDATE commons.admin_log SET outcome = 'ok (edited)' WHERE seq = 1;",
    )
    .await;
    let r = audited(&s).await;
    let trigger = r
        .findings
        .iter()
        .find(|f| {
            f.rule == Rule::LogTamper
                && f.object
                    .as_deref()
                    .is_some_and(|o| o.contains("admin_log_no_update_delete"))
        })
        .unwrap()
        .clone();
    assert_eq!(trigger.severity, Severity::High);
    let chain = r
        .findings
        .iter()
        .find(|f| f.rule == Rule::LogTamper && f.object.as_deref() == Some("admin_log row seq 1"))
        .unwrap();
    assert!(chain.fix.is_none(), "an edited log cannot be fixed by SQL");
    fix(&s, &trigger).await;
    let err = sqlx::query("DELETE FROM commons.admin_log")
        .execute(&s.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

/// A one-tenant audit reads only the roles its tenant's objects name (`tenant show`'s
/// speed at 10,000 tenants); each role below is named in one way only, so a way the
/// scoped read forgets shows as a finding that differs from the whole audit's (a
/// "(dropped role …)" in place of its name) or goes missing.
#[tokio::test]
async fn one_tenant_audit_finds_what_the_whole_audit_finds_for_it() {
    let (db, s) = two_tenants().await;
    let (ro_a, ro_b) = (ro(&db, "a"), ro(&db, "b"));
    let r = |n: &str| format!("{}_{n}", db.dbname);
    let (owner, defowner, defgrantee, pol, col, fnowner, login) = (
        r("owner"),
        r("defowner"),
        r("defgrantee"),
        r("pol"),
        r("col"),
        r("fnowner"),
        r("login"),
    );
    exec(
        &s,
        &format!(
            "CREATE ROLE {owner}; CREATE ROLE {defowner}; CREATE ROLE {defgrantee};
             CREATE ROLE {pol}; CREATE ROLE {col}; CREATE ROLE {fnowner}; CREATE ROLE {login} LOGIN;
             ALTER TABLE tenant_a.customers OWNER TO {owner};
             ALTER DEFAULT PRIVILEGES FOR ROLE {defowner} IN SCHEMA tenant_a GRANT SELECT ON TABLES TO {defgrantee};
             CREATE POLICY stray ON tenant_a.orders FOR SELECT TO {pol} USING (true);
             GRANT USAGE ON SCHEMA tenant_a TO {col};
             GRANT SELECT (id) ON tenant_a.orders TO {col};
             CREATE FUNCTION tenant_a.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
             ALTER FUNCTION tenant_a.f() OWNER TO {fnowner};
             GRANT {ro_a}, {ro_b} TO {login};
             ALTER ROLE {ro_a} CREATEDB;
             GRANT SELECT ON tenant_b.orders TO {ro_a};"
        ),
    )
    .await;
    let whole = audited(&s).await.for_tenant("a");
    let one = audit::run(&s, Some("a"), &CancellationToken::new())
        .await
        .unwrap();
    for name in [&owner, &defowner, &col, &fnowner, &ro_a] {
        assert!(
            one.findings
                .iter()
                .any(|f| f.message.contains(name.as_str()) || f.role.as_deref() == Some(name)),
            "nothing names {name}: {:#?}",
            one.findings
        );
    }
    assert!(
        !one.findings
            .iter()
            .any(|f| f.message.contains("dropped role")),
        "{:#?}",
        one.findings
    );
    assert_eq!(one, whole);
    assert_eq!(
        one.summary.tenants, 2,
        "the summary counts the whole registry"
    );
    // `who` reads one tenant too: a login that reaches a through its read-only role, an
    // owner, and a role granted one column (named in that ACL only).
    let who = audit::who(&s, "a", None, &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        who.roles.iter().any(|x| x.role == login),
        "{:#?}",
        who.roles
    );
    assert!(
        who.roles.iter().any(|x| x.role == owner),
        "{:#?}",
        who.roles
    );
    assert!(who.roles.iter().any(|x| x.role == col), "{:#?}", who.roles);
}
