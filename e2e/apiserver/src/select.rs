//! Label and field selectors, parsed from query strings and matched against objects (no I/O).

use serde_json::Value;

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

/// A conjunction of requirements; the empty selector matches everything.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    requirements: Vec<(String, Op)>,
    /// Label selectors look keys up in `metadata.labels`; field selectors use dotted paths.
    labels: bool,
}

/// Splits on commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_set(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

fn parse_requirement(req: &str, labels: bool) -> ApiResult<(String, Op)> {
    let bad = || ApiError::bad_request(format!("unable to parse requirement: {req:?}"));
    if let Some((k, v)) = req.split_once("!=") {
        return Ok((k.trim().to_string(), Op::NotEq(v.trim().to_string())));
    }
    if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
        return Ok((k.trim().to_string(), Op::Eq(v.trim().to_string())));
    }
    if !labels {
        return Err(bad());
    }
    if let Some(key) = req.strip_prefix('!') {
        return Ok((key.trim().to_string(), Op::NotExists));
    }
    let mut parts = req.splitn(2, char::is_whitespace);
    let key = parts.next().unwrap_or_default().to_string();
    match parts.next().map(str::trim_start) {
        None => Ok((key, Op::Exists)),
        Some(rest) if rest.starts_with("notin") => {
            Ok((key, Op::NotIn(parse_set(&rest[5..]).ok_or_else(bad)?)))
        }
        Some(rest) if rest.starts_with("in") => {
            Ok((key, Op::In(parse_set(&rest[2..]).ok_or_else(bad)?)))
        }
        Some(_) => Err(bad()),
    }
}

impl Selector {
    /// Parses a `labelSelector`.
    pub fn labels(text: &str) -> ApiResult<Self> {
        Self::parse(text, true)
    }

    /// Parses a `fieldSelector` (`path=value`, `path==value`, `path!=value`).
    pub fn fields(text: &str) -> ApiResult<Self> {
        Self::parse(text, false)
    }

    fn parse(text: &str, labels: bool) -> ApiResult<Self> {
        let requirements = split_top(text)
            .into_iter()
            .map(|r| parse_requirement(r, labels))
            .collect::<ApiResult<_>>()?;
        Ok(Self {
            requirements,
            labels,
        })
    }

    fn lookup(&self, obj: &Value, key: &str) -> Option<String> {
        let found = if self.labels {
            obj.pointer("/metadata/labels").and_then(|l| l.get(key))
        } else {
            key.split('.').try_fold(obj, |v, seg| v.get(seg))
        };
        match found {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        }
    }

    /// Whether `obj` satisfies every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        self.requirements.iter().all(|(key, op)| {
            let value = self.lookup(obj, key);
            // Field selectors compare a missing field as the empty string.
            let text = || value.clone().unwrap_or_default();
            match op {
                Op::Eq(v) if self.labels => value.as_deref() == Some(v.as_str()),
                Op::Eq(v) => text() == *v,
                Op::NotEq(v) => text() != *v || (self.labels && value.is_none()),
                Op::In(set) => value.as_ref().is_some_and(|x| set.contains(x)),
                Op::NotIn(set) => value.as_ref().is_none_or(|x| !set.contains(x)),
                Op::Exists => value.is_some(),
                Op::NotExists => value.is_none(),
            }
        })
    }
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
