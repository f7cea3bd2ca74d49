//! TLS against a real server with certificates from a test CA made by openssl here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, cluster};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use tenantctl::connect::ConnectionSpec;
use tenantctl::session::Session;
use tenantctl::tls::TlsState;

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate it signed (valid for the name localhost only), another CA,
/// and a self-signed X.509 version 1 certificate.
fn make_certs(dir: &Path) {
    for ca in ["ca", "other_ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
                "-subj",
                &format!("/CN=tenantctl test {ca}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.crt",
            "-extfile",
            "ext.cnf",
        ],
    );
    // As `CREATE EXTENSION citus` leaves it: self-signed, version 1, no extensions.
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-signkey",
            "server.key",
            "-days",
            "2",
            "-out",
            "v1.crt",
        ],
    );
}

/// Points the server at `cert` (key server.key) and turns ssl on.
async fn serve(s: &Session, dir: &Path, cert: &str) {
    let owner = std::fs::metadata(cluster().root()).unwrap();
    for f in [cert, "server.key"] {
        let p = dir.join(f);
        std::os::unix::fs::chown(&p, Some(owner.uid()), Some(owner.gid())).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
    let crt = dir.join(cert).display().to_string();
    let key = dir.join("server.key").display().to_string();
    for sql in [
        "ALTER SYSTEM SET ssl = on".to_string(),
        format!("ALTER SYSTEM SET ssl_cert_file = '{crt}'"),
        format!("ALTER SYSTEM SET ssl_key_file = '{key}'"),
        "SELECT pg_reload_conf()".to_string(),
    ] {
        sqlx::query(&sql).execute(&s.pool).await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
}

fn spec(db: &TestDb, host: &str, sslmode: &str, root: Option<PathBuf>) -> ConnectionSpec {
    let mut spec = db.superuser_spec();
    spec.host = host.into();
    spec.sslmode = sslmode.into();
    spec.sslrootcert = root;
    spec
}

async fn open(spec: ConnectionSpec, db: &TestDb) -> Result<Session, String> {
    Session::open(spec, db.names.clone(), std::time::Duration::from_secs(2), 2)
        .await
        .map_err(|e| e.to_string())
}

/// The server's own view: is this session encrypted?
async fn encrypted(s: &Session) -> bool {
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&s.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn tls_follows_libpq_rules() {
    let db = TestDb::new().await;
    let admin = db.superuser_session().await;
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    make_certs(dir);
    let ca = Some(dir.join("ca.crt"));
    let other = Some(dir.join("other_ca.crt"));
    serve(&admin, dir, "server.crt").await;

    // verify-full, right CA, right name: verified, and the server agrees it is encrypted.
    let s = open(spec(&db, "localhost", "verify-full", ca.clone()), &db)
        .await
        .unwrap();
    assert_eq!(s.tls, TlsState::Verified);
    assert!(encrypted(&s).await);
    // Pool connections beyond the first go through TLS too.
    let (a, b) = tokio::join!(encrypted(&s), encrypted(&s));
    assert!(a && b);

    // Wrong CA: refused, saying so.
    let err = open(spec(&db, "localhost", "verify-full", other.clone()), &db)
        .await
        .unwrap_err();
    assert!(err.contains("not issued by the CA"), "{err}");
    // Wrong host name (the certificate names localhost only): refused by verify-full...
    let err = open(spec(&db, "127.0.0.1", "verify-full", ca.clone()), &db)
        .await
        .unwrap_err();
    assert!(err.contains("not valid for host"), "{err}");
    // ... and accepted by verify-ca, which checks the chain only.
    let s = open(spec(&db, "127.0.0.1", "verify-ca", ca.clone()), &db)
        .await
        .unwrap();
    assert_eq!(s.tls, TlsState::Verified);
    // Publicly trusted roots only: the test CA is not among them, so refused.
    let err = open(
        spec(&db, "localhost", "verify-full", Some("system".into())),
        &db,
    )
    .await
    .unwrap_err();
    assert!(err.contains("TLS refused"), "{err}");
    // require with a root file verifies the chain, as libpq does.
    let err = open(spec(&db, "localhost", "require", other.clone()), &db)
        .await
        .unwrap_err();
    assert!(err.contains("not issued by the CA"), "{err}");
    let s = open(spec(&db, "localhost", "require", ca.clone()), &db)
        .await
        .unwrap();
    assert_eq!(s.tls, TlsState::Verified);
    // require without one encrypts without verifying; so does prefer.
    for mode in ["require", "prefer"] {
        let s = open(spec(&db, "127.0.0.1", mode, None), &db).await.unwrap();
        assert_eq!(s.tls, TlsState::EncryptedUnverified, "{mode}");
        assert!(encrypted(&s).await, "{mode}");
    }

    // A version 1 certificate: prefer falls back to plain text as libpq does; require
    // says why in one line.
    serve(&admin, dir, "v1.crt").await;
    let s = open(spec(&db, "127.0.0.1", "prefer", None), &db)
        .await
        .unwrap();
    assert_eq!(s.tls, TlsState::Off);
    assert!(!encrypted(&s).await);
    let err = open(spec(&db, "127.0.0.1", "require", None), &db)
        .await
        .unwrap_err();
    assert!(err.contains("X.509 version 1"), "{err}");
    assert!(!err.contains('\n'), "{err}");

    for sql in ["ALTER SYSTEM RESET ssl", "SELECT pg_reload_conf()"] {
        sqlx::query(sql).execute(&admin.pool).await.unwrap();
    }
}
