use tenantctl::audit::acl::{Grantee, Privilege, parse_acl, parse_item};
use tenantctl::audit::finding::{Rule, finding_id};
use tenantctl::audit::members::{Memberships, chain_text};
use tenantctl::audit::snapshot::MemberGrant;

#[test]
fn acl_items_parse_with_public_quotes_and_grant_options() {
    let i = parse_item("=r/marvin").unwrap();
    assert_eq!(i.grantee, Grantee::Public);
    assert_eq!(i.privileges, vec![Privilege::Select]);
    let i = parse_item("\"odd \"\"name\"\"=x\"=r*a/\"the owner\"").unwrap();
    assert_eq!(i.grantee, Grantee::Role("odd \"name\"=x".into()));
    assert_eq!(i.privileges, vec![Privilege::Select, Privilege::Insert]);
    assert_eq!(i.grantable, vec![Privilege::Select]);
    assert_eq!(i.grantor, "the owner");
    // PostgreSQL 17's MAINTAIN letter.
    let i = parse_item("svc=arwdDxtm/marvin").unwrap();
    assert!(i.privileges.contains(&Privilege::Maintain));
    assert!(i.privileges.contains(&Privilege::Truncate));
}

#[test]
fn unreadable_acl_entries_are_kept_apart_not_dropped() {
    let (ok, bad) = parse_acl(&["a=r/b".into(), "a=?/b".into(), "broken".into()]);
    assert_eq!(ok.len(), 1);
    assert_eq!(bad.len(), 2);
}

fn grant(role: &str, member: &str, inherit: bool, set: bool) -> MemberGrant {
    MemberGrant {
        role: role.into(),
        member: member.into(),
        inherit,
        set,
        admin: false,
    }
}

#[test]
fn membership_closure_follows_chains_and_marks_set_role() {
    let m = Memberships::new(&[
        grant("hop", "ro_a", true, true),
        grant("ro_b", "hop", true, true),
        grant("marvin", "ro_b", false, true),
        grant("ghost", "ro_b", false, false),
    ]);
    let reach = m.reach("ro_a");
    let names: Vec<&str> = reach.iter().map(|r| r.role.as_str()).collect();
    assert_eq!(names, vec!["hop", "ro_b", "marvin"]);
    let ro_b = &reach[1];
    assert!(ro_b.inherited);
    assert_eq!(
        chain_text("ro_a", ro_b),
        "ro_a → member of hop → member of ro_b"
    );
    // Reached only by SET ROLE: said so; a grant with neither INHERIT nor SET gives nothing.
    assert!(!reach[2].inherited);
    assert!(chain_text("ro_a", &reach[2]).ends_with("(after SET ROLE)"));
    assert!(!names.contains(&"ghost"));
}

#[test]
fn membership_cycles_end() {
    let m = Memberships::new(&[grant("b", "a", true, true), grant("a", "b", true, true)]);
    assert_eq!(m.reach("a").len(), 1);
}

#[test]
fn finding_ids_depend_on_what_not_when() {
    let a = finding_id(
        Rule::Owner,
        Some("tenant_a"),
        Some("orders"),
        Some("svc"),
        "",
    );
    assert_eq!(
        a,
        finding_id(
            Rule::Owner,
            Some("tenant_a"),
            Some("orders"),
            Some("svc"),
            ""
        )
    );
    assert!(a.starts_with("owner-"));
    // Field boundaries count: ("ab","c") is not ("a","bc").
    assert_ne!(
        finding_id(Rule::Owner, Some("ab"), Some("c"), None, ""),
        finding_id(Rule::Owner, Some("a"), Some("bc"), None, "")
    );
}

/// The allocation-free binding check agrees with the text it stands for, quotes included,
/// and refuses near misses (another schema, a prefix of it, a widened literal).
#[test]
fn binding_check_matches_the_deparsed_text_exactly() {
    use tenantctl::audit::model::{binding_expression, is_binding_expression};
    for schema in ["tenant_a", "tenant_it's", "tenant_''", "'", ""] {
        assert!(
            is_binding_expression(&binding_expression(schema), schema),
            "{schema:?}"
        );
    }
    let a = binding_expression("tenant_a");
    assert!(!is_binding_expression(&a, "tenant_b"));
    assert!(!is_binding_expression(&a, "tenant_"));
    assert!(!is_binding_expression(&a, "tenant_ab"));
    assert!(!is_binding_expression(
        &binding_expression("tenant_a'"),
        "tenant_a"
    ));
    assert!(!is_binding_expression(
        &binding_expression("tenant_a"),
        "tenant_a'"
    ));
    assert!(!is_binding_expression(&format!("{a} OR true"), "tenant_a"));
    assert!(!is_binding_expression("true", "tenant_a"));
}
