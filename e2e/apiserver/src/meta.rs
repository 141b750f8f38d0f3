//! Server-filled metadata helpers: RFC 3339 timestamps, UIDs, human ages (reads the clock).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A civil date to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats Unix seconds as `2006-01-02T15:04:05Z`.
pub fn rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The current time as a Kubernetes `Time`.
pub fn now_rfc3339() -> String {
    rfc3339(unix_now())
}

/// Parses the leading `YYYY-MM-DDTHH:MM:SS` of an RFC 3339 UTC time into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.get(..19)?;
    let num = |r: std::ops::Range<usize>| b.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    Some(
        days_from_civil(y, u32::try_from(mo).ok()?, u32::try_from(d).ok()?) * 86_400
            + h * 3600
            + mi * 60
            + s,
    )
}

/// A short human duration like kubectl's AGE column (`45s`, `3m20s`, `5h`, `2d`).
pub fn human_age(secs: i64) -> String {
    if secs < 0 {
        return "<invalid>".to_string();
    }
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    match () {
        () if secs < 120 => format!("{secs}s"),
        () if m < 10 && secs % 60 != 0 => format!("{m}m{}s", secs % 60),
        () if m < 180 => format!("{m}m"),
        () if h < 8 && m % 60 != 0 => format!("{h}h{}m", m % 60),
        () if h < 48 => format!("{h}h"),
        () if d < 8 && h % 24 != 0 => format!("{d}d{}h", h % 24),
        () if d < 730 => format!("{d}d"),
        () => format!("{}y", d / 365),
    }
}

static UID_COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 random-looking bits (std's per-process random hasher keys, plus a counter).
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(UID_COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_i64(unix_now());
    h.finish()
}

/// A fresh version-4-shaped UUID.
pub fn new_uid() -> String {
    let (a, b) = (random_u64(), random_u64());
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Five lowercase alphanumerics for `generateName`.
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = random_u64();
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

#[cfg(test)]
#[path = "meta_tests.rs"]
mod tests;
