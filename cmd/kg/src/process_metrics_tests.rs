//! Unit tests of `process_metrics`: the `/proc` parsers on literal file contents, and the
//! exposition of the live process.

use super::*;

/// `/proc/self/stat` of a process whose command name holds a space and a parenthesis.
const STAT: &str = "4242 (kg (test) x) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 50 0 0 20 0 \
                    3 0 123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 \
                    1 0 0 0 0 0\n";

#[test]
fn parses_stat_after_the_command_name() {
    assert_eq!(
        parse_stat(STAT),
        Some(Stat {
            utime: 250,
            stime: 50,
            starttime: 123_456,
            vsize: 104_857_600,
            rss_pages: 2560,
        })
    );
    assert_eq!(parse_stat("4242 (kg) S 1 2"), None);
    assert_eq!(parse_stat("no parenthesis"), None);
}

#[test]
fn parses_btime_and_limits() {
    assert_eq!(
        parse_btime("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"),
        Some(1_700_000_000)
    );
    assert_eq!(parse_btime("cpu 1\n"), None);
    let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                  Max cpu time              unlimited            unlimited            seconds   \n\
                  Max open files            1024                 524288               files     \n";
    assert_eq!(parse_max_fds(limits), Some(1024));
    assert_eq!(
        parse_max_fds(
            "Max open files            unlimited            unlimited            files\n"
        ),
        None
    );
}

#[test]
fn samples_in_seconds_and_bytes() {
    let s = sample(&parse_stat(STAT).unwrap(), Some(1_700_000_000), 100, 4096);
    assert_eq!(s.cpu_seconds, 3.0);
    assert_eq!(s.resident_bytes, 10_485_760);
    assert_eq!(s.virtual_bytes, 104_857_600);
    assert_eq!(s.start_time_seconds, Some(1_700_001_234.56));
}

#[test]
fn the_live_process_exposes_every_metric() {
    let mut registry = Registry::default();
    register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(
        names,
        [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ],
        "{text}"
    );
    assert!(
        text.contains("# TYPE process_cpu_seconds counter\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE process_open_fds gauge\n"), "{text}");
}
