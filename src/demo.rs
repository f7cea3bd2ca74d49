//! The demo's data: a database in a throwaway cluster, bootstrapped, with sample tenants
//! of varied sizes. The CLI's `demo` only parses its arguments and presents the result.

use crate::bootstrap::{self, InitOptions};
use crate::cluster::Cluster;
use crate::connect::Secret;
use crate::error::{Error, Result};
use crate::names::NamingPolicy;
use crate::session::Session;
use crate::sql::SqlVars;
use crate::tenant::{self, NewTenant};
use std::time::Duration;

/// Database the demo creates in its cluster.
pub const DEMO_DB: &str = "tenantctl_demo";

const SAMPLE_DATA: &str = include_str!("../assets/demo/sample_data.sql");

const SAMPLES: [(&str, &str); 12] = [
    ("acme", "Acme Corporation"),
    ("globex", "Globex"),
    ("initech", "Initech"),
    ("umbrella", "Umbrella Health"),
    ("hooli", "Hooli"),
    ("stark", "Stark Industries"),
    ("wayne", "Wayne Enterprises"),
    ("wonka", "Wonka Confections"),
    ("cyberdyne", "Cyberdyne Systems"),
    ("tyrell", "Tyrell Corporation"),
    ("soylent", "Soylent"),
    ("aperture", "Aperture Science"),
];

/// The demo's throwaway servers, removed when dropped.
#[derive(Debug)]
pub enum DemoCluster {
    /// One PostgreSQL server.
    Single(Cluster),
    /// A Citus coordinator and its workers (`demo --citus`).
    Citus(crate::citus_cluster::CitusCluster),
}

/// Bootstraps the demo database and fills it; returns a session as the admin role.
pub async fn prepare(cluster: &Cluster, tenants: usize, read_only: bool) -> Result<Session> {
    create_demo_db(cluster).await?;
    fill_demo(cluster, tenants, read_only).await
}

/// The same on a Citus coordinator (its database made with the extension by the cluster):
/// the sample tenants become distributed schemas, which Citus spreads over the workers, at
/// the template's latest version (its Citus variants, README "Citus").
pub async fn prepare_citus(
    citus: &crate::citus_cluster::CitusCluster,
    tenants: usize,
    read_only: bool,
) -> Result<Session> {
    fill_demo(&citus.coordinator, tenants, read_only).await
}

async fn create_demo_db(cluster: &Cluster) -> Result<()> {
    let postgres = cluster.superuser_spec("postgres").connect(1).await?;
    sqlx::query(
        &SqlVars::new()
            .ident("db", DEMO_DB)
            .render("CREATE DATABASE {{db}}")?,
    )
    .execute(&postgres)
    .await
    .map_err(Error::db("creating the demo database"))?;
    postgres.close().await;
    Ok(())
}

async fn fill_demo(cluster: &Cluster, tenants: usize, read_only: bool) -> Result<Session> {
    let names = NamingPolicy::default();
    let lock_timeout = Duration::from_secs(10);
    let superuser = Session::open(
        cluster.superuser_spec(DEMO_DB),
        names.clone(),
        lock_timeout,
        1,
    )
    .await?;
    let admin_password = Secret::random();
    bootstrap::init(
        &superuser,
        &InitOptions {
            admin_password: Some(admin_password.clone()),
        },
    )
    .await?;
    superuser.pool.close().await;

    let mut spec = cluster.superuser_spec(DEMO_DB);
    spec.user = names.admin_role.clone();
    spec.password = Some(admin_password);
    let admin = Session::open(spec.clone(), names.clone(), lock_timeout, 4).await?;
    for i in 0..tenants {
        let (id, name) = match SAMPLES.get(i) {
            Some((id, name)) => (id.to_string(), name.to_string()),
            None => (format!("sample_{i:05}"), format!("Sample tenant {i}")),
        };
        let plan = ["free", "team", "enterprise"][i % 3];
        let new = NewTenant {
            id: id.clone(),
            name: Some(name),
            config: vec![
                ("plan".into(), plan.into()),
                ("region".into(), ["eu-west", "us-east"][i % 2].into()),
            ],
        };
        tenant::create(&admin, &new).await?;
        // Varied sizes, so the size column and chart have something to show.
        let rows: i32 = if i < SAMPLES.len() {
            150 * (1 + (i as i32 * 7) % 12).pow(2)
        } else {
            50
        };
        fill(&admin, &names.schema_of(&names.tenant_id(&id)?), rows).await?;
    }
    sqlx::query("ANALYZE")
        .execute(&admin.pool)
        .await
        .map_err(Error::db("analyzing the demo data"))?;
    if read_only {
        admin.pool.close().await;
        spec.read_only = true;
        return Session::open(spec, names, lock_timeout, 4).await;
    }
    Ok(admin)
}

async fn fill(session: &Session, schema: &str, rows: i32) -> Result<()> {
    let mut tx = session.begin_change("demo data").await?;
    sqlx::query(
        &SqlVars::new()
            .ident("schema", schema)
            .render("SET LOCAL search_path = {{schema}}")?,
    )
    .execute(&mut *tx)
    .await
    .map_err(Error::db("demo data: setting search_path"))?;
    sqlx::query(SAMPLE_DATA)
        .bind(rows)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("demo data for {schema}")))?;
    tx.commit()
        .await
        .map_err(Error::db("demo data: committing"))
}
