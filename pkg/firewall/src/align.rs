//! Minimal edit of an ordered rule list: which current rules to keep (a longest common
//! subsequence with the planned list). Pure.

use std::collections::HashMap;

/// Above this many DP cells, a greedy in-order match is used instead of the exact LCS.
const MAX_CELLS: usize = 4_000_000;

/// For each current rule, `Some(j)` when it stays as planned rule `j`, `None` when it goes.
///
/// Kept rules form a common subsequence of both lists. When a rule text occurs more than once
/// and the copies to delete are not its first occurrences (`-D <spec>` deletes the first), every
/// copy of that text is dropped so that deleting by spec always yields the kept order.
#[must_use]
pub fn align(current: &[&str], planned: &[&str]) -> Vec<Option<usize>> {
    let (n, m) = (current.len(), planned.len());
    let mut keep = vec![None; n];
    let mut pre = 0;
    while pre < n && pre < m && current[pre] == planned[pre] {
        keep[pre] = Some(pre);
        pre += 1;
    }
    let mut suf = 0;
    while suf < n - pre && suf < m - pre && current[n - 1 - suf] == planned[m - 1 - suf] {
        keep[n - 1 - suf] = Some(m - 1 - suf);
        suf += 1;
    }
    for (i, j) in lcs_pairs(&current[pre..n - suf], &planned[pre..m - suf]) {
        keep[pre + i] = Some(pre + j);
    }
    fix_duplicates(current, &mut keep);
    keep
}

/// Matched index pairs of a longest common subsequence.
fn lcs_pairs(c: &[&str], p: &[&str]) -> Vec<(usize, usize)> {
    let (n, m) = (c.len(), p.len());
    if n == 0 || m == 0 {
        return Vec::new();
    }
    if n.saturating_mul(m) > MAX_CELLS {
        return greedy(c, p);
    }
    let w = m + 1;
    let mut dp = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            dp[i * w + j] = if c[i] == p[j] {
                dp[(i + 1) * w + j + 1] + 1
            } else {
                dp[(i + 1) * w + j].max(dp[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if c[i] == p[j] {
            out.push((i, j));
            i += 1;
            j += 1;
        } else if dp[(i + 1) * w + j] >= dp[i * w + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// An in-order match, not necessarily the longest (huge owned chains only).
fn greedy(c: &[&str], p: &[&str]) -> Vec<(usize, usize)> {
    let (mut j, mut out) = (0, Vec::new());
    for (i, rule) in c.iter().enumerate() {
        if let Some(k) = p[j..].iter().position(|x| x == rule) {
            out.push((i, j + k));
            j += k + 1;
        }
    }
    out
}

fn fix_duplicates(current: &[&str], keep: &mut [Option<usize>]) {
    let mut occurrences: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, rule) in current.iter().enumerate() {
        occurrences.entry(rule).or_default().push(i);
    }
    for idx in occurrences.values().filter(|v| v.len() > 1) {
        let dropped = idx.iter().filter(|i| keep[**i].is_none()).count();
        if idx[..dropped].iter().any(|i| keep[*i].is_some()) {
            for i in idx {
                keep[*i] = None;
            }
        }
    }
}

#[cfg(test)]
#[path = "align_tests.rs"]
mod tests;
