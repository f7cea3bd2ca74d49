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

#[test]
fn example_config_keys_are_accepted_and_name_real_commands() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = tenantctl::config::Config::parse(&text, &path).unwrap();
    assert!(!config.key_entries.is_empty(), "the example shows [keys]");
    let keys = tenantctl::config::KeyConfig {
        path: path.display().to_string(),
        entries: config.key_entries,
    };
    tenantctl::tui::keymap::Keymap::from_config(&keys).unwrap();
    // Every command id is documented, as a word of its own.
    let words: std::collections::HashSet<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    for c in tenantctl::tui::keymap::COMMANDS {
        assert!(
            words.contains(c.name),
            "{} is not in config.example.toml",
            c.name
        );
    }
}
