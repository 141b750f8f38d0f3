//! List paging (`limit` and `continue`), as kube-apiserver pages: items in key order, a
//! `continue` token naming the list's resourceVersion and the last key served, and every page
//! carrying the first page's resourceVersion (a watch from it replays what changed since).
//! Unlike etcd, later pages show objects as they are now, not as of that resourceVersion. Pure.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// One page of a list: its items, its resourceVersion, and the token of the next page (with
/// the count of items after this page) when there is one.
#[derive(Debug, PartialEq)]
pub struct Page {
    /// The items of this page.
    pub items: Vec<Value>,
    /// The list's resourceVersion (the first page's, for later pages).
    pub rv: u64,
    /// The `continue` token and `remainingItemCount`, when more items follow.
    pub next: Option<(String, usize)>,
}

/// An object's list key, (namespace, name), ordered as the store orders it ("" namespace when
/// cluster-scoped); written `namespace/name` in a token (a namespace has no `/`).
fn key_of(o: &Value) -> (&str, &str) {
    let s = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or_default();
    (s("/metadata/namespace"), s("/metadata/name"))
}

/// Pages `items` (in key order, as the store lists them) at resourceVersion `rv`, copying only
/// the page's items. `limit` 0 or absent: everything. A `continue` token that is not one this
/// server made is a 400.
pub fn page<'a>(
    items: impl Iterator<Item = &'a Value>,
    rv: u64,
    limit: Option<&str>,
    token: Option<&str>,
) -> ApiResult<Page> {
    let limit = match limit {
        None => 0,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
    };
    let (rv, after) = match token {
        None => (rv, None),
        Some(t) => {
            let bad = || ApiError::bad_request(format!("invalid continue token {t:?}"));
            let (r, k) = t.split_once(':').ok_or_else(bad)?;
            let (ns, name) = k.split_once('/').ok_or_else(bad)?;
            let rv = r.parse::<u64>().map_err(|_| bad())?;
            (rv, Some((ns, name)))
        }
    };
    let mut page = Vec::new();
    let mut rest = 0;
    for o in items.filter(|o| after.is_none_or(|k| key_of(o) > k)) {
        if limit == 0 || page.len() < limit {
            page.push(o.clone());
        } else {
            rest += 1;
        }
    }
    let next = (rest > 0).then(|| {
        let (ns, name) = page.last().map(key_of).unwrap_or_default();
        (format!("{rv}:{ns}/{name}"), rest)
    });
    Ok(Page {
        items: page,
        rv,
        next,
    })
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
