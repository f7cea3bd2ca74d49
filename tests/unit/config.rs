//! Unit tests of `src/config.rs`.

use std::path::Path;
use tenantctl::config::*;

#[test]
fn malformed_file_reports_line_and_column() {
    let text = "default_profile = \"x\"\n[profiles.x]\nport = \"five\"\n";
    let err = Config::parse(text, Path::new("/etc/t.toml")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/etc/t.toml, line 3, column 8"), "{msg}");
    assert!(msg.contains("u16") || msg.contains("integer"), "{msg}");
}

#[test]
fn unknown_key_is_refused_with_its_name() {
    let err = Config::parse("[profiles.a]\nhots = \"db\"\n", Path::new("c.toml")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line 2") && msg.contains("hots"), "{msg}");
}

#[test]
fn naming_policy_is_validated() {
    let err =
        Config::parse("[naming]\nadmin_role = \"Bad Name\"\n", Path::new("c.toml")).unwrap_err();
    assert!(err.to_string().contains("admin_role"), "{err}");
}

#[test]
fn profile_selection_falls_back_to_default_profile() {
    let config = Config::parse(
        "default_profile = \"prod\"\n[profiles.prod]\nhost = \"db1\"\n[profiles.dev]\nhost = \"db2\"\n",
        Path::new("c.toml"),
    )
    .unwrap();
    let loaded = LoadedConfig {
        config,
        source: ConfigSource::File("c.toml".into()),
    };
    assert_eq!(loaded.profile(None).unwrap().host.as_deref(), Some("db1"));
    assert_eq!(
        loaded.profile(Some("dev")).unwrap().host.as_deref(),
        Some("db2")
    );
    let err = loaded.profile(Some("nope")).unwrap_err().to_string();
    assert!(err.contains("dev, prod"), "{err}");
}
