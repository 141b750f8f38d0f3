//! Duration flags as Go's `time.ParseDuration` takes them (what Kilo's flags and manifests
//! say): a sequence of decimal numbers with units `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m`, `h`
//! (`30s`, `1m30s`, `1.5h`, `300us`), or `0`; plus plain seconds (`45`) as older kilo-rs
//! manifests wrote them. Nothing Go refuses is taken (no spaces, no `d`). Pure.

use std::time::Duration;

/// Units by suffix, longest first so `ms` wins over `m` and `s`.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

const HINT: &str = "want a Go duration such as 1m30s, 500ms or 2h";

/// Parses a duration flag (see the module docs).
///
/// # Errors
/// Not a Go duration nor plain seconds, negative, or beyond `u64` seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration {s:?} ({why}); {HINT}");
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("invalid duration {s:?}: too large"));
    }
    let rest = s.strip_prefix('+').unwrap_or(s);
    if rest.starts_with('-') {
        return Err(bad("negative"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    let mut total: u128 = 0;
    let mut rest = rest;
    while !rest.is_empty() {
        let (nanos, after) = term(rest).map_err(&bad)?;
        total = total.checked_add(nanos).ok_or_else(|| bad("too large"))?;
        rest = after;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad("too large"))?;
    let sub = u32::try_from(total % 1_000_000_000).map_err(|_| bad("too large"))?;
    Ok(Duration::new(secs, sub))
}

/// One `<number><unit>` at the start of `s`: its nanoseconds and what follows.
fn term(s: &str) -> Result<(u128, &str), &'static str> {
    let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (int, after_int) = s.split_at(int_len);
    let (frac, after) = match after_int.strip_prefix('.') {
        Some(f) => {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            f.split_at(n)
        }
        None => ("", after_int),
    };
    if int.is_empty() && frac.is_empty() {
        return Err("expected a number");
    }
    let (unit, scale) = UNITS
        .iter()
        .filter(|(u, _)| after.starts_with(u))
        .max_by_key(|(u, _)| u.len())
        .ok_or(if after.is_empty() {
            "missing unit"
        } else {
            "unknown unit"
        })?;
    let whole: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| "too large")?
    };
    let mut nanos = whole.checked_mul(*scale).ok_or("too large")?;
    // the fraction, digit by digit, as exactly as the unit allows (Go rounds down too)
    let mut place = *scale;
    for d in frac.bytes() {
        place /= 10;
        nanos += u128::from(d - b'0') * place;
    }
    Ok((nanos, &after[unit.len()..]))
}

#[cfg(test)]
#[path = "duration_tests.rs"]
mod tests;
