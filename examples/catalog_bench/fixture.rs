//! The scale fixture: N tenants × T tables shaped like the model (registry rows, schemas
//! owned by the admin role, read-only roles, RLS with the model's three policies per table,
//! the model's grants and default privileges, rows and some TOAST), built server-side.
//!
//! One round trip makes a batch of tenants in one transaction; two connections run batches
//! side by side. Per-tenant CLI calls would take hours at 10,000 tenants.

use std::time::{Duration, Instant};
use tenantctl::names::NamingPolicy;
use tenantctl::session::Session;

/// Tenants per transaction: big enough to amortise the round trip, small enough to keep the
/// locks one transaction holds (tables, indexes, TOAST) well inside the shared lock table.
const BATCH: usize = 20;

/// The server-side maker of tenants `first..=last`; `{{name}}` placeholders are the model's
/// names, quoted, and `%I` formats derived identifiers inside the server.
const MAKER_SQL: &str = r#"
CREATE SCHEMA IF NOT EXISTS bench_fixture;
GRANT USAGE ON SCHEMA bench_fixture TO {{admin}};
CREATE OR REPLACE FUNCTION bench_fixture.make(first int, last int, tables int) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    id text; s text; ro text; t text;
BEGIN
    FOR i IN first..last LOOP
        id := 't' || lpad(i::text, 5, '0');
        s := {{schema_prefix}} || id;
        ro := s || '_ro';
        INSERT INTO {{commons}}.{{tenants}} (id, name, schema, config, template_version)
            VALUES (id, 'Tenant ' || i, s,
                    jsonb_build_object('plan', CASE WHEN i % 3 = 0 THEN 'team' ELSE 'free' END), 2);
        EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %s', s, {{admin_lit}});
        EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', ro);
        FOR j IN 1..tables LOOP
            t := format('%I.%I', s, 'tbl' || lpad(j::text, 2, '0'));
            EXECUTE format('CREATE TABLE %s (id bigint PRIMARY KEY, owner_user_id bigint, body text)', t);
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
            EXECUTE format('CREATE POLICY service_all ON %s TO {{service}} USING (true) WITH CHECK (true)', t);
            EXECUTE format('CREATE POLICY readonly_all ON %s FOR SELECT TO %I USING (true)', t, ro);
            EXECUTE format('CREATE POLICY app_user ON %s FOR SELECT TO {{rls}} USING (owner_user_id = nullif(current_setting(''app.user_id'', true), '''')::bigint)', t);
            -- tenantctl's tenant binding (assets/template/bind.sql), so the audit judges a
            -- database that matches the hardened model.
            EXECUTE format('CREATE POLICY tenantctl_tenant_bound ON %s AS RESTRICTIVE FOR ALL TO {{rls}} USING (pg_catalog.current_schema() OPERATOR(pg_catalog.=) %L::pg_catalog.name) WITH CHECK (pg_catalog.current_schema() OPERATOR(pg_catalog.=) %L::pg_catalog.name)', t, s, s);
            EXECUTE format('INSERT INTO %s SELECT g, g %% 7, repeat(md5(g::text), 2) FROM generate_series(1, 20 + (%s * 7 + %s) %% 40) g', t, i, j);
            IF j = 1 THEN
                -- Incompressible enough to be stored out of line: every tenant has TOAST.
                EXECUTE format('INSERT INTO %s SELECT 1000, NULL, string_agg(md5(random()::text), '''') FROM generate_series(1, 150)', t);
            END IF;
            -- relpages and reltuples as a live database has them after autovacuum.
            EXECUTE format('ANALYZE %s', t);
        END LOOP;
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', s);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO {{service}}, {{rls}}, %I', s, ro);
        -- What grants.sql does with ON ALL TABLES IN SCHEMA, with the tables named: ON ALL
        -- TABLES scans the whole of pg_class for every statement, which makes building the
        -- fixture quadratic in the tenant count.
        SELECT string_agg(format('%I.%I', s, 'tbl' || lpad(j::text, 2, '0')), ', ')
            INTO t FROM generate_series(1, tables) j;
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO {{service}}', t);
        EXECUTE format('GRANT SELECT ON TABLE %s TO {{rls}}, %I', t, ro);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {{service}}', s);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA %I GRANT USAGE ON SEQUENCES TO {{service}}', s);
        -- The RLS role is granted table by table once bound, never by default.
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA %I GRANT SELECT ON TABLES TO %I', s, ro);
    END LOOP;
END
$fn$;
"#;

/// Grows the fixture from `have` to `want` tenants of `tables` tables each; returns the time.
pub async fn grow(session: &Session, have: usize, want: usize, tables: usize) -> Duration {
    let names: &NamingPolicy = &session.names;
    let mut vars = names.template_vars();
    vars.literal(
        "admin_lit",
        &tenantctl::names::quote_ident(&names.admin_role),
    );
    let sql = vars.render(MAKER_SQL).expect("fixture template");
    let t0 = Instant::now();
    sqlx::raw_sql(&sql)
        .execute(&session.pool)
        .await
        .expect("fixture function");
    let batches: Vec<(usize, usize)> = (have + 1..=want)
        .step_by(BATCH)
        .map(|first| (first, (first + BATCH - 1).min(want)))
        .collect();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(batches.into_iter()));
    let admin = names.admin_role.clone();
    let workers = (0..2).map(|_| {
        let names = names.clone();
        let queue = queue.clone();
        let pool = session.pool.clone();
        let admin = admin.clone();
        tokio::spawn(async move {
            let mut conn = pool.acquire().await.expect("connection");
            // Made as the admin role, so it owns what it creates, as provisioning does.
            let set_role = format!("SET ROLE {}", tenantctl::names::quote_ident(&admin));
            tenantctl::session::run_script(&mut conn, &set_role)
                .await
                .expect("set role");
            loop {
                let next = queue.lock().expect("queue").next();
                let Some((first, last)) = next else { break };
                sqlx::query("SELECT bench_fixture.make($1, $2, $3)")
                    .bind(first as i32)
                    .bind(last as i32)
                    .bind(tables as i32)
                    .execute(&mut *conn)
                    .await
                    .expect("making tenants");
                // ANALYZE leaves a TOAST table's relpages at 0; VACUUM (autovacuum on a live
                // database) sets them. Without this the estimate's TOAST join would find
                // almost no non-empty TOAST table, which no real database looks like.
                let toasted: Vec<String> = (first..=last)
                    .map(|i| format!("{}t{i:05}.tbl01", names.schema_prefix))
                    .collect();
                let vacuum = format!("VACUUM {}", toasted.join(", "));
                tenantctl::session::run_script(&mut conn, &vacuum)
                    .await
                    .expect("vacuuming the TOAST tables");
            }
            tenantctl::session::run_script(&mut conn, "RESET ROLE")
                .await
                .expect("reset role");
        })
    });
    for w in workers.collect::<Vec<_>>() {
        w.await.expect("worker");
    }
    sqlx::raw_sql("DROP SCHEMA bench_fixture CASCADE")
        .execute(&session.pool)
        .await
        .expect("dropping the fixture function");
    // The catalogs' statistics as autovacuum leaves them on a live database, so that every
    // run plans the catalog queries alike (right after the fixture, autovacuum may or may
    // not have got to them yet).
    sqlx::raw_sql("ANALYZE pg_catalog.pg_class, pg_catalog.pg_namespace, pg_catalog.pg_depend")
        .execute(&session.pool)
        .await
        .expect("analyzing the catalogs");
    t0.elapsed()
}
