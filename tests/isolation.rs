//! Attack tests: act as the application's roles and try to cross tenants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestDb;
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Row};
use tenantctl::audit::{Finding, Rule};
use tenantctl::session::Session;
use tenantctl::tenant::{self, NewTenant};

fn new(id: &str) -> NewTenant {
    NewTenant {
        id: id.into(),
        name: None,
        config: vec![],
    }
}

/// Rows with the same ids in every tenant: user 1 placed an order in each.
async fn seed(s: &Session, schema: &str, label: &str) {
    let sql = format!(
        "INSERT INTO {schema}.tenant_users (id, email, display_name) VALUES (1, '{label}@x', '{label}');
         INSERT INTO {schema}.customers (id, name, owner_user_id) VALUES (1, '{label} customer', 1);
         INSERT INTO {schema}.orders (id, customer_id, placed_by, total_cents) VALUES (1, 1, 1, 100), (2, 1, 1, 200);
         INSERT INTO {schema}.invoices (order_id, amount_cents) VALUES (1, 100);"
    );
    sqlx::raw_sql(&sql).execute(&s.pool).await.unwrap();
}

/// A connection acting as `role`, routed as the seed's resolver routes: `search_path`
/// on the tenant's schema, `app.user_id` set.
async fn as_app(s: &Session, role: &str, schema: &str, user_id: &str) -> PoolConnection<Postgres> {
    let mut c = s.pool.acquire().await.unwrap();
    c.close_on_drop();
    sqlx::raw_sql(&format!(
        "SET ROLE \"{role}\"; SET search_path TO {schema}, commons, public; SET app.user_id = '{user_id}'"
    ))
    .execute(&mut *c)
    .await
    .unwrap();
    c
}

async fn count(c: &mut PoolConnection<Postgres>, sql: &str) -> Result<i64, String> {
    sqlx::query(sql)
        .fetch_one(&mut **c)
        .await
        .map(|r| r.get::<i64, _>(0))
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn rls_role_routed_to_one_tenant_reads_nothing_of_another() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("a")).await.unwrap();
    tenant::create(&s, &new("b")).await.unwrap();
    seed(&s, "tenant_a", "a").await;
    seed(&s, "tenant_b", "b").await;
    let rls = db.names.rls_role.clone();

    let mut c = as_app(&s, &rls, "tenant_a", "1").await;
    // Its own tenant, unqualified and qualified: user 1's rows.
    assert_eq!(count(&mut c, "SELECT count(*) FROM orders").await, Ok(2));
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM tenant_a.orders").await,
        Ok(2)
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM tenant_users").await,
        Ok(1)
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM invoices").await, Ok(1));
    // The other tenant, schema-qualified, same user id: nothing (or refused).
    for table in ["orders", "customers", "tenant_users", "invoices"] {
        let got = count(&mut c, &format!("SELECT count(*) FROM tenant_b.{table}")).await;
        assert!(
            matches!(got, Ok(0) | Err(_)),
            "tenant_b.{table} read from a session routed to tenant_a: {got:?}"
        );
    }
    // A join through a's own table does not help either.
    let got = count(
        &mut c,
        "SELECT count(*) FROM orders o JOIN tenant_b.orders ob ON ob.id = o.id",
    )
    .await;
    assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
    drop(c);

    // Routed to b, it reads b's rows and not a's.
    let mut c = as_app(&s, &rls, "tenant_b", "1").await;
    assert_eq!(count(&mut c, "SELECT count(*) FROM orders").await, Ok(2));
    assert!(matches!(
        count(&mut c, "SELECT count(*) FROM tenant_a.orders").await,
        Ok(0) | Err(_)
    ));
    drop(c);

    // The service role still reads and writes both.
    let svc = db.names.service_role.clone();
    for schema in ["tenant_a", "tenant_b"] {
        let mut c = as_app(&s, &svc, "tenant_a", "1").await;
        assert_eq!(
            count(&mut c, &format!("SELECT count(*) FROM {schema}.orders")).await,
            Ok(2)
        );
        sqlx::query(&format!(
            "INSERT INTO {schema}.orders (id, customer_id, placed_by, total_cents) VALUES (100, 1, 1, 5)"
        ))
        .execute(&mut *c)
        .await
        .unwrap();
        sqlx::query(&format!("UPDATE {schema}.orders SET status = 'paid'"))
            .execute(&mut *c)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_fresh_tenant_has_no_finding_and_a_table_without_the_binding_is_flagged() {
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("acme")).await.unwrap();
    let found = findings(&s, "acme").await;
    assert!(found.is_empty(), "{found:#?}");
    sqlx::query("DROP POLICY tenantctl_tenant_bound ON tenant_acme.orders")
        .execute(&s.pool)
        .await
        .unwrap();
    let found = findings(&s, "acme").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, Rule::TenantBindingMissing, "{found:#?}");
    assert_eq!(found[0].object.as_deref(), Some("orders"));
}

/// The audit's findings about tenant `id`, as `tenant show` and the Grants pane get them.
async fn findings(s: &Session, id: &str) -> Vec<Finding> {
    tenant::inspect(s, id).await.unwrap().findings
}

/// A tenant provisioned before the binding existed: what an older tenantctl left.
async fn make_it_old(s: &Session, db: &TestDb, schema: &str, id: &str) {
    let rls = &db.names.rls_role;
    let admin = &db.names.admin_role;
    let sql = format!(
        "DO $$ DECLARE t text; BEGIN
           FOR t IN SELECT relname FROM pg_class WHERE relnamespace = '{schema}'::regnamespace AND relkind = 'r' LOOP
             EXECUTE format('DROP POLICY tenantctl_tenant_bound ON {schema}.%I', t);
           END LOOP; END $$;
         GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {rls};
         ALTER DEFAULT PRIVILEGES FOR ROLE {admin} IN SCHEMA {schema} GRANT SELECT ON TABLES TO {rls};
         UPDATE commons.tenants SET template_version = 2 WHERE id = '{id}';"
    );
    sqlx::raw_sql(&sql).execute(&s.pool).await.unwrap();
}

#[tokio::test]
async fn migrate_binds_the_tables_of_an_existing_tenant() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("a")).await.unwrap();
    tenant::create(&s, &new("b")).await.unwrap();
    seed(&s, "tenant_a", "a").await;
    seed(&s, "tenant_b", "b").await;
    make_it_old(&s, &db, "tenant_b", "b").await;
    let rls = db.names.rls_role.clone();
    // The breach as an older release left it.
    let mut c = as_app(&s, &rls, "tenant_a", "1").await;
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM tenant_b.orders").await,
        Ok(2)
    );
    drop(c);
    let found = findings(&s, "b").await;
    assert!(
        found.iter().any(|f| f.rule == Rule::TenantBindingMissing),
        "{found:#?}"
    );

    let (ptx, _prx) = tokio::sync::mpsc::unbounded_channel();
    let report = tenant::migrate(&s, None, &ptx, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        report.count(tenant::MigrateResult::Migrated),
        1,
        "{report:?}"
    );
    let mut c = as_app(&s, &rls, "tenant_a", "1").await;
    assert!(matches!(
        count(&mut c, "SELECT count(*) FROM tenant_b.orders").await,
        Ok(0) | Err(_)
    ));
    drop(c);
    let mut c = as_app(&s, &rls, "tenant_b", "1").await;
    assert_eq!(count(&mut c, "SELECT count(*) FROM orders").await, Ok(2));
    drop(c);
    let found = findings(&s, "b").await;
    assert!(found.is_empty(), "{found:#?}");
}

#[tokio::test]
async fn a_table_the_operator_adds_is_not_readable_by_the_rls_role_until_bound() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("a")).await.unwrap();
    let mut tx = s.begin_change("test").await.unwrap();
    sqlx::raw_sql("CREATE TABLE tenant_a.notes (id int); INSERT INTO tenant_a.notes VALUES (1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut c = as_app(&s, &db.names.rls_role, "tenant_a", "1").await;
    let got = count(&mut c, "SELECT count(*) FROM tenant_a.notes").await;
    assert!(
        got.as_ref().is_err_and(|e| e.contains("permission denied")),
        "{got:?}"
    );
}

#[tokio::test]
async fn planted_admin_owned_view_is_refused_to_the_rls_role_or_flagged() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("a")).await.unwrap();
    tenant::create(&s, &new("b")).await.unwrap();
    seed(&s, "tenant_a", "a").await;
    seed(&s, "tenant_b", "b").await;
    let rls = db.names.rls_role.clone();
    // security_invoker exists from PostgreSQL 15; before it, no view is granted at all.
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    if version < 150000 {
        common::skip(
            "planted_admin_owned_view_is_refused_to_the_rls_role_or_flagged",
            &format!(
                "security_invoker views exist from PostgreSQL 15 on; this server is {}",
                version / 10000
            ),
        );
        return;
    }
    // The admin role plants a view over another tenant's table (owner's rights: no RLS).
    let mut tx = s.begin_change("test").await.unwrap();
    sqlx::raw_sql(
        "CREATE VIEW tenant_a.everything AS SELECT * FROM tenant_b.orders;
         CREATE VIEW tenant_a.mine WITH (security_invoker = on) AS SELECT * FROM tenant_a.orders;
         CREATE VIEW tenant_a.theirs WITH (security_invoker = on) AS SELECT * FROM tenant_b.orders",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Re-running the post-template step (migrate of an older tenant) grants what is safe.
    sqlx::query("UPDATE commons.tenants SET template_version = 2 WHERE id = 'a'")
        .execute(&s.pool)
        .await
        .unwrap();
    let (ptx, _prx) = tokio::sync::mpsc::unbounded_channel();
    tenant::migrate(&s, Some(vec!["a".into()]), &ptx, &Default::default())
        .await
        .unwrap();
    let mut c = as_app(&s, &rls, "tenant_a", "1").await;
    let got = count(&mut c, "SELECT count(*) FROM tenant_a.everything").await;
    assert!(
        got.as_ref().is_err_and(|e| e.contains("permission denied")),
        "{got:?}"
    );
    // Security-invoker views are readable, and the binding still applies under them.
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM tenant_a.mine").await,
        Ok(2)
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM tenant_a.theirs").await,
        Ok(0)
    );
    drop(c);
    let found = findings(&s, "a").await;
    assert!(found.is_empty(), "{found:#?}");

    // An operator who grants the definer view to the RLS role gets a finding.
    sqlx::query(&format!("GRANT SELECT ON tenant_a.everything TO {rls}"))
        .execute(&s.pool)
        .await
        .unwrap();
    let found = findings(&s, "a").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, Rule::ViewBypassesRls, "{found:#?}");
    assert_eq!(found[0].object.as_deref(), Some("everything"));
    assert!(found[0].message.contains("security_invoker"), "{found:#?}");
}
