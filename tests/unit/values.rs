use tenantctl::tenant::parse_pairs;

#[test]
fn a_malformed_typed_pair_is_refused_without_repeating_it() {
    // A password typed with ':' instead of '=' must not come back on screen.
    for line in [
        "plan=team password:hunter2",
        "password=\"hunter2",
        "note=x password=hunter2\\",
    ] {
        let err = parse_pairs(line).unwrap_err();
        assert!(!err.contains("hunter2"), "{line:?} echoed: {err}");
    }
    assert_eq!(
        parse_pairs("plan=team password:hunter2").unwrap_err(),
        "pair 2 is not KEY=VALUE (not shown, in case it is a secret); separate pairs with spaces, quote values that hold spaces"
    );
}
