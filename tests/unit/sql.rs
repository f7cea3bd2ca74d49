//! Unit tests of `src/sql.rs`: the one `{{name}}` renderer, and every asset rendered.

use tenantctl::names::NamingPolicy;
use tenantctl::sql::{SqlVars, TemplateError};

#[test]
fn placeholders_are_filled_and_quoted() {
    let sql = SqlVars::new()
        .ident("schema", "tenant_acme")
        .ident("odd", "we\"ird")
        .literal("pw", "it's")
        .number("n", 7)
        .render("SET search_path = {{schema}}; {{ odd }} {{pw}} {{n}}")
        .unwrap();
    assert_eq!(
        sql,
        "SET search_path = \"tenant_acme\"; \"we\"\"ird\" 'it''s' 7"
    );
}

#[test]
fn an_unknown_or_unterminated_placeholder_is_an_error() {
    let vars = SqlVars::new();
    assert_eq!(
        vars.render("SELECT {{nope}}"),
        Err(TemplateError::Unknown("nope".into()))
    );
    assert_eq!(
        vars.render("SELECT 1; {{schema"),
        Err(TemplateError::Unterminated(10))
    );
    let mut vars = SqlVars::new();
    vars.ident("a", "x");
    assert_eq!(
        vars.render("{{a}} {{ {{a}}"),
        Err(TemplateError::Unterminated(6))
    );
}

/// Every file under `assets/`, rendered with the variables the code gives it.
#[test]
fn every_asset_renders_with_real_variables() {
    let names = NamingPolicy::default();
    let id = names.tenant_id("acme").unwrap();
    let mut vars = names.template_vars();
    vars.ident("schema", &names.schema_of(&id))
        .ident("ro", &names.readonly_role_of(&id))
        // The per-table binding (`template.rs` fills these for each table).
        .ident("table", "orders")
        .literal("schema_name", &names.schema_of(&id))
        // The restore scripts (`backup/restore.rs`).
        .literal("side", "_side_acme")
        .literal("kept", "_kept_acme_261129013000123")
        .literal("old_ro", &names.readonly_role_of(&id))
        .literal("new_ro", "tenant_acme2_ro")
        // The drop's script (`backup/deprovision.rs`).
        .literal("kept_prefix", "_kept_acme_")
        .literal("ro_name", &names.readonly_role_of(&id));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut stack = vec![root];
    let mut rendered = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let sql = vars
                .render(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!sql.contains("{{"), "{}", path.display());
            assert!(!sql.contains("}}"), "{}", path.display());
            rendered += 1;
        }
    }
    assert!(rendered >= 5, "only {rendered} assets found");
}

#[test]
fn lists_quote_every_name_so_a_hostile_one_stays_one_identifier() {
    let sql = SqlVars::new()
        .ident_list("kept", &["_kept_a", "x\"; DROP TABLE t; --"])
        .qualified_list("tables", "tenant_a", &["orders", "Odd\"Name"])
        .render("DROP SCHEMA {{kept}} CASCADE; LOCK TABLE {{tables}}")
        .unwrap();
    assert_eq!(
        sql,
        r#"DROP SCHEMA "_kept_a", "x""; DROP TABLE t; --" CASCADE; LOCK TABLE "tenant_a"."orders", "tenant_a"."Odd""Name""#
    );
}
