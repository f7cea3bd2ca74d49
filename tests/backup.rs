//! Dump, verify, restore beside and in place, kept copies and drop, against a real cluster
//! with the real pg_dump/pg_restore.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestDb;
use std::path::{Path, PathBuf};
use tenantctl::backup::{self, BackupSettings, RestoreMode, RestoreRequest};
use tenantctl::error::Error;
use tenantctl::session::Session;
use tokio_util::sync::CancellationToken;

fn settings(db: &TestDb) -> BackupSettings {
    BackupSettings {
        dir: db.dir.path().join("backups"),
        pg_bin_dir: None,
    }
}

/// A backup job's result, read by a test: the one thing it did, or why it did not.
trait JobResult<T> {
    /// The job finished: its one result.
    fn finished(self) -> T;
    /// The job did not finish: refused at start, or a step failed. The message.
    fn refused(self) -> String;
}

impl<T: std::fmt::Debug> JobResult<T> for Result<tenantctl::job::JobReport<T>, Error> {
    fn finished(self) -> T {
        let r = self.unwrap();
        assert!(r.complete(), "{r:?}");
        r.done.into_iter().next().unwrap()
    }

    fn refused(self) -> String {
        match self {
            Err(e) => e.to_string(),
            Ok(r) => {
                assert!(!r.complete(), "finished: {r:?}");
                assert!(r.done.is_empty(), "committed: {r:?}");
                let mut s: Vec<String> = r.failed.iter().map(|f| f.error.clone()).collect();
                if r.cancelled {
                    s.push("cancelled".into());
                }
                s.join("; ")
            }
        }
    }
}

fn chan<T>() -> tenantctl::job::ProgressSender<T> {
    tenantctl::job::progress_channel().0
}

/// Restores tenant `id` from `path` (beside, as `as_id`, or in place) and asserts it
/// completed.
async fn restored(s: &Session, set: &BackupSettings, id: &str, path: &Path, as_id: Option<&str>) {
    let req = RestoreRequest {
        id: id.into(),
        backup: path.to_path_buf(),
        as_id: as_id.map(str::to_string),
        registry_from_backup: false,
    };
    let r = backup::restore(s, set, &req, &chan(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(r.complete(), "{r:?}");
}

/// A tenant with rows in every table.
async fn tenant_with_data(s: &Session, id: &str, rows: i64) {
    tenantctl::tenant::create(
        s,
        &tenantctl::tenant::NewTenant {
            id: id.into(),
            name: Some(format!("{id} Inc")),
            config: vec![("plan".into(), "gold".into())],
        },
    )
    .await
    .unwrap();
    let schema = s.names.schema_of(&s.names.tenant_id(id).unwrap());
    let sql = format!(
        r#"SET search_path = "{schema}";
        INSERT INTO tenant_users (email, display_name) SELECT 'u' || g || '@x', 'User ' || g FROM generate_series(1, 5) g;
        INSERT INTO customers (name, owner_user_id, notes) SELECT 'c' || g, 1 + g % 5, md5(g::text) FROM generate_series(1, {rows}) g;
        INSERT INTO orders (customer_id, placed_by, total_cents) SELECT 1 + g % {rows}, 1, g FROM generate_series(1, {rows}) g;
        INSERT INTO invoices (order_id, amount_cents) SELECT g, g * 2 FROM generate_series(1, {rows}) g;
        RESET search_path;"#
    );
    sqlx::raw_sql(&sql).execute(&s.pool).await.unwrap();
}

/// Every table's data checksum in a schema.
async fn checksums(s: &Session, schema: &str) -> Vec<(String, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(&s.pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let sum: Option<String> = sqlx::query_scalar(&format!(
            r#"SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM "{schema}"."{t}" x"#
        ))
        .fetch_one(&s.pool)
        .await
        .unwrap();
        out.push((t, sum.unwrap_or_default()));
    }
    out
}

/// Grants on a schema and its objects, as (grantee, object, privilege), owner included.
async fn grants(s: &Session, schema: &str) -> Vec<String> {
    let m = tenantctl::catalog::grant_matrix(s, schema).await.unwrap();
    let mut v: Vec<String> = m
        .entries
        .iter()
        .map(|e| format!("{} {} {}", e.grantee, e.object, e.privilege))
        .collect();
    v.sort();
    v
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn dump(s: &Session, set: &BackupSettings, id: &str) -> PathBuf {
    backup::dump_tenant(s, set, id, &chan::<()>(), &CancellationToken::new())
        .await
        .unwrap()
        .path
}

async fn schema_exists(s: &Session, schema: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(&s.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn dump_then_restore_in_place_brings_back_every_row_and_grant() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 200).await;
    let before = checksums(&s, "tenant_acme").await;
    let grants_before = grants(&s, "tenant_acme").await;
    let path = dump(&s, &set, "acme").await;
    let listed = backup::list(&set.dir, Some("acme")).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].verifiable);
    let m = backup::read_manifest(&path.with_extension("json")).unwrap();
    assert_eq!(
        m.tables
            .iter()
            .find(|t| t.name == "customers")
            .unwrap()
            .rows,
        200
    );

    // Damage: rows gone, rows changed, a grant revoked, config changed.
    sqlx::raw_sql(&format!(
        r#"DELETE FROM tenant_acme.invoices; UPDATE tenant_acme.customers SET name = 'x';
           REVOKE SELECT ON tenant_acme.orders FROM "{}""#,
        db.names.rls_role
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    tenantctl::tenant::set(
        &s,
        "acme",
        &tenantctl::tenant::TenantChange {
            set: vec![("plan".into(), "silver".into())],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_ne!(checksums(&s, "tenant_acme").await, before);

    let req = RestoreRequest {
        id: "acme".into(),
        backup: path.clone(),
        as_id: None,
        registry_from_backup: false,
    };
    let r = backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .finished();
    assert_eq!(r.mode, RestoreMode::InPlace);
    assert_eq!(checksums(&s, "tenant_acme").await, before);
    assert_eq!(grants(&s, "tenant_acme").await, grants_before);
    // The registry row is kept (the operator's later change stays) unless asked otherwise.
    let row = tenantctl::catalog::tenant_row(&s, "acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.config["plan"], "silver");
    // The previous contents are kept, closed to every application role.
    let kept = backup::kept(&s, Some("acme")).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(Some(kept[0].name.clone()), r.kept);
    let open: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT pg_get_userbyid(a.grantee)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                aclexplode(c.relacl) a WHERE n.nspname = $1 AND a.grantee <> c.relowner",
    )
    .bind(&kept[0].name)
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert!(open.is_empty(), "kept copy still open to {open:?}");
    let log = tenantctl::journal::recent(&s, 5).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "restore" && e.outcome == "ok")
    );

    // --registry-from-backup takes the backup's config back too.
    let req = RestoreRequest {
        registry_from_backup: true,
        ..req
    };
    backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .finished();
    let row = tenantctl::catalog::tenant_row(&s, "acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.config["plan"], "gold");
    let released = backup::release(&s, None).await.unwrap();
    assert_eq!(released.len(), 2);
    assert!(backup::kept(&s, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn restore_beside_leaves_the_live_tenant_alone_and_the_copy_free_of_old_names() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 50).await;
    let path = dump(&s, &set, "acme").await;
    let live = checksums(&s, "tenant_acme").await;
    let live_grants = grants(&s, "tenant_acme").await;
    let req = RestoreRequest {
        id: "acme".into(),
        backup: path,
        as_id: Some("acme_copy".into()),
        registry_from_backup: false,
    };
    let r = backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .finished();
    assert_eq!(r.mode, RestoreMode::Beside);
    assert_eq!(checksums(&s, "tenant_acme").await, live);
    assert_eq!(grants(&s, "tenant_acme").await, live_grants);
    assert_eq!(checksums(&s, "tenant_acme_copy").await, live);
    // The copy's grants are the live ones with the new read-only role in place of the old.
    let old_ro = s
        .names
        .readonly_role_of(&s.names.tenant_id("acme").unwrap());
    let new_ro = s
        .names
        .readonly_role_of(&s.names.tenant_id("acme_copy").unwrap());
    let expected: Vec<String> = {
        let mut v: Vec<String> = live_grants
            .iter()
            .map(|g| {
                g.replace(&old_ro, "@RO@")
                    .replace("tenant_acme", "tenant_acme_copy")
                    .replace("@RO@", &new_ro)
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(grants(&s, "tenant_acme_copy").await, expected);
    // Nothing in the copy names the old schema or role: defaults, policies.
    let named: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'tenant_acme_copy' AND (SELECT oid FROM pg_roles WHERE rolname = $1) = ANY (p.polroles)",
    )
    .bind(&old_ro)
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(named, 0);
    let defaults: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tenant_acme_copy'",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert!(
        defaults.iter().all(|d| !d.contains("tenant_acme.")),
        "{defaults:?}"
    );
    // The service role works on both.
    for schema in ["tenant_acme", "tenant_acme_copy"] {
        let mut tx = s.pool.begin().await.unwrap();
        sqlx::query(&format!(r#"SET LOCAL ROLE "{}""#, db.names.service_role))
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(&format!(
            r#"INSERT INTO "{schema}".customers (name) VALUES ('new')"#
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.rollback().await.unwrap();
    }
    // The copy's read-only role reads the copy, and the old one cannot.
    let mut tx = s.pool.begin().await.unwrap();
    sqlx::query(&format!(r#"SET LOCAL ROLE "{new_ro}""#))
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT count(*) FROM tenant_acme_copy.orders")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = s.pool.begin().await.unwrap();
    sqlx::query(&format!(r#"SET LOCAL ROLE "{old_ro}""#))
        .execute(&mut *tx)
        .await
        .unwrap();
    assert!(
        sqlx::query("SELECT count(*) FROM tenant_acme_copy.orders")
            .execute(&mut *tx)
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();
    assert!(!schema_exists(&s, "_side_acme_copy").await);
}

#[tokio::test]
async fn restore_beside_refuses_a_copy_whose_function_body_names_the_old_schema() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 5).await;
    sqlx::raw_sql(&format!(
        r#"SET ROLE "{}"; CREATE FUNCTION tenant_acme.n() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM tenant_acme.orders'; RESET ROLE"#,
        db.names.admin_role
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let path = dump(&s, &set, "acme").await;
    let req = RestoreRequest {
        id: "acme".into(),
        backup: path,
        as_id: Some("acme2".into()),
        registry_from_backup: false,
    };
    let e = backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .refused()
        .to_string();
    assert!(e.contains("function n"), "{e}");
    assert!(e.contains("was not created"), "{e}");
    assert!(!schema_exists(&s, "tenant_acme2").await);
    assert!(!schema_exists(&s, "_side_acme2").await);
    assert!(
        tenantctl::catalog::tenant_row(&s, "acme2")
            .await
            .unwrap()
            .is_none()
    );
    let role: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(
                s.names
                    .readonly_role_of(&s.names.tenant_id("acme2").unwrap()),
            )
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(!role, "the pending read-only role was left behind");
}

#[tokio::test]
async fn damaged_archives_are_refused_by_verify_and_restore_and_the_tenant_is_untouched() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 100).await;
    let path = dump(&s, &set, "acme").await;
    let cancel = CancellationToken::new();
    backup::verify(&set, &path, &cancel).await.unwrap();
    let before = checksums(&s, "tenant_acme").await;
    let original = std::fs::read(&path).unwrap();
    // One flipped byte in the middle, then the file cut short.
    let mut flipped = original.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    for damaged in [flipped, original[..original.len() / 3].to_vec()] {
        std::fs::write(&path, &damaged).unwrap();
        let e = backup::verify(&set, &path, &cancel)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("damaged"), "{e}");
        let req = RestoreRequest {
            id: "acme".into(),
            backup: path.clone(),
            as_id: None,
            registry_from_backup: false,
        };
        let e = backup::restore(&s, &set, &req, &chan(), &cancel)
            .await
            .refused();
        assert!(e.to_string().contains("damaged"), "{e}");
        assert_eq!(checksums(&s, "tenant_acme").await, before);
        assert!(backup::kept(&s, None).await.unwrap().is_empty());
    }
    // The CLI says so with exit 2.
    let out = common::run_cli(&db, &["backups", "verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

/// A folder whose pg_dump is the real one under a wrapper, and pg_restore the real one.
fn wrapped_tools(db: &TestDb, tools: &backup::Tools, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = db.dir.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        "#!/bin/bash\nif [ \"$1\" = --version ]; then exec {real} --version; fi\n{body}\n",
        real = tools.pg_dump.display()
    )
    .replace("REAL", &tools.pg_dump.display().to_string());
    std::fs::write(dir.join("pg_dump"), script).unwrap();
    std::fs::set_permissions(dir.join("pg_dump"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::os::unix::fs::symlink(&tools.pg_restore, dir.join("pg_restore"));
    dir
}

#[tokio::test]
async fn a_dump_hitting_the_file_size_limit_leaves_no_backup_and_no_file() {
    let (db, s) = TestDb::bootstrapped().await;
    let tools = require_pg_dump!(s);
    tenant_with_data(&s, "acme", 5000).await;
    // Disk full, as far as pg_dump can tell: writes past 8 kB fail (SIGXFSZ is ignored so
    // pg_dump sees EFBIG and exits with an error, as on a full disk).
    let bin = wrapped_tools(&db, &tools, "trap '' XFSZ; ulimit -f 8; exec REAL \"$@\"");
    let set = BackupSettings {
        pg_bin_dir: Some(bin),
        ..settings(&db)
    };
    let e = backup::dump_tenant(&s, &set, "acme", &chan::<()>(), &CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no backup was written"), "{e}");
    assert!(backup::list(&set.dir, None).unwrap().is_empty());
    assert_eq!(files_in(&set.dir), Vec::<String>::new());
}

#[tokio::test]
async fn a_pg_dump_that_fails_after_writing_leaves_no_backup_and_no_file() {
    let (db, s) = TestDb::bootstrapped().await;
    let tools = require_pg_dump!(s);
    tenant_with_data(&s, "acme", 10).await;
    // The archive is complete, but pg_dump reports failure: it must not become a backup.
    let bin = wrapped_tools(
        &db,
        &tools,
        "REAL \"$@\" || exit $?; echo 'pg_dump: error: simulated failure' >&2; exit 1",
    );
    let set = BackupSettings {
        pg_bin_dir: Some(bin),
        ..settings(&db)
    };
    let e = backup::dump_tenant(&s, &set, "acme", &chan::<()>(), &CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pg_dump exited with 1: pg_dump: error: simulated failure"),
        "{e}"
    );
    assert!(backup::list(&set.dir, None).unwrap().is_empty());
    assert_eq!(files_in(&set.dir), Vec::<String>::new());
}

#[tokio::test]
async fn a_dump_waiting_on_a_lock_gives_up_after_the_lock_timeout_and_leaves_nothing() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 10).await;
    let mut locker = s.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE tenant_acme.orders IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *locker)
        .await
        .unwrap();
    let e = backup::dump_tenant(&s, &set, "acme", &chan::<()>(), &CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    locker.rollback().await.unwrap();
    assert!(e.contains("timeout"), "{e}");
    assert_eq!(files_in(&set.dir), Vec::<String>::new());
}

/// Holds pg_dump at a sequence it must read (the row counts, which read tables only, get
/// through), so it can be looked at, killed or cancelled mid-way.
async fn hold_pg_dump(db: &TestDb, s: &Session) -> sqlx::Transaction<'static, sqlx::Postgres> {
    sqlx::raw_sql(&format!(
        r#"SET ROLE "{}"; CREATE SEQUENCE tenant_acme.tickets; RESET ROLE"#,
        db.names.admin_role
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let mut locker = s.pool.begin().await.unwrap();
    // ALTER SEQUENCE ... OWNER takes an ACCESS EXCLUSIVE lock on it (LOCK refuses sequences).
    sqlx::query(&format!(
        r#"ALTER SEQUENCE tenant_acme.tickets OWNER TO "{}""#,
        db.names.admin_role
    ))
    .execute(&mut *locker)
    .await
    .unwrap();
    locker
}

/// pg_dump children of this process dumping database `dbname` (tests run side by side).
fn pg_dump_children(dbname: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(rest) = stat.rsplit_once(") ") else {
            continue;
        };
        let ppid = rest.1.split_whitespace().nth(1).unwrap_or("");
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let wanted = format!("PGDATABASE={dbname}");
        let ours = environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes());
        if stat.contains("(pg_dump)") && ppid == me && ours {
            out.push(pid);
        }
    }
    out
}

#[tokio::test]
async fn a_killed_pg_dump_leaves_no_backup_and_its_secrets_never_showed() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 10).await;
    let password = db.password();
    let locker = hold_pg_dump(&db, &s).await;
    let (s2, set2) = (s.clone(), set.clone());
    let job = tokio::spawn(async move {
        backup::dump_tenant(&s2, &set2, "acme", &chan::<()>(), &CancellationToken::new()).await
    });
    let mut pid = None;
    for _ in 0..200 {
        if let Some(p) = pg_dump_children(&db.dbname).first() {
            pid = Some(*p);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let pid = pid.expect("pg_dump running");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(
        !cmdline.contains(&password),
        "password on pg_dump's command line"
    );
    assert!(cmdline.contains("--schema"), "{cmdline}");
    let environ = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap())
        .into_owned();
    assert!(
        !environ.contains(&password),
        "password in pg_dump's environment"
    );
    let pgpass = environ
        .split('\0')
        .find_map(|v| v.strip_prefix("PGPASSFILE="))
        .map(PathBuf::from)
        .expect("PGPASSFILE set");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&pgpass).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        std::fs::read_to_string(&pgpass)
            .unwrap()
            .contains(&password)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let e = job.await.unwrap().unwrap_err().to_string();
    locker.rollback().await.unwrap();
    assert!(e.contains("killed by signal 9"), "{e}");
    assert!(
        !pgpass.exists(),
        "the private pgpass file outlived the dump"
    );
    assert!(backup::list(&set.dir, None).unwrap().is_empty());
    assert_eq!(files_in(&set.dir), Vec::<String>::new());
}

#[tokio::test]
async fn cancelling_a_dump_kills_pg_dump_and_removes_the_partial_file() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 10).await;
    let locker = hold_pg_dump(&db, &s).await;
    let cancel = CancellationToken::new();
    let (s2, set2, c2) = (s.clone(), set.clone(), cancel.clone());
    let job =
        tokio::spawn(
            async move { backup::dump_tenant(&s2, &set2, "acme", &chan::<()>(), &c2).await },
        );
    for _ in 0..200 {
        if !pg_dump_children(&db.dbname).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        !files_in(&set.dir).is_empty(),
        "the partial file exists while pg_dump runs"
    );
    cancel.cancel();
    // Without the cancel reaching pg_dump, the job would wait on the lock held below.
    let e = tokio::time::timeout(std::time::Duration::from_secs(10), job)
        .await
        .expect("the dump stopped when cancelled")
        .unwrap()
        .unwrap_err();
    locker.rollback().await.unwrap();
    assert!(matches!(e, Error::Cancelled(_)), "{e}");
    assert!(
        pg_dump_children(&db.dbname).is_empty(),
        "pg_dump outlived the cancel"
    );
    assert_eq!(files_in(&set.dir), Vec::<String>::new());
}

#[tokio::test]
async fn a_second_restore_or_a_migrate_is_refused_at_once_naming_the_holder() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 10).await;
    let path = dump(&s, &set, "acme").await;
    let id = s.names.tenant_id("acme").unwrap();
    let holder = backup::TenantBusy::hold(&s, &id, "tenantctl restore acme (first)")
        .await
        .unwrap();
    let req = RestoreRequest {
        id: "acme".into(),
        backup: path.clone(),
        as_id: None,
        registry_from_backup: false,
    };
    let started = std::time::Instant::now();
    let e = backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .refused()
        .to_string();
    assert!(
        started.elapsed()
            < std::time::Duration::from_secs(2) + std::time::Duration::from_millis(1500)
    );
    assert!(
        e.contains("busy") && e.contains("tenantctl restore acme (first)"),
        "{e}"
    );
    let (tx, _rx) = tenantctl::job::progress_channel();
    // A migrate of the tenant is refused too (it is at the newest version, so force v1).
    sqlx::query(&format!(
        "UPDATE {} SET template_version = 1 WHERE id = 'acme'",
        s.names.registry()
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let report = tenantctl::tenant::migrate(
        &s,
        Some(vec!["acme".into()]),
        &tx,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let err = report
        .failed
        .first()
        .map(|f| f.error.clone())
        .unwrap_or_default();
    assert!(
        err.contains("restore or drop") && err.contains("(first)"),
        "{err}"
    );
    let e = backup::drop_tenant(&s, &set, "acme", "acme", &chan(), &CancellationToken::new())
        .await
        .refused()
        .to_string();
    assert!(e.contains("busy"), "{e}");
    drop(holder);
    sqlx::query(&format!(
        "UPDATE {} SET template_version = 2 WHERE id = 'acme'",
        s.names.registry()
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    // While a migrate-like change holds the tenant, a restore is refused at once.
    let mut tx = s.pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('application_name', 'tenantctl migrate', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "SELECT pg_try_advisory_xact_lock_shared(hashtextextended('tenantctl:busy:' || $1, 0))",
    )
    .bind("acme")
    .execute(&mut *tx)
    .await
    .unwrap();
    let e = backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .refused()
        .to_string();
    assert!(e.contains("busy"), "{e}");
    tx.rollback().await.unwrap();
    backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .finished();
}

#[tokio::test]
async fn a_prepared_insert_keeps_working_after_an_in_place_restore_and_lands_in_the_restored_tenant()
 {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 10).await;
    let path = dump(&s, &set, "acme").await;
    // The application: the service role, search_path on the tenant, a prepared INSERT.
    sqlx::query(&format!(
        r#"ALTER ROLE "{}" PASSWORD 'app-secret'"#,
        db.names.service_role
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let mut spec = db.superuser_spec();
    spec.user = db.names.service_role.clone();
    spec.password = Some(tenantctl::connect::Secret::new("app-secret"));
    use sqlx::Connection;
    let mut app = sqlx::PgConnection::connect_with(&spec.options())
        .await
        .unwrap();
    sqlx::query("SET search_path = tenant_acme")
        .execute(&mut app)
        .await
        .unwrap();
    const INSERT: &str = "INSERT INTO customers (name) VALUES ($1)";
    for i in 0..6 {
        // sqlx prepares once per connection and reuses the statement (and its plan).
        sqlx::query(INSERT)
            .bind(format!("before {i}"))
            .execute(&mut app)
            .await
            .unwrap();
    }
    let req = RestoreRequest {
        id: "acme".into(),
        backup: path,
        as_id: None,
        registry_from_backup: false,
    };
    let r = backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .finished();
    let kept = r.kept.unwrap();
    sqlx::query(INSERT)
        .bind("after")
        .execute(&mut app)
        .await
        .unwrap();
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tenant_acme.customers WHERE name = 'after'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    let in_kept: i64 = sqlx::query_scalar(&format!(
        r#"SELECT count(*) FROM "{kept}".customers WHERE name = 'after'"#
    ))
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!((live, in_kept), (1, 0));
    let before_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tenant_acme.customers WHERE name LIKE 'before%'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(
        before_rows, 0,
        "the restored tenant holds the backup's rows"
    );
}

#[tokio::test]
async fn drop_refuses_a_wrong_confirmation_and_otherwise_leaves_a_verified_backup() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 20).await;
    let before = checksums(&s, "tenant_acme").await;
    let e = backup::drop_tenant(&s, &set, "acme", "acm", &chan(), &CancellationToken::new())
        .await
        .refused()
        .to_string();
    assert!(e.contains("does not match"), "{e}");
    assert!(schema_exists(&s, "tenant_acme").await);
    assert!(files_in(&set.dir).is_empty());
    let r = backup::drop_tenant(&s, &set, "acme", "acme", &chan(), &CancellationToken::new())
        .await
        .finished();
    assert!(!schema_exists(&s, "tenant_acme").await);
    assert!(
        tenantctl::catalog::tenant_row(&s, "acme")
            .await
            .unwrap()
            .is_none()
    );
    let ro = s
        .names
        .readonly_role_of(&s.names.tenant_id("acme").unwrap());
    let role: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&ro)
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(!role);
    backup::verify(&set, &r.backup, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(backup::list(&set.dir, Some("acme")).unwrap().len(), 1);
    // And the tenant comes back from it.
    let req = RestoreRequest {
        id: "acme".into(),
        backup: r.backup,
        as_id: None,
        registry_from_backup: false,
    };
    let r = backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .finished();
    assert_eq!(r.mode, RestoreMode::Recreated);
    assert_eq!(checksums(&s, "tenant_acme").await, before);
}

#[tokio::test]
async fn the_cli_dumps_lists_and_refuses_an_unconfirmed_in_place_restore_without_a_terminal() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    tenant_with_data(&s, "acme", 10).await;
    let dir = db.dir.path().join("cli-backups");
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(common::bin());
        cmd.args(args)
            .env("TENANTCTL_CONFIG", db.config_file())
            .env("TENANTCTL_BACKUP_DIR", &dir)
            .env("PGPASSWORD", db.password())
            .stdin(std::process::Stdio::null());
        cmd.output().unwrap()
    };
    let out = run(&["dump", "acme"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().last().unwrap().to_string();
    assert!(
        Path::new(&path).is_file(),
        "last line is the backup's path: {stdout}"
    );
    let out = run(&["backups", "list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["path"], path.as_str());
    for key in ["tenant", "schema", "created_at", "size_bytes", "sha256"] {
        assert!(!list[0][key].is_null(), "{key}");
    }
    let out = run(&["restore", "acme", &path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(backup::kept(&s, None).await.unwrap().is_empty());
    let out = run(&["restore", "acme", &path, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["tenant", "show", "acme", "--format", "json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["backups"][0]["path"], path.as_str());
    let out = run(&["tenant", "drop", "acme", "--confirm", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(schema_exists(&s, "tenant_acme").await);
    // Every tenant, two at a time: one path per tenant, each listed.
    tenant_with_data(&s, "globex", 5).await;
    let out = run(&["dump", "--all", "--jobs", "2"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(
        paths[0].contains("/acme.") && paths[1].contains("/globex."),
        "{paths:?}"
    );
    let listed = backup::list(&dir, None).unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|b| b.verifiable));
}

#[tokio::test]
async fn tenantctl_killed_at_each_restore_step_leaves_old_or_new_data_and_a_rerun_finishes() {
    use std::io::BufRead;
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    tenant_with_data(&s, "acme", 5000).await;
    let dir = db.dir.path().join("kill-backups");
    let set = BackupSettings {
        dir: dir.clone(),
        pg_bin_dir: None,
    };
    let path = dump(&s, &set, "acme").await;
    let backup_sums = checksums(&s, "tenant_acme").await;
    sqlx::query("DELETE FROM tenant_acme.invoices WHERE id % 2 = 0")
        .execute(&s.pool)
        .await
        .unwrap();
    let live_sums = checksums(&s, "tenant_acme").await;
    let steps = [
        "restoring into the scratch database",
        "renaming in the scratch database",
        "dumping the renamed copy",
        "restoring beside the live tenant",
        "analyzing the restored tables",
        "swapping",
    ];
    for (signal, step) in steps.iter().flat_map(|st| {
        [
            (nix::sys::signal::Signal::SIGKILL, *st),
            (nix::sys::signal::Signal::SIGTERM, *st),
        ]
    }) {
        let mut child = std::process::Command::new(common::bin())
            .args(["restore", "acme", path.to_str().unwrap(), "--yes"])
            .env("TENANTCTL_CONFIG", db.config_file())
            .env("TENANTCTL_BACKUP_DIR", &dir)
            .env("PGPASSWORD", db.password())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = false;
        for line in stderr.lines() {
            let line = line.unwrap();
            if line.contains(step) {
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal)
                    .unwrap();
                seen = true;
                break;
            }
        }
        let status = child.wait().unwrap();
        assert!(seen, "never saw step {step}");
        let now = checksums(&s, "tenant_acme").await;
        let swapped = now == backup_sums;
        assert!(
            swapped || now == live_sums,
            "{signal} at {step}: a mix of old and new data"
        );
        let kept = backup::kept(&s, Some("acme")).await.unwrap();
        assert_eq!(
            kept.len(),
            usize::from(swapped),
            "{signal} at {step}: kept copies {kept:?}"
        );
        // Nothing that looks like a tenant is left behind, whatever happened.
        let rows = tenantctl::catalog::list_tenants(&s).await.unwrap();
        assert_eq!(
            rows.len(),
            1,
            "{signal} at {step}: {rows:?} (status {status})"
        );
        // A rerun finishes.
        let req = RestoreRequest {
            id: "acme".into(),
            backup: path.clone(),
            as_id: None,
            registry_from_backup: false,
        };
        backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
            .await
            .map_or_else(
                |e| panic!("rerun after {signal} at {step}: {e}"),
                |r| assert!(r.complete(), "rerun after {signal} at {step}: {r:?}"),
            );
        assert_eq!(checksums(&s, "tenant_acme").await, backup_sums);
        assert!(!schema_exists(&s, "_side_acme").await);
        // Back to the live data for the next round.
        backup::release(&s, None).await.unwrap();
        sqlx::query("DELETE FROM tenant_acme.invoices WHERE id % 2 = 0")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(checksums(&s, "tenant_acme").await, live_sums);
    }
}

#[tokio::test]
async fn a_transaction_writing_across_an_in_place_restore_keeps_all_its_rows_in_one_copy() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 10).await;
    let path = dump(&s, &set, "acme").await;
    let mut app = s.pool.begin().await.unwrap();
    sqlx::query(&format!(r#"SET LOCAL ROLE "{}""#, db.names.service_role))
        .execute(&mut *app)
        .await
        .unwrap();
    sqlx::query("SET LOCAL search_path = tenant_acme")
        .execute(&mut *app)
        .await
        .unwrap();
    sqlx::query("INSERT INTO customers (name) VALUES ('in flight')")
        .execute(&mut *app)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (s2, set2) = (s.clone(), set.clone());
    let job = tokio::spawn(async move {
        let req = RestoreRequest {
            id: "acme".into(),
            backup: path,
            as_id: None,
            registry_from_backup: false,
        };
        backup::restore(&s2, &set2, &req, &tx, &CancellationToken::new()).await
    });
    while let Some(p) = rx.recv().await {
        if p.current.ends_with(backup::BackupStep::Swap.label()) {
            break;
        }
    }
    // The swap is under way: without its lock it would commit now, and the second row
    // would go to the restored tables while the first stays in the kept copy.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    sqlx::query("INSERT INTO customers (name) VALUES ('in flight')")
        .execute(&mut *app)
        .await
        .unwrap();
    app.commit().await.unwrap();
    let r = job.await.unwrap().finished();
    let kept = r.kept.unwrap();
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tenant_acme.customers WHERE name = 'in flight'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    let old: i64 = sqlx::query_scalar(&format!(
        r#"SELECT count(*) FROM "{kept}".customers WHERE name = 'in flight'"#
    ))
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(
        (live, old),
        (0, 2),
        "the transaction's rows were split between the copies"
    );
}

#[tokio::test]
async fn dump_of_every_tenant_reports_each_as_done_failed_or_not_tried() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    tenant_with_data(&s, "acme", 5).await;
    tenant_with_data(&s, "globex", 5).await;
    let set = settings(&db);
    // globex's schema gone behind the registry's back: its dump fails, acme's must not.
    sqlx::query("DROP SCHEMA tenant_globex CASCADE")
        .execute(&s.pool)
        .await
        .unwrap();
    let (tx, mut rx) = tenantctl::job::progress_channel();
    let r = backup::dump(&s, &set, None, 2, &tx, &CancellationToken::new())
        .await
        .unwrap();
    drop(tx);
    assert_eq!(r.done.len(), 1);
    assert_eq!(r.done[0].manifest.tenant, "acme");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert_eq!(r.failed[0].item, "globex");
    assert!(r.not_tried.is_empty());
    assert!(!r.complete());
    let mut landed = Vec::new();
    while let Some(p) = rx.recv().await {
        landed.extend(p.landed.into_iter().map(|d| d.manifest.tenant));
    }
    assert_eq!(
        landed,
        ["acme"],
        "a finished tenant is reported as it lands"
    );
    // Cancelled before any dump started: every tenant is listed as not tried, none written.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let before = backup::list(&set.dir, None).unwrap().len();
    let r = backup::dump(&s, &set, None, 1, &chan(), &cancel)
        .await
        .unwrap();
    assert_eq!(r.not_tried, ["acme", "globex"]);
    assert!(r.done.is_empty() && r.cancelled);
    assert_eq!(backup::list(&set.dir, None).unwrap().len(), before);
    // An unknown id means the job cannot start.
    let e = backup::dump(
        &s,
        &set,
        Some(vec!["nope".into()]),
        1,
        &chan(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::NoSuchTenant(_)), "{e}");
}

#[tokio::test]
async fn the_cli_dump_all_exits_2_naming_the_tenant_that_failed() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    tenant_with_data(&s, "acme", 5).await;
    tenant_with_data(&s, "globex", 5).await;
    sqlx::query("DROP SCHEMA tenant_globex CASCADE")
        .execute(&s.pool)
        .await
        .unwrap();
    let dir = db.dir.path().join("cli-partial");
    let out = std::process::Command::new(common::bin())
        .args(["dump", "--all"])
        .env("TENANTCTL_CONFIG", db.config_file())
        .env("TENANTCTL_BACKUP_DIR", &dir)
        .env("PGPASSWORD", db.password())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("1 dump(s) failed (globex)"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("/acme."), "{stdout}");
}

/// The advisory lock the console log's hash chain takes for each row (bootstrap v3).
const LOG_LOCK: i64 = 7308604897068086018;

/// The restore's own connection (it names itself after the job): pid and what it waits on.
async fn restore_backend(s: &Session, app: &str) -> Option<(i32, String)> {
    sqlx::query_as(
        "SELECT pid, coalesce(wait_event_type, '') || ':' || coalesce(wait_event, '')
         FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(app)
    .fetch_optional(&s.pool)
    .await
    .unwrap()
}

/// Waits until the restore's connection waits on `wait` (a prefix such as "Lock:advisory").
async fn restore_waiting_on(s: &Session, app: &str, wait: &str) -> i32 {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        if let Some((pid, w)) = restore_backend(s, app).await
            && w.starts_with(wait)
        {
            return pid;
        }
        assert!(
            std::time::Instant::now() < until,
            "the restore never waited on {wait}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_restores_own_connection_killed_at_each_step_says_old_or_new_data_and_a_rerun_finishes()
{
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    tenant_with_data(&s, "acme", 2000).await;
    let dir = db.dir.path().join("conn-kill-backups");
    let set = BackupSettings {
        dir: dir.clone(),
        pg_bin_dir: None,
    };
    let path = dump(&s, &set, "acme").await;
    let backup_sums = checksums(&s, "tenant_acme").await;
    sqlx::query("DELETE FROM tenant_acme.invoices WHERE id % 2 = 0")
        .execute(&s.pool)
        .await
        .unwrap();
    let live_sums = checksums(&s, "tenant_acme").await;
    // The restore waits on the test's locks for as long as the test needs.
    let config = db.dir.path().join("slow-locks.toml");
    std::fs::write(
        &config,
        std::fs::read_to_string(db.config_file())
            .unwrap()
            .replace("lock_timeout_secs = 2", "lock_timeout_secs = 120"),
    )
    .unwrap();
    let app = "tenantctl restore acme";
    let registry_row = s
        .names
        .template_vars()
        .render("SELECT 1 FROM {{registry}} WHERE id = 'acme' FOR UPDATE")
        .unwrap();
    // Nothing follows the swap's commit (the analysis comes before it).
    for step in ["before the swap", "in the swap"] {
        let child = std::process::Command::new(common::bin())
            .args(["restore", "acme", path.to_str().unwrap(), "--yes"])
            .env("TENANTCTL_CONFIG", &config)
            .env("TENANTCTL_BACKUP_DIR", &dir)
            .env("PGPASSWORD", db.password())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let output = tokio::task::spawn_blocking(move || child.wait_with_output());
        let swapped = match step {
            "before the swap" => {
                // The swap's first statement waits on this row; the side copy is written.
                let mut row = s.pool.begin().await.unwrap();
                sqlx::query(&registry_row).execute(&mut *row).await.unwrap();
                let pid = restore_waiting_on(&s, app, "Lock:").await;
                assert!(
                    schema_exists(&s, "_side_acme").await,
                    "{step}: no side copy yet"
                );
                // Before the swap, the side copy is analyzed, its rows frozen (all-visible:
                // its first autovacuum has nothing to do), its policies made, and it is
                // closed to the application roles until the swap opens it.
                let (pages, visible, tuples): (i32, i32, f32) = sqlx::query_as(
                    "SELECT c.relpages, c.relallvisible, c.reltuples FROM pg_class c
                     WHERE c.oid = '_side_acme.invoices'::regclass",
                )
                .fetch_one(&s.pool)
                .await
                .unwrap();
                assert_eq!(tuples, 2000.0, "{step}: not analyzed before the swap");
                // COPY FREEZE sets the visibility map from PostgreSQL 14 on; on 13 the
                // rows are frozen but no page is marked all-visible.
                if common::server_version_num().await >= 140000 {
                    assert!(
                        pages > 0 && visible == pages,
                        "{step}: {visible} of {pages} pages all-visible"
                    );
                }
                let (bound, open): (i64, bool) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                             JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE n.nspname = '_side_acme' AND p.polname = 'tenantctl_tenant_bound'),
                            has_schema_privilege($1, '_side_acme', 'USAGE')",
                )
                .bind(&s.names.service_role)
                .fetch_one(&s.pool)
                .await
                .unwrap();
                assert!(bound > 0, "{step}: the side copy has no binding policy yet");
                assert!(!open, "{step}: the side copy is open to the service role");
                terminate(&s, pid).await;
                row.rollback().await.unwrap();
                false
            }
            "in the swap" => {
                // The swap renames, closes the kept copy and re-grants, then waits here to
                // write its log row.
                let mut log = s.pool.acquire().await.unwrap();
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(LOG_LOCK)
                    .execute(&mut *log)
                    .await
                    .unwrap();
                let pid = restore_waiting_on(&s, app, "Lock:advisory").await;
                let exclusive: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                     WHERE l.pid = $1 AND l.granted AND l.mode = 'ExclusiveLock'
                       AND c.relname = 'invoices'",
                )
                .bind(pid)
                .fetch_one(&s.pool)
                .await
                .unwrap();
                assert_eq!(
                    exclusive, 1,
                    "{step}: the swap has not locked the live tables"
                );
                // Nothing in the swap locks the restored tables: what needs their ACCESS
                // EXCLUSIVE lock (policies, RLS) was done before it.
                let side_locks: Vec<String> = sqlx::query_scalar(
                    "SELECT c.relname || ' ' || l.mode FROM pg_locks l
                     JOIN pg_class c ON c.oid = l.relation
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE l.pid = $1 AND n.nspname = '_side_acme'
                       AND l.mode <> 'AccessShareLock'",
                )
                .bind(pid)
                .fetch_all(&s.pool)
                .await
                .unwrap();
                assert_eq!(side_locks, Vec::<String>::new(), "{step}");
                terminate(&s, pid).await;
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(LOG_LOCK)
                    .execute(&mut *log)
                    .await
                    .unwrap();
                false
            }
            _ => unreachable!(),
        };
        let out = output.await.unwrap().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{step}: {stderr}");
        let said = if swapped {
            "tenant acme holds the backup's data"
        } else {
            "tenant acme still holds its previous data"
        };
        assert!(stderr.contains(said), "{step}: {stderr}");
        let now = checksums(&s, "tenant_acme").await;
        assert_eq!(
            now,
            if swapped { &backup_sums } else { &live_sums }.clone(),
            "{step}"
        );
        assert_eq!(
            backup::kept(&s, Some("acme")).await.unwrap().len(),
            usize::from(swapped),
            "{step}"
        );
        // A rerun clears what the dead connection left and finishes.
        let rerun = std::process::Command::new(common::bin())
            .args(["restore", "acme", path.to_str().unwrap(), "--yes"])
            .env("TENANTCTL_CONFIG", &config)
            .env("TENANTCTL_BACKUP_DIR", &dir)
            .env("PGPASSWORD", db.password())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            rerun.status.success(),
            "rerun {step}: {}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        assert_eq!(checksums(&s, "tenant_acme").await, backup_sums, "{step}");
        assert!(!schema_exists(&s, "_side_acme").await, "{step}");
        backup::release(&s, None).await.unwrap();
        sqlx::query("DELETE FROM tenant_acme.invoices WHERE id % 2 = 0")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(checksums(&s, "tenant_acme").await, live_sums);
    }
}

async fn terminate(s: &Session, pid: i32) {
    let ok: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert!(ok, "pg_terminate_backend({pid})");
}

#[tokio::test]
async fn a_restore_and_a_drop_then_restore_keep_the_tenants_template_pin() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 10).await;
    let v = tenantctl::catalog::tenant_row(&s, "acme")
        .await
        .unwrap()
        .unwrap()
        .template_version;
    tenantctl::tenant::pin(&s, "acme", Some(v)).await.unwrap();
    let path = dump(&s, &set, "acme").await;
    let m = backup::read_manifest(&path.with_extension("json")).unwrap();
    assert_eq!(m.registry.pinned_version, Some(v));
    // Unpinned since the dump: the in-place restore puts the backup's pin back.
    tenantctl::tenant::pin(&s, "acme", None).await.unwrap();
    let req = RestoreRequest {
        id: "acme".into(),
        backup: path.clone(),
        as_id: None,
        registry_from_backup: false,
    };
    backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
        .await
        .finished();
    let pin = |id: &'static str| {
        let s = &s;
        async move {
            tenantctl::catalog::tenant_row(s, id)
                .await
                .unwrap()
                .unwrap()
                .pinned_version
        }
    };
    assert_eq!(pin("acme").await, Some(v));
    // Beside: the copy is pinned like the backup.
    let beside = RestoreRequest {
        as_id: Some("acme2".into()),
        ..req.clone()
    };
    backup::restore(&s, &set, &beside, &chan(), &CancellationToken::new())
        .await
        .finished();
    assert_eq!(pin("acme2").await, Some(v));
    // Dropped and restored: pinned again.
    // The kept copy of the in-place restore stays: its policies naming the read-only role
    // must not stop the drop.
    assert_eq!(backup::kept(&s, Some("acme")).await.unwrap().len(), 1);
    let dropped = backup::drop_tenant(&s, &set, "acme", "acme", &chan(), &CancellationToken::new())
        .await
        .finished();
    backup::restore(
        &s,
        &set,
        &RestoreRequest {
            backup: dropped.backup,
            ..req
        },
        &chan(),
        &CancellationToken::new(),
    )
    .await
    .finished();
    assert_eq!(pin("acme").await, Some(v));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_restore_or_drop_names_the_steps_not_tried_and_leaves_the_tenant_whole() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    let set = settings(&db);
    tenant_with_data(&s, "acme", 3000).await;
    let path = dump(&s, &set, "acme").await;
    sqlx::query("DELETE FROM tenant_acme.invoices WHERE id % 2 = 0")
        .execute(&s.pool)
        .await
        .unwrap();
    let live = checksums(&s, "tenant_acme").await;
    // Cancelled once the side copy is being written (the scratch steps are done).
    let (tx, mut rx) = tenantctl::job::progress_channel::<backup::RestoreReport>();
    let cancel = CancellationToken::new();
    let watcher = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                if p.current.contains(backup::BackupStep::Restore.label()) {
                    cancel.cancel();
                }
            }
        })
    };
    let req = RestoreRequest {
        id: "acme".into(),
        backup: path.clone(),
        as_id: None,
        registry_from_backup: false,
    };
    let r = backup::restore(&s, &set, &req, &tx, &cancel).await.unwrap();
    drop(tx);
    watcher.await.unwrap();
    assert!(r.cancelled && r.done.is_empty(), "{r:?}");
    assert!(r.not_tried.iter().any(|s| s.ends_with("swapping")), "{r:?}");
    assert_eq!(checksums(&s, "tenant_acme").await, live);
    assert!(!schema_exists(&s, "_side_acme").await);
    assert!(backup::kept(&s, None).await.unwrap().is_empty());

    // A drop cancelled during its dump: the tenant stays, the drop is listed as not tried.
    let cancel = CancellationToken::new();
    let (tx, mut rx) = tenantctl::job::progress_channel::<backup::DropReport>();
    let watcher = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                if p.current.contains(backup::BackupStep::Dump.label()) {
                    cancel.cancel();
                }
            }
        })
    };
    let r = backup::drop_tenant(&s, &set, "acme", "acme", &tx, &cancel)
        .await
        .unwrap();
    drop(tx);
    watcher.await.unwrap();
    assert!(r.cancelled && r.done.is_empty(), "{r:?}");
    assert!(r.not_tried.iter().any(|s| s.ends_with("dropping")), "{r:?}");
    assert!(schema_exists(&s, "tenant_acme").await);
    assert_eq!(checksums(&s, "tenant_acme").await, live);
}

/// A folder whose pg_dump is the real one, and whose pg_restore runs `body` (REAL stands
/// for the real pg_restore) when it writes an archive's data section for tenantctl to
/// load, the real one otherwise.
fn wrapped_data_section(db: &TestDb, tools: &backup::Tools, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = db.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let real = tools.pg_restore.display().to_string();
    let script = format!(
        "#!/bin/bash\ncase \" $* \" in\n*' --data-only '*) {} ;;\n*) exec {real} \"$@\" ;;\nesac\n",
        body.replace("REAL", &real)
    );
    std::fs::write(dir.join("pg_restore"), script).unwrap();
    std::fs::set_permissions(
        dir.join("pg_restore"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let _ = std::os::unix::fs::symlink(&tools.pg_dump, dir.join("pg_dump"));
    dir
}

#[tokio::test]
async fn a_data_section_holding_more_than_rows_and_sequence_values_is_refused_and_nothing_of_it_runs()
 {
    let (db, s) = TestDb::bootstrapped().await;
    let tools = require_pg_dump!(s);
    tenant_with_data(&s, "acme", 100).await;
    let set = settings(&db);
    let path = dump(&s, &set, "acme").await;
    let before = checksums(&s, "tenant_acme").await;
    let names = ["tenant_acme".to_string()];
    // What a forged data section holds (a sed script over the real one), and what the
    // refusal says.
    let cases = [
        // A statement on the live tenant before the first rows: run, it would empty it.
        (
            r"0,/^COPY /s//TRUNCATE tenant_acme.invoices CASCADE;\nCOPY /",
            "an unexpected statement: TRUNCATE",
        ),
        // Rows aimed at another schema.
        (
            r"s/^COPY tenant_acme\.invoices /COPY tenant_other.invoices /",
            "a COPY that is not into a table of tenant_acme",
        ),
        // A large object.
        (
            r"0,/^COPY /s//SELECT pg_catalog.lo_create(4242);\nCOPY /",
            "an unexpected statement: SELECT pg_catalog.lo_create",
        ),
        // A sequence value for a sequence the restored schema does not have.
        (
            r"0,/^COPY /s//SELECT pg_catalog.setval('tenant_acme.nope_seq', 7, true);\nCOPY /",
            "tenant_acme.nope_seq, which is not a sequence of the restored schema",
        ),
        // One row of invoices missing.
        (
            r"/^COPY tenant_acme\.invoices /{n;d}",
            "where its manifest counts 100",
        ),
    ];
    for (i, (sed, says)) in cases.iter().enumerate() {
        let bin = wrapped_data_section(
            &db,
            &tools,
            &format!("bin-forged-{i}"),
            &format!("REAL \"$@\" | sed '{}'", sed.replace('\'', r"'\''")),
        );
        let forged = BackupSettings {
            dir: set.dir.clone(),
            pg_bin_dir: Some(bin),
        };
        for as_id in [None, Some("copy".to_string())] {
            let req = RestoreRequest {
                id: "acme".into(),
                backup: path.clone(),
                as_id: as_id.clone(),
                registry_from_backup: false,
            };
            let r = backup::restore(&s, &forged, &req, &chan(), &CancellationToken::new())
                .await
                .unwrap();
            assert!(!r.complete(), "{sed}: {r:?}");
            let text = format!("{r:?}");
            assert!(text.contains(says), "{sed}: {text}");
            let state = if as_id.is_some() {
                "tenant copy was not created"
            } else {
                "tenant acme still holds its previous data"
            };
            assert!(text.contains(state), "{sed}: {text}");
            assert_eq!(checksums(&s, "tenant_acme").await, before, "{sed}");
            assert!(backup::kept(&s, None).await.unwrap().is_empty(), "{sed}");
            assert!(!schema_exists(&s, "_side_acme").await, "{sed}");
            assert!(!schema_exists(&s, "_side_copy").await, "{sed}");
            assert!(!schema_exists(&s, "tenant_copy").await, "{sed}");
            let ids: Vec<String> = tenantctl::catalog::list_tenants(&s)
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.schema)
                .collect();
            assert_eq!(ids, names, "{sed}");
        }
    }
    // The same backup through the real pg_restore restores.
    restored(&s, &set, "acme", &path, Some("copy")).await;
    assert_eq!(checksums(&s, "tenant_copy").await, before);
}

/// The backend of application `app` once it sits in a COPY waiting for rows.
async fn restore_loading(s: &Session, app: &str) -> i32 {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1
               AND datname = current_database() AND query LIKE 'COPY %'
               AND wait_event = 'ClientRead'",
        )
        .bind(app)
        .fetch_optional(&s.pool)
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        assert!(
            std::time::Instant::now() < until,
            "the restore never loaded rows"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_restore_beside_connection_killed_while_loading_or_creating_leaves_no_tenant_and_a_rerun_finishes()
 {
    let (db, s) = TestDb::bootstrapped().await;
    let tools = require_pg_dump!(s);
    tenant_with_data(&s, "acme", 2000).await;
    let set = settings(&db);
    let path = dump(&s, &set, "acme").await;
    let live = checksums(&s, "tenant_acme").await;
    // The data section stops after its first COPY line until the test lets it go on.
    let go = db.dir.path().join("go");
    let stalled = wrapped_data_section(
        &db,
        &tools,
        "bin-stall",
        &format!(
            "REAL \"$@\" | {{ sed -u '/^COPY /q'; while [ ! -e {} ]; do sleep 0.05; done; cat; }}",
            go.display()
        ),
    );
    for (id, step) in [
        ("copy1", "loading the rows"),
        ("copy2", "creating the tenant"),
    ] {
        let _ = std::fs::remove_file(&go);
        let app = format!("tenantctl restore beside {id}");
        let mut log = s.pool.acquire().await.unwrap();
        let run_set = BackupSettings {
            dir: set.dir.clone(),
            pg_bin_dir: (step == "loading the rows").then(|| stalled.clone()),
        };
        if step == "creating the tenant" {
            // The create renames, registers and re-grants, then waits here for its log row.
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(LOG_LOCK)
                .execute(&mut *log)
                .await
                .unwrap();
        }
        let req = RestoreRequest {
            id: "acme".into(),
            backup: path.clone(),
            as_id: Some(id.into()),
            registry_from_backup: false,
        };
        let task = {
            let (s, req) = (s.clone(), req.clone());
            tokio::spawn(async move {
                backup::restore(&s, &run_set, &req, &chan(), &CancellationToken::new()).await
            })
        };
        let pid = if step == "loading the rows" {
            restore_loading(&s, &app).await
        } else {
            restore_waiting_on(&s, &app, "Lock:advisory").await
        };
        if step == "creating the tenant" {
            let registered: i64 = sqlx::query_scalar(
                &s.names
                    .template_vars()
                    .render("SELECT count(*) FROM {{registry}} WHERE id = $1")
                    .unwrap(),
            )
            .bind(id)
            .fetch_one(&s.pool)
            .await
            .unwrap();
            assert_eq!(
                registered, 0,
                "{step}: the registry row shows before the commit"
            );
        }
        terminate(&s, pid).await;
        std::fs::write(&go, b"").unwrap();
        sqlx::query("SELECT pg_advisory_unlock_all()")
            .execute(&mut *log)
            .await
            .unwrap();
        let r = task.await.unwrap().unwrap();
        assert!(!r.complete(), "{step}: {r:?}");
        let text = format!("{r:?}");
        assert!(
            text.contains(&format!("tenant {id} was not created")),
            "{step}: {text}"
        );
        let schema = format!("tenant_{id}");
        assert!(!schema_exists(&s, &schema).await, "{step}");
        let schemas: Vec<String> = tenantctl::catalog::list_tenants(&s)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.schema)
            .collect();
        assert!(
            schemas.contains(&"tenant_acme".to_string()) && !schemas.contains(&schema),
            "{step}: {schemas:?}"
        );
        assert_eq!(checksums(&s, "tenant_acme").await, live, "{step}");
        // A rerun clears what the dead connection left and finishes.
        let r = backup::restore(&s, &set, &req, &chan(), &CancellationToken::new())
            .await
            .unwrap();
        assert!(r.complete(), "rerun {step}: {r:?}");
        assert_eq!(checksums(&s, &schema).await, live, "{step}");
        assert!(!schema_exists(&s, &format!("_side_{id}")).await, "{step}");
        assert_eq!(checksums(&s, "tenant_acme").await, live, "{step}");
    }
}

#[tokio::test]
async fn rows_naming_tables_by_schema_point_into_the_restored_copy_not_the_live_tenant() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    tenant_with_data(&s, "acme", 10).await;
    let set = settings(&db);
    // regclass values are names resolved when loaded: loaded straight beside, they would
    // name the live tenant's tables (the kept copy's, after an in-place swap).
    sqlx::raw_sql(&format!(
        "CREATE TABLE tenant_acme.refs (r regclass);
         ALTER TABLE tenant_acme.refs OWNER TO {};
         INSERT INTO tenant_acme.refs VALUES ('tenant_acme.invoices')",
        s.names.admin_role
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let path = dump(&s, &set, "acme").await;
    for (as_id, schema) in [(Some("copy"), "tenant_copy"), (None, "tenant_acme")] {
        restored(&s, &set, "acme", &path, as_id).await;
        let named: String = sqlx::query_scalar(&format!("SELECT r::text FROM {schema}.refs"))
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(named, format!("{schema}.invoices"));
    }
}

#[tokio::test]
async fn a_tenant_with_a_partitioned_table_dumps_and_restores_its_rows() {
    let (db, s) = TestDb::bootstrapped().await;
    require_pg_dump!(s);
    tenant_with_data(&s, "acme", 10).await;
    let set = settings(&db);
    sqlx::raw_sql(&format!(
        "CREATE TABLE tenant_acme.events (id int, at date) PARTITION BY RANGE (at);
         CREATE TABLE tenant_acme.events_2026 PARTITION OF tenant_acme.events
             FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         ALTER TABLE tenant_acme.events OWNER TO {admin};
         ALTER TABLE tenant_acme.events_2026 OWNER TO {admin};
         INSERT INTO tenant_acme.events SELECT g, '2026-03-01' FROM generate_series(1, 7) g",
        admin = s.names.admin_role
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    // The archive has rows for the partition only; the manifest must not promise any for
    // the partitioned table itself.
    let path = dump(&s, &set, "acme").await;
    backup::verify(&set, &path, &CancellationToken::new())
        .await
        .unwrap();
    let before = checksums(&s, "tenant_acme").await;
    restored(&s, &set, "acme", &path, Some("copy")).await;
    assert_eq!(checksums(&s, "tenant_copy").await, before);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_copy.events")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(rows, 7);
}

#[tokio::test]
async fn an_archives_own_ddl_runs_in_the_scratch_database_never_in_the_live_one() {
    use std::os::unix::fs::PermissionsExt;
    let (db, s) = TestDb::bootstrapped().await;
    let tools = require_pg_dump!(s);
    tenant_with_data(&s, "acme", 50).await;
    let set = settings(&db);
    let path = dump(&s, &set, "acme").await;
    let before = checksums(&s, "tenant_acme").await;
    // A forged archive's schema section: a statement of its own among pg_restore's, in the
    // SQL tenantctl runs over its scratch connection (the archive's sections, not the
    // renamed copy's, which come from pg_dump).
    let bin = db.dir.path().join("bin-forged-ddl");
    std::fs::create_dir_all(&bin).unwrap();
    let real = tools.pg_restore.display();
    let script = format!(
        "#!/bin/bash\ncase \" $* \" in\n*' --section=pre-data --section=post-data '*'--file=- '*) {real} \"$@\" | sed '$i CREATE TABLE public.archive_ddl AS SELECT current_database()::text AS db;' ;;\n*) exec {real} \"$@\" ;;\nesac\n"
    );
    std::fs::write(bin.join("pg_restore"), script).unwrap();
    std::fs::set_permissions(
        bin.join("pg_restore"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let _ = std::os::unix::fs::symlink(&tools.pg_dump, bin.join("pg_dump"));
    let forged = BackupSettings {
        dir: set.dir.clone(),
        pg_bin_dir: Some(bin),
    };
    let mut scratch_conn = s.pool.acquire().await.unwrap();
    let scratch: String = sqlx::query_scalar(
        "SELECT 'tenantctl_scratch_' || oid::text FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(&mut *scratch_conn)
    .await
    .unwrap();
    drop(scratch_conn);
    let scratch_db = common::cluster()
        .superuser_spec(&scratch)
        .connect(1)
        .await
        .unwrap();
    for as_id in [None, Some("copy".to_string())] {
        let req = RestoreRequest {
            id: "acme".into(),
            backup: path.clone(),
            as_id: as_id.clone(),
            registry_from_backup: false,
        };
        backup::restore(&s, &forged, &req, &chan(), &CancellationToken::new())
            .await
            .finished();
        // It ran, in the scratch database only.
        let ran: Vec<String> = sqlx::query_scalar("SELECT db FROM public.archive_ddl")
            .fetch_all(&scratch_db)
            .await
            .unwrap();
        assert_eq!(ran, vec![scratch.clone()], "{as_id:?}");
        sqlx::query("DROP TABLE public.archive_ddl")
            .execute(&scratch_db)
            .await
            .unwrap();
        let live: Option<String> =
            sqlx::query_scalar("SELECT to_regclass('public.archive_ddl')::text")
                .fetch_one(&s.pool)
                .await
                .unwrap();
        assert_eq!(
            live, None,
            "{as_id:?}: the archive's DDL ran in the live database"
        );
    }
    assert_eq!(checksums(&s, "tenant_acme").await, before);
    assert_eq!(checksums(&s, "tenant_copy").await, before);
}
