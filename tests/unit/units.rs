//! Unit tests of `src/units.rs`.

use tenantctl::units::*;

#[test]
fn sizes_read_like_pg_size_pretty() {
    assert_eq!(human_bytes(0), "0 B");
    assert_eq!(human_bytes(1536), "1.5 kB");
    assert_eq!(human_bytes(8192 * 1024), "8.0 MB");
    assert_eq!(human_bytes(300 * 1024 * 1024), "300 MB");
    assert_eq!(human_count(1_234_567), "1.2M");
}

#[test]
fn fit_cuts_with_an_ellipsis_and_never_exceeds_the_width() {
    assert_eq!(fit("tenant", 10), "tenant");
    assert_eq!(fit("tenantctl", 5), "tena…");
    assert_eq!(fit("ação ünïcode", 4), "açã…");
    assert_eq!(fit("x", 0), "");
}
