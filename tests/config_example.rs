//! The shipped example config parses, so the documentation cannot rot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn example_config_parses_and_documents_every_naming_key() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = tenantctl::config::Config::parse(&text, &path).unwrap();
    assert_eq!(config.naming, tenantctl::names::NamingPolicy::default());
    assert!(config.profiles["prod"].read_only);
    assert_eq!(config.default_profile.as_deref(), Some("prod"));
}
