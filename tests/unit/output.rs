//! Unit tests of `src/cli/output.rs`.

use tenantctl::cli::output::*;

#[test]
fn long_names_are_cut_to_fit_80_columns() {
    let mut t = Table::new(&[
        ("ID", Align::Left),
        ("NAME", Align::Left),
        ("SIZE", Align::Right),
    ]);
    t.row(vec!["acme".into(), "x".repeat(120), "8.0 MB".into()]);
    let text = t.render(80);
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    assert!(text.contains('…'));
    assert!(text.lines().nth(1).unwrap().ends_with("8.0 MB"));
}
