//! What differs between PostgreSQL 13 and 18, each checked on the servers where it applies.
//! `.ci/versions` runs this (with the rest of the suite) once per major; a check that needs a
//! newer server says so on the terminal instead of passing silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod tui_fixture;

use common::{TestDb, cluster, server_major, skip};
use tenantctl::audit::{self, Finding, Rule};
use tenantctl::catalog::{self, GrantMatrix, ObjectKind};
use tenantctl::connect::Secret;
use tenantctl::session::Session;
use tenantctl::tenant::{self, NewTenant};
use tenantctl::tui::app::{Detail, Load};

fn new(id: &str) -> NewTenant {
    NewTenant {
        id: id.into(),
        name: None,
        config: vec![],
    }
}

async fn exec(s: &Session, sql: &str) {
    sqlx::query(sql)
        .execute(&s.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn yes(s: &Session, sql: &str, args: &[&str]) -> bool {
    let mut q = sqlx::query_scalar::<_, bool>(sql);
    for a in args {
        q = q.bind(*a);
    }
    q.fetch_one(&s.pool).await.unwrap()
}

/// Acme's audit findings.
async fn findings(s: &Session) -> Vec<Finding> {
    audit::run(s, Some("acme"), &Default::default())
        .await
        .unwrap()
        .findings
}

/// The console at 200×80 (room for every line) showing `matrix` as acme's grants, with its
/// audit findings.
fn grants_screen(
    s: &Session,
    matrix: GrantMatrix,
    schema: catalog::SchemaSize,
    findings: Vec<Finding>,
) -> String {
    let mut app = tui_fixture::app();
    app.names = s.names.clone();
    app.detail = Some(Detail {
        id: "acme".into(),
        schema: Load::Ready(schema),
        grants: Load::Ready(matrix),
        findings: Load::Ready(findings),
    });
    tui_fixture::draw(&app, 200, 80)
}

#[tokio::test]
async fn the_cluster_runs_the_server_it_was_given() {
    // `.ci/versions` names the major it fetched: the suite must not quietly run on another.
    let major = server_major().await;
    let out = std::process::Command::new(cluster().bindir().join("postgres"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let bin_major: i32 = text
        .rsplit(' ')
        .next()
        .and_then(|v| v.trim().split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("no version in {text:?}"));
    assert_eq!(major, bin_major, "{text}");
    if let Ok(dir) = std::env::var("TENANTCTL_PG_BINDIR") {
        assert_eq!(
            cluster().bindir().canonicalize().unwrap(),
            std::path::Path::new(&dir).canonicalize().unwrap()
        );
    }
    if let Ok(want) = std::env::var("TENANTCTL_PG_EXPECT_MAJOR") {
        assert_eq!(major.to_string(), want);
    }
}

#[tokio::test]
async fn the_console_header_shows_the_servers_version() {
    let (_db, s) = TestDb::bootstrapped().await;
    let num = common::server_version_num().await;
    let mut app = tui_fixture::app();
    app.server = Load::Ready(catalog::server_summary(&s).await.unwrap());
    let screen = tui_fixture::draw(&app, 120, 36);
    let header = screen.lines().next().unwrap();
    // server_version_num 170002 is "17.2"; 90624-style numbers are long gone (13 is the floor).
    let want = format!("PostgreSQL {}.{}", num / 10000, num % 10000);
    assert!(header.contains(&want), "{want:?} not in {header:?}");
}

#[tokio::test]
async fn maintain_is_shown_and_never_granted_to_application_roles() {
    let major = server_major().await;
    if major < 17 {
        skip(
            "maintain_is_shown_and_never_granted_to_application_roles",
            &format!("MAINTAIN exists from PostgreSQL 17 on; this server is {major}"),
        );
        return;
    }
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("acme")).await.unwrap();
    let n = &db.names;
    let ro = n.readonly_role_pattern.replace("{id}", "acme");
    // No application role may VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH or LOCK a table.
    let holds_maintain =
        "SELECT coalesce(bool_or(has_table_privilege($1, c.oid, 'MAINTAIN')), false)
                          FROM pg_class c WHERE c.relnamespace = 'tenant_acme'::regnamespace
                          AND c.relkind IN ('r', 'p', 'v', 'm')";
    for role in [n.service_role.as_str(), n.rls_role.as_str(), ro.as_str()] {
        assert!(!yes(&s, holds_maintain, &[role]).await, "{role}");
    }
    // The matrix shows the owner's MAINTAIN; as provisioned, nothing deviates.
    let matrix = catalog::grant_matrix(&s, "tenant_acme").await.unwrap();
    assert!(matrix.entries.iter().any(|e| e.grantee == n.admin_role
        && e.kind == ObjectKind::Table
        && e.object == "orders"
        && e.privilege == "MAINTAIN"));
    let tables = catalog::schema_tables(&s, "tenant_acme").await.unwrap();
    let devs = findings(&s).await;
    assert!(devs.is_empty(), "{devs:?}");
    let screen = grants_screen(&s, matrix, tables.clone(), devs);
    assert!(screen.contains("Mt"), "no MAINTAIN column:\n{screen}");

    // Granted to the service role, it is a deviation, shown and explained.
    exec(
        &s,
        &format!(
            "GRANT MAINTAIN ON tenant_acme.orders TO \"{}\"",
            n.service_role
        ),
    )
    .await;
    let matrix = catalog::grant_matrix(&s, "tenant_acme").await.unwrap();
    let devs = findings(&s).await;
    let dev = devs
        .iter()
        .find(|d| {
            d.rule == Rule::TablePrivilege
                && d.role.as_deref() == Some(n.service_role.as_str())
                && d.message.contains("MAINTAIN")
        })
        .unwrap_or_else(|| panic!("MAINTAIN not flagged: {devs:?}"))
        .clone();
    assert_eq!(dev.object.as_deref(), Some("orders"));
    let screen = grants_screen(&s, matrix, tables, devs);
    assert!(screen.contains(&dev.id), "{screen}");
}

#[tokio::test]
async fn membership_paths_follow_the_servers_rules() {
    let major = server_major().await;
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("acme")).await.unwrap();
    let svc = db.names.service_role.clone();
    let p = &db.dbname;
    // (member, role attributes, grant options on 16+, expected inherits, expected can_set)
    let mut cases: Vec<(String, &str, &str, bool, bool)> = vec![
        (format!("{p}_inh"), "INHERIT", "", true, true),
        (format!("{p}_noinh"), "NOINHERIT", "", false, true),
    ];
    if major >= 16 {
        // Per grant since 16: the role's attribute is only the default of new grants.
        cases.extend([
            (
                format!("{p}_grant_inh"),
                "NOINHERIT",
                "WITH INHERIT TRUE",
                true,
                true,
            ),
            (
                format!("{p}_grant_noinh"),
                "INHERIT",
                "WITH INHERIT FALSE",
                false,
                true,
            ),
            (
                format!("{p}_no_reach"),
                "INHERIT",
                "WITH INHERIT FALSE, SET FALSE",
                false,
                false,
            ),
        ]);
    } else {
        skip(
            "membership_paths_follow_the_servers_rules (per-grant part)",
            &format!(
                "per-grant INHERIT/SET options exist from PostgreSQL 16 on; this server is {major}"
            ),
        );
    }
    for (role, attrs, opts, _, _) in &cases {
        exec(&s, &format!("CREATE ROLE \"{role}\" {attrs}")).await;
        exec(&s, &format!("GRANT \"{svc}\" TO \"{role}\" {opts}")).await;
    }
    // A chain: reaching the service role through the inheriting member.
    let chained = format!("{p}_chained");
    exec(&s, &format!("CREATE ROLE \"{chained}\" INHERIT")).await;
    exec(&s, &format!("GRANT \"{p}_inh\" TO \"{chained}\"")).await;
    cases.push((chained, "", "", true, true));

    let matrix = catalog::grant_matrix(&s, "tenant_acme").await.unwrap();
    // The server's own answer, so that the expectation cannot drift from the semantics.
    let set_priv = if major >= 16 { "SET" } else { "MEMBER" };
    for (member, _, _, inherits, can_set) in &cases {
        let m = matrix
            .memberships
            .iter()
            .find(|m| &m.member == member && m.role == svc)
            .unwrap_or_else(|| panic!("{member} missing from {:?}", matrix.memberships));
        assert_eq!((m.inherits, m.can_set), (*inherits, *can_set), "{member}");
        let server_inherits = yes(
            &s,
            "SELECT pg_has_role($1, $2, 'USAGE')",
            &[member.as_str(), svc.as_str()],
        )
        .await;
        let server_set = yes(
            &s,
            &format!("SELECT pg_has_role($1, $2, '{set_priv}')"),
            &[member.as_str(), svc.as_str()],
        )
        .await;
        assert_eq!(
            (server_inherits, server_set),
            (*inherits, *can_set),
            "{member}"
        );
    }
    if major >= 16 {
        let tables = catalog::schema_tables(&s, "tenant_acme").await.unwrap();
        let screen = grants_screen(&s, matrix, tables, Vec::new());
        assert!(
            screen.contains(&format!("{p}_no_reach → {svc} (no reach")),
            "{screen}"
        );
    }
}

/// A role with LOGIN and CREATEROLE, no superuser, owning the test database (as a managed
/// service's administrator does), and a session as it.
async fn createrole_session(db: &TestDb, su: &Session) -> Session {
    let role = format!("{}_bootstrapper", db.dbname);
    let password = "Createrole-pw-1";
    exec(
        su,
        &format!("CREATE ROLE \"{role}\" LOGIN CREATEROLE NOSUPERUSER PASSWORD '{password}'"),
    )
    .await;
    exec(
        su,
        &format!("ALTER DATABASE \"{}\" OWNER TO \"{role}\"", db.dbname),
    )
    .await;
    let mut spec = db.superuser_spec();
    spec.user = role;
    spec.password = Some(Secret::new(password));
    Session::open(spec, db.names.clone(), std::time::Duration::from_secs(2), 2)
        .await
        .unwrap()
}

#[tokio::test]
async fn init_as_a_createrole_role_that_is_not_superuser() {
    // Since 16 the creator of a role gets ADMIN OPTION on it but neither INHERIT nor SET,
    // so init must grant itself SET to act as the admin role; before 16 it gets nothing.
    let major = server_major().await;
    let db = TestDb::new().await;
    let su = db.superuser_session().await;
    let s = createrole_session(&db, &su).await;
    if major < 15 {
        // Schema public is the superuser's there, open to all: init cannot close it and
        // refuses until a superuser does.
        let err = tenantctl::bootstrap::init(&s, &Default::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("schema public"), "{err}");
        exec(&su, "REVOKE CREATE ON SCHEMA public FROM PUBLIC").await;
    }
    let report = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap_or_else(|e| panic!("init as CREATEROLE on {major}: {e}"));
    assert_eq!(report.roles_created.len(), 3);
    assert_eq!(
        report.granted_admin_to.as_deref(),
        Some(s.spec.user.as_str())
    );
    let n = &db.names;
    // The model is owned by the admin role, not by whoever bootstrapped it.
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = 'commons'",
    )
    .fetch_one(&su.pool)
    .await
    .unwrap();
    assert_eq!(owner, n.admin_role);
    if major >= 16 {
        // The grant carries SET (to act as the admin role) and INHERIT (to read as it).
        let who = [s.spec.user.as_str(), n.admin_role.as_str()];
        assert!(yes(&su, "SELECT pg_has_role($1, $2, 'SET')", &who).await);
        assert!(yes(&su, "SELECT pg_has_role($1, $2, 'USAGE')", &who).await);
    }
    // The bootstrapper can go on working as the admin role: a tenant is provisioned.
    tenant::create(&s, &new("acme")).await.unwrap();
    let devs = findings(&su).await;
    assert!(devs.is_empty(), "{devs:?}");
    // A second run is a no-op.
    let again = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    assert!(again.was_current(), "{again:?}");
}

#[tokio::test]
async fn init_by_a_createrole_role_that_did_not_create_the_admin_is_refused_clearly() {
    let major = server_major().await;
    if major < 16 {
        skip(
            "init_by_a_createrole_role_that_did_not_create_the_admin_is_refused_clearly",
            &format!("before PostgreSQL 16 CREATEROLE may grant any role; this server is {major}"),
        );
        return;
    }
    let db = TestDb::new().await;
    let su = db.superuser_session().await;
    // The admin role exists already, made by a superuser: the bootstrapper has no ADMIN on it.
    exec(
        &su,
        &format!("CREATE ROLE \"{}\" NOLOGIN CREATEROLE", db.names.admin_role),
    )
    .await;
    let s = createrole_session(&db, &su).await;
    let err = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("may not act as"), "{err}");
    let made: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname = $1")
        .bind(&db.names.service_role)
        .fetch_one(&su.pool)
        .await
        .unwrap();
    assert_eq!(made, 0, "a refused init left roles behind");
}

#[tokio::test]
async fn schema_public_is_closed_to_the_service_role_on_every_version() {
    let major = server_major().await;
    let db = TestDb::new().await;
    let s = db.superuser_session().await;
    let report = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    // 15 made this the default; before, init has to revoke it.
    assert_eq!(report.public_create_revoked, major < 15, "{report:?}");
    // The attack: the service role plants a table on the search_path.
    let mut tx = s.pool.begin().await.unwrap();
    sqlx::query(&format!("SET LOCAL ROLE \"{}\"", db.names.service_role))
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("CREATE TABLE public.planted (x int)")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        tenantctl::error::sqlstate(&err).as_deref(),
        Some("42501"),
        "{err}"
    );
    drop(tx);
    // A second run finds nothing left to do.
    let again = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    assert!(again.was_current(), "{again:?}");
}
