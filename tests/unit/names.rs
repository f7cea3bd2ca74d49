//! Unit tests of `src/names.rs`.

use tenantctl::names::*;

#[test]
fn quote_ident_doubles_quotes() {
    assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
    assert_eq!(quote_ident("tenant_x"), r#""tenant_x""#);
}

#[test]
fn quote_literal_doubles_single_quotes() {
    assert_eq!(quote_literal("it's"), "'it''s'");
}

#[test]
fn tenant_id_rejects_everything_but_slugs() {
    let policy = NamingPolicy::default();
    for bad in [
        "", "Acme", "a b", "a'b", "a\"b", "1abc", "_abc", "ação", "a-b", "a;drop",
    ] {
        let err = policy.tenant_id(bad).unwrap_err();
        assert!(
            err.to_string().contains("lowercase letter first") || bad.is_empty(),
            "{bad}: {err}"
        );
    }
    assert!(policy.tenant_id("acme_2").is_ok());
}

#[test]
fn tenant_id_length_keeps_derived_names_within_63_bytes() {
    let policy = NamingPolicy::default();
    let max = policy.max_tenant_id_len();
    let longest = "a".repeat(max);
    let id = policy.tenant_id(&longest).unwrap();
    assert!(policy.schema_of(&id).len() + DERIVED_SUFFIX_BYTES <= MAX_IDENT_BYTES);
    assert!(policy.readonly_role_of(&id).len() <= MAX_IDENT_BYTES);
    let err = policy.tenant_id(&"a".repeat(max + 1)).unwrap_err();
    assert!(err.to_string().contains(&format!("1 to {max} characters")));
}

#[test]
fn policy_rejects_missing_id_placeholder_and_shared_roles() {
    let mut p = NamingPolicy {
        readonly_role_pattern: "ro".into(),
        ..NamingPolicy::default()
    };
    assert!(p.validate().is_err());
    p = NamingPolicy {
        service_role: "marvin".into(),
        ..NamingPolicy::default()
    };
    assert!(p.validate().unwrap_err().to_string().contains("two roles"));
    assert!(NamingPolicy::default().validate().is_ok());
}

#[test]
fn render_fills_placeholders_and_refuses_unknown_ones() {
    let vars = NamingPolicy::default().template_vars();
    let sql = vars
        .render("CREATE SCHEMA {{commons}} AUTHORIZATION {{ admin }};")
        .unwrap();
    assert_eq!(sql, r#"CREATE SCHEMA "commons" AUTHORIZATION "marvin";"#);
    assert!(vars.render("{{nope}}").is_err());
}
