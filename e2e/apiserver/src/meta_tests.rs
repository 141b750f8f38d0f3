//! Unit tests of `meta`.

use super::*;

#[test]
fn timestamps_round_trip() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
    assert_eq!(parse_rfc3339("2024-02-29T23:59:59Z"), Some(1_709_251_199));
    assert_eq!(
        parse_rfc3339("2024-02-29T23:59:59.123456Z"),
        Some(1_709_251_199)
    );
}

#[test]
fn ages_look_like_kubectl() {
    assert_eq!(human_age(5), "5s");
    assert_eq!(human_age(200), "3m20s");
    assert_eq!(human_age(3600 * 5), "5h");
    assert_eq!(human_age(86_400 * 3), "3d");
}

#[test]
fn uids_are_distinct_and_shaped() {
    let (a, b) = (new_uid(), new_uid());
    assert_ne!(a, b);
    assert_eq!(a.len(), 36);
    assert_eq!(name_suffix().len(), 5);
}
