//! Unit tests of `src/connect.rs`.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use tenantctl::config::Profile;
use tenantctl::connect::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

#[test]
fn dsn_beats_profile_beats_environment() {
    let env = env_of(&[
        ("PGHOST", "envhost"),
        ("PGPORT", "6000"),
        ("PGUSER", "envuser"),
        ("PGDATABASE", "envdb"),
        ("PGAPPNAME", "envapp"),
    ]);
    let profile = Profile {
        host: Some("profhost".into()),
        user: Some("profuser".into()),
        ..Profile::default()
    };
    let s = resolve(
        Some("postgres://dsnuser@dsnhost/dsndb"),
        &profile,
        false,
        &env,
    )
    .unwrap();
    assert_eq!(
        (s.host.as_str(), s.port, s.user.as_str(), s.dbname.as_str()),
        ("dsnhost", 6000, "dsnuser", "dsndb")
    );
    let s = resolve(None, &profile, false, &env).unwrap();
    assert_eq!(
        (s.host.as_str(), s.user.as_str(), s.dbname.as_str()),
        ("profhost", "profuser", "envdb")
    );
    assert_eq!(s.application_name, "envapp");
    let s = resolve(None, &Profile::default(), false, &env).unwrap();
    assert_eq!((s.host.as_str(), s.user.as_str()), ("envhost", "envuser"));
}

#[test]
fn defaults_follow_libpq() {
    let env = env_of(&[("PGUSER", "alice")]);
    let s = resolve(None, &Profile::default(), false, &env).unwrap();
    assert_eq!(s.port, 5432);
    assert_eq!(s.dbname, "alice");
    assert!(s.host.starts_with('/'));
    assert_eq!(s.sslmode, "prefer");
    assert_eq!(s.application_name, DEFAULT_APPLICATION_NAME);
}

#[test]
fn password_order_is_dsn_then_env_then_pgpass() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pgpass");
    std::fs::write(
        &pass,
        "# comment\nother:*:*:*:nope\ndb1:5432:*:bob:from\\:file\n",
    )
    .unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let passfile = pass.to_str().unwrap();

    let env = env_of(&[("PGPASSFILE", passfile), ("PGPASSWORD", "fromenv")]);
    let s = resolve(
        Some("postgres://bob:fromdsn@db1/x"),
        &Profile::default(),
        false,
        &env,
    )
    .unwrap();
    assert_eq!(s.password.unwrap().expose(), "fromdsn");
    assert_eq!(s.password_source, PasswordSource::Dsn);

    let s = resolve(
        Some("postgres://bob@db1/x"),
        &Profile::default(),
        false,
        &env,
    )
    .unwrap();
    assert_eq!(s.password_source, PasswordSource::Environment);

    let env = env_of(&[("PGPASSFILE", passfile)]);
    let s = resolve(
        Some("postgres://bob@db1/x"),
        &Profile::default(),
        false,
        &env,
    )
    .unwrap();
    assert_eq!(s.password.unwrap().expose(), "from:file");
    assert_eq!(s.password_source, PasswordSource::PassFile(pass.clone()));

    let s = resolve(
        Some("postgres://carol@db1/x"),
        &Profile::default(),
        false,
        &env,
    )
    .unwrap();
    assert!(s.password.is_none());
}

#[test]
fn loose_pgpass_is_ignored_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pgpass");
    std::fs::write(&pass, "*:*:*:*:secret\n").unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let env = env_of(&[("PGPASSFILE", pass.to_str().unwrap())]);
    let s = resolve(Some("postgres://u@h/d"), &Profile::default(), false, &env).unwrap();
    assert!(s.password.is_none());
    assert!(s.warnings[0].contains("chmod 0600"), "{:?}", s.warnings);
}

#[test]
fn password_command_is_used_and_its_failure_explained() {
    let profile = Profile {
        password_command: Some("printf 'pw-from-vault\\n'".into()),
        ..Profile::default()
    };
    let env = env_of(&[("PGPASSWORD", "ignored")]);
    let s = resolve(None, &profile, false, &env).unwrap();
    assert_eq!(s.password.unwrap().expose(), "pw-from-vault");
    let profile = Profile {
        password_command: Some("echo vault locked >&2; exit 3".into()),
        ..Profile::default()
    };
    let err = resolve(None, &profile, false, &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("vault locked"), "{err}");
}

#[test]
fn bad_dsn_and_sslmode_are_refused() {
    let env = env_of(&[]);
    assert!(matches!(
        resolve(Some("mysql://x@y/z"), &Profile::default(), false, &env),
        Err(ConnectError::BadDsn(_))
    ));
    assert!(matches!(
        resolve(
            Some("postgres://x@y/z?sslmode=maybe"),
            &Profile::default(),
            false,
            &env
        ),
        Err(ConnectError::BadSetting(_))
    ));
}

#[test]
fn secrets_do_not_show_in_debug() {
    let s = resolve(
        Some("postgres://u:hunter2@h/d"),
        &Profile::default(),
        false,
        &env_of(&[]),
    )
    .unwrap();
    assert!(!format!("{s:?}").contains("hunter2"));
    assert_eq!(s.target(), "u@h:5432/d");
}

#[test]
fn dsn_userinfo_and_path_keep_plus_and_decode_percent() {
    let s = resolve(
        Some("postgres://app+ro:p%40ss+w@db/sales%2Beu"),
        &Profile::default(),
        false,
        &env_of(&[]),
    )
    .unwrap();
    assert_eq!(s.user, "app+ro");
    assert_eq!(s.password.unwrap().expose(), "p@ss+w");
    assert_eq!(s.dbname, "sales+eu");
}

#[test]
fn sslrootcert_system_defaults_to_verify_full_as_libpq() {
    let p = Profile::default();
    let env = env_of(&[("PGSSLROOTCERT", "system")]);
    let s = resolve(None, &p, false, &env).unwrap();
    assert_eq!(s.sslmode, "verify-full");
    let s = resolve(Some("postgres://u@h/d?sslmode=require"), &p, false, &env).unwrap();
    assert_eq!(s.sslmode, "require");
}
