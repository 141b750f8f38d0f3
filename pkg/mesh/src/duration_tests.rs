//! Unit tests of `duration`: expected values from Go's `time.ParseDuration` documentation and
//! behaviour.

use std::time::Duration;

use super::parse_duration;

#[test]
fn go_forms_and_plain_seconds() {
    let cases = [
        ("30s", Duration::from_secs(30)),
        ("1m30s", Duration::from_secs(90)),
        ("500ms", Duration::from_millis(500)),
        ("2h", Duration::from_secs(7200)),
        ("1.5h", Duration::from_secs(5400)),
        ("2h45m", Duration::from_secs(9900)),
        ("1h2m3s4ms", Duration::from_millis(3_723_004)),
        ("300us", Duration::from_micros(300)),
        ("300µs", Duration::from_micros(300)),
        ("300μs", Duration::from_micros(300)),
        ("7ns", Duration::from_nanos(7)),
        (".5s", Duration::from_millis(500)),
        ("1.s", Duration::from_secs(1)),
        ("+5s", Duration::from_secs(5)),
        ("0s", Duration::ZERO),
        ("0", Duration::ZERO),
        ("45", Duration::from_secs(45)),
    ];
    for (s, want) in cases {
        assert_eq!(parse_duration(s), Ok(want), "{s}");
    }
}

#[test]
fn what_go_refuses_is_refused() {
    let cases = [
        ("", "empty"),
        ("-1s", "negative"),
        ("1x", "unknown unit"),
        ("1d", "unknown unit"),
        ("s", "expected a number"),
        (".s", "expected a number"),
        ("1.0", "missing unit"),
        ("1m 30s", "expected a number"),
        ("1.5", "missing unit"),
        ("1h30", "missing unit"),
        (" 1s", "expected a number"),
    ];
    for (s, why) in cases {
        assert_eq!(
            parse_duration(s),
            Err(format!(
                "invalid duration {s:?} ({why}); want a Go duration such as 1m30s, 500ms or 2h"
            )),
            "{s}"
        );
    }
    assert_eq!(
        parse_duration("99999999999999999999"),
        Err("invalid duration \"99999999999999999999\": too large".to_owned())
    );
    assert!(parse_duration("99999999999999999999h").is_err());
}
