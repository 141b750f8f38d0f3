//! Field ownership for server-side apply: which manager owns which leaf of an object, conflicts,
//! and removal of fields a manager stops applying. Maps recurse; lists and scalars are leaves
//! (lists are atomic). No I/O.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A path of map keys from the object root to a leaf.
pub type Path = Vec<String>;

/// Whether a write was an apply or an ordinary create/update/patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write.
    Update,
}

/// The fields one manager owns through one kind of operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    manager: String,
    operation: Operation,
    api_version: String,
    time: String,
    fields: BTreeSet<Path>,
}

/// All managers' ownership of one object (serialized in the `--state-file`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ownership {
    entries: Vec<Entry>,
}

/// Who writes, for the ownership records.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    /// The field manager name.
    pub manager: &'a str,
    /// `apiVersion` the write used.
    pub api_version: &'a str,
    /// The write's time (RFC 3339).
    pub time: &'a str,
}

/// Server-maintained fields that nobody owns.
fn ignored(path: &[String]) -> bool {
    match path {
        [top] => top == "apiVersion" || top == "kind",
        [meta, field, ..] if meta == "metadata" => matches!(
            field.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "managedFields"
                | "selfLink"
        ),
        _ => false,
    }
}

fn collect(value: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(k.clone());
                if !ignored(prefix) {
                    collect(v, prefix, out);
                }
                prefix.pop();
            }
        }
        Value::Null => {}
        _ if prefix.is_empty() => {}
        _ => {
            out.insert(prefix.clone());
        }
    }
}

/// The owned leaves of an object: non-empty-map-free paths to scalars and lists.
pub fn leaves(value: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    collect(value, &mut Vec::new(), &mut out);
    out
}

fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.get(k))
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Removes `path` from `value`, then prunes maps the removal left empty.
fn remove_path(value: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Value::Object(map) = value else { return };
    if rest.is_empty() {
        map.remove(first);
        return;
    }
    if let Some(child) = map.get_mut(first) {
        remove_path(child, rest);
        if child.as_object().is_some_and(Map::is_empty) {
            map.remove(first);
        }
    }
}

/// Deep-merges an apply configuration: maps recurse, everything else replaces, null removes.
fn merge_config(target: &mut Value, config: &Value) {
    crate::patch::merge(target, config);
}

impl Ownership {
    fn entry_mut(&mut self, w: &Writer<'_>, operation: Operation) -> &mut Entry {
        let pos = self
            .entries
            .iter()
            .position(|e| e.manager == w.manager && e.operation == operation);
        let idx = pos.unwrap_or_else(|| {
            self.entries.push(Entry {
                manager: w.manager.to_string(),
                operation,
                api_version: String::new(),
                time: String::new(),
                fields: BTreeSet::new(),
            });
            self.entries.len() - 1
        });
        let entry = &mut self.entries[idx];
        entry.api_version = w.api_version.to_string();
        entry.time = w.time.to_string();
        entry
    }

    fn disown(&mut self, paths: &BTreeSet<Path>, keep: Option<(&str, Operation)>) {
        for e in &mut self.entries {
            if keep.is_some_and(|(m, op)| e.manager == m && e.operation == op) {
                continue;
            }
            e.fields.retain(|f| !paths.iter().any(|p| overlaps(f, p)));
        }
        self.entries.retain(|e| !e.fields.is_empty());
    }

    fn owned_by_others(&self, path: &[String], manager: &str, operation: Operation) -> bool {
        self.entries
            .iter()
            .filter(|e| !(e.manager == manager && e.operation == operation))
            .any(|e| e.fields.iter().any(|f| overlaps(f, path)))
    }

    /// Records a non-apply write: changed leaves move to `writer`, removed ones are disowned.
    pub fn record_update(&mut self, old: Option<&Value>, new: &Value, w: &Writer<'_>) {
        let before = old.map(leaves).unwrap_or_default();
        let after = leaves(new);
        let changed: BTreeSet<Path> = after
            .iter()
            .filter(|p| old.and_then(|o| lookup(o, p)) != lookup(new, p))
            .cloned()
            .collect();
        let removed: BTreeSet<Path> = before.difference(&after).cloned().collect();
        self.disown(&removed, None);
        self.disown(&changed, Some((w.manager, Operation::Update)));
        if !changed.is_empty() {
            self.entry_mut(w, Operation::Update).fields.extend(changed);
        }
    }

    /// Server-side apply of `config` onto `current`. Returns the new object, or the list of
    /// conflicts (`conflict with "m": .a.b`) when `force` is false.
    pub fn apply(
        &mut self,
        current: &Value,
        config: &Value,
        w: &Writer<'_>,
        force: bool,
    ) -> Result<Value, Vec<String>> {
        let applied = leaves(config);
        let mut conflicts = Vec::new();
        let mut taken = BTreeSet::new();
        for e in self
            .entries
            .iter()
            .filter(|e| !(e.manager == w.manager && e.operation == Operation::Apply))
        {
            for p in applied
                .iter()
                .filter(|p| e.fields.iter().any(|f| overlaps(f, p)))
            {
                if lookup(current, p) != lookup(config, p) {
                    conflicts.push(format!("conflict with {:?}: .{}", e.manager, p.join(".")));
                    taken.insert(p.clone());
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(conflicts);
        }
        let previous = self
            .entries
            .iter()
            .find(|e| e.manager == w.manager && e.operation == Operation::Apply)
            .map(|e| e.fields.clone())
            .unwrap_or_default();
        let mut object = current.clone();
        let dropped: BTreeSet<Path> = previous
            .difference(&applied)
            .filter(|p| !self.owned_by_others(p, w.manager, Operation::Apply))
            .cloned()
            .collect();
        for p in &dropped {
            remove_path(&mut object, p);
        }
        merge_config(&mut object, config);
        self.disown(&taken, Some((w.manager, Operation::Apply)));
        self.disown(&dropped, None);
        if applied.is_empty() {
            self.entries
                .retain(|e| !(e.manager == w.manager && e.operation == Operation::Apply));
        } else {
            self.entry_mut(w, Operation::Apply).fields = applied;
        }
        Ok(object)
    }

    /// Whether both record the same managers owning the same fields (times aside).
    pub fn same_fields(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self.entries.iter().zip(&other.entries).all(|(a, b)| {
                a.manager == b.manager && a.operation == b.operation && a.fields == b.fields
            })
    }

    /// `metadata.managedFields` in the FieldsV1 format.
    pub fn render(&self) -> Value {
        let entries = self.entries.iter().map(|e| {
            let mut tree = Map::new();
            for path in &e.fields {
                insert_field(&mut tree, path);
            }
            json!({
                "manager": e.manager,
                "operation": if e.operation == Operation::Apply { "Apply" } else { "Update" },
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": Value::Object(tree),
            })
        });
        Value::Array(entries.collect())
    }
}

/// Adds one path to a FieldsV1 tree (`{"f:metadata": {"f:labels": {"f:k": {}}}}`).
fn insert_field(tree: &mut Map<String, Value>, path: &[String]) {
    if let Some((key, rest)) = path.split_first()
        && let Value::Object(child) = tree.entry(format!("f:{key}")).or_insert_with(|| json!({}))
    {
        insert_field(child, rest);
    }
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
