//! Patch algorithms: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a strategic merge
//! patch that treats maps like a merge patch and lists as atomic (no I/O).

use serde_json::{Map, Value};

/// Applies an RFC 7386 merge patch to `target`.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Removes strategic-merge directives (`$patch`, `$setElementOrder/…`, …) from a value.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

/// Applies a strategic merge patch: maps merge, `null` deletes, lists replace, `$patch:
/// replace|delete` and `$deleteFromPrimitiveList/<field>` are honoured, other directives ignored.
pub fn strategic(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = strip_directives(patch);
        return;
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = strip_directives(patch);
            return;
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    for (key, value) in patch_map {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(remove)) = (map.get_mut(field), value) {
                list.retain(|item| !remove.contains(item));
            }
        } else if key.starts_with('$') {
            continue;
        } else if value.is_null() || value.get("$patch").and_then(Value::as_str) == Some("delete") {
            map.remove(key);
        } else if value.is_object() {
            strategic(map.entry(key.clone()).or_insert(Value::Null), value);
        } else {
            map.insert(key.clone(), strip_directives(value));
        }
    }
}

/// Splits an RFC 6901 pointer into unescaped tokens.
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {pointer:?}"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent_mut<'a>(doc: &'a mut Value, toks: &[String]) -> Result<&'a mut Value, String> {
    toks.iter().try_fold(doc, |v, t| match v {
        Value::Object(m) => m
            .get_mut(t)
            .ok_or_else(|| format!("path segment {t:?} not found")),
        Value::Array(a) => {
            let i: usize = t
                .parse()
                .map_err(|_| format!("invalid array index {t:?}"))?;
            a.get_mut(i)
                .ok_or_else(|| format!("array index {i} out of range"))
        }
        _ => Err(format!("cannot descend into a scalar at {t:?}")),
    })
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let toks = tokens(path)?;
    let Some((last, parents)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse()
                    .map_err(|_| format!("invalid index {last:?}"))?
            };
            if i > a.len() {
                return Err(format!("array index {i} out of range"));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("cannot add to a scalar at {path:?}")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let toks = tokens(path)?;
    let (last, parents) = toks.split_last().ok_or("cannot remove the document root")?;
    match parent_mut(doc, parents)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| format!("path {path:?} not found")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if i >= a.len() {
                return Err(format!("array index {i} out of range"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("path {path:?} not found")),
    }
}

fn get<'a>(doc: &'a Value, path: &str) -> Result<&'a Value, String> {
    doc.pointer(path)
        .ok_or_else(|| format!("path {path:?} not found"))
}

/// Applies an RFC 6902 JSON patch; the document is unchanged on error.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be an array of operations")?;
    let mut work = doc.clone();
    for op in ops {
        let field = |name: &str| {
            op.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("operation lacks {name:?}"))
        };
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| "operation lacks \"value\"".to_string())
        };
        let path = field("path")?;
        match field("op")? {
            "add" => add(&mut work, path, value()?)?,
            "remove" => {
                remove(&mut work, path)?;
            }
            "replace" => {
                remove(&mut work, path)?;
                add(&mut work, path, value()?)?;
            }
            "move" => {
                let moved = remove(&mut work, field("from")?)?;
                add(&mut work, path, moved)?;
            }
            "copy" => {
                let copied = get(&work, field("from")?)?.clone();
                add(&mut work, path, copied)?;
            }
            "test" => {
                if *get(&work, path)? != value()? {
                    return Err(format!("test operation failed at {path:?}"));
                }
            }
            other => return Err(format!("unknown operation {other:?}")),
        }
    }
    *doc = work;
    Ok(())
}

#[cfg(test)]
#[path = "patch_tests.rs"]
mod tests;
