//! CustomResourceDefinitions: the checks apiextensions-apiserver makes when one is written
//! (names, versions, a structural schema, every `default` valid against the node carrying it),
//! the status it reports, and the resource a CRD serves (no I/O).

use serde_json::{Value, json};

use crate::fielderr::{ErrorType, FieldError};
use crate::resources::ResourceDef;
use crate::schema::{Schema, prune};

/// The storage bucket of CRD objects.
pub const CRD_STORAGE: &str = "customresourcedefinitions";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Every reason kube-apiserver would refuse this CRD (empty when it is acceptable).
pub fn check(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (group, plural, kind) = (
        str_at(crd, "/spec/group"),
        str_at(crd, "/spec/names/plural"),
        str_at(crd, "/spec/names/kind"),
    );
    let name = str_at(crd, "/metadata/name");
    if group.is_empty() {
        errs.push(FieldError::required("spec.group"));
    }
    if plural.is_empty() {
        errs.push(FieldError::required("spec.names.plural"));
    }
    if kind.is_empty() {
        errs.push(FieldError::required("spec.names.kind"));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::new(
            ErrorType::Invalid,
            "metadata.name",
            json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    let scope = str_at(crd, "/spec/scope");
    if !matches!(scope, "Cluster" | "Namespaced") {
        errs.push(FieldError::new(
            ErrorType::NotSupported,
            "spec.scope",
            json!(scope),
            "supported values: \"Cluster\", \"Namespaced\"",
        ));
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errs.push(FieldError::required("spec.versions"));
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage") == Some(&Value::Bool(true)))
        .count();
    if !versions.is_empty() && storage != 1 {
        errs.push(FieldError::new(
            ErrorType::Invalid,
            "spec.versions",
            Value::Array(versions.clone()),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let path = format!("spec.versions[{i}].schema.openAPIV3Schema");
        match v.pointer("/schema/openAPIV3Schema") {
            Some(schema) => errs.extend(check_schema(schema, &path)),
            None => errs.push(FieldError::required(&path)),
        }
    }
    errs
}

/// A version's schema: structural (sorted like kube-apiserver's), then, only if structural,
/// its defaults.
fn check_schema(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    structural(schema, path, Level::Root, &mut errs);
    if !errs.is_empty() {
        errs.sort_by_key(ToString::to_string);
        return errs;
    }
    defaults(schema, path, &mut errs);
    errs
}

fn structural(node: &Value, path: &str, level: Level, errs: &mut Vec<FieldError>) {
    let ty = node.get("type").and_then(Value::as_str).unwrap_or_default();
    let flag = |k: &str| node.get(k) == Some(&Value::Bool(true));
    if ty == "array" && node.get("items").is_none() {
        errs.push(FieldError::new(
            ErrorType::Required,
            &format!("{path}.items"),
            Value::Null,
            "must be specified",
        ));
    }
    if let Some(items) = node.get("items") {
        structural(items, &format!("{path}.items"), Level::Item, errs);
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            structural(
                v,
                &key(&format!("{path}.properties"), k),
                Level::Field,
                errs,
            );
        }
    }
    if let Some(additional) = node.get("additionalProperties") {
        if level == Level::Root {
            errs.push(FieldError::forbidden(
                &format!("{path}.additionalProperties"),
                "must not be used at the root",
            ));
        }
        if additional.is_object() {
            structural(
                additional,
                &format!("{path}.additionalProperties"),
                Level::Field,
                errs,
            );
        }
    }
    if ty.is_empty()
        && !flag("x-kubernetes-int-or-string")
        && !flag("x-kubernetes-preserve-unknown-fields")
    {
        let why = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::new(
            ErrorType::Required,
            &format!("{path}.type"),
            Value::Null,
            why,
        ));
    }
    if level == Level::Root && !ty.is_empty() && ty != "object" {
        errs.push(FieldError::new(
            ErrorType::Invalid,
            &format!("{path}.type"),
            json!(ty),
            "must be object at the root",
        ));
    }
    for junctor in ["allOf", "anyOf", "oneOf"] {
        for (i, nested) in node
            .get(junctor)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            nested_value_validation(nested, &format!("{path}.{junctor}[{i}]"), errs);
        }
    }
    if let Some(not) = node.get("not") {
        nested_value_validation(not, &format!("{path}.not"), errs);
    }
    if level == Level::Root
        && let Some(meta) = node.pointer("/properties/metadata")
    {
        root_metadata(meta, &key(&format!("{path}.properties"), "metadata"), errs);
    }
}

/// What a value validation under allOf/anyOf/oneOf/not may not say.
fn nested_value_validation(node: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for (k, why) in [
        ("type", "must be empty to be structural"),
        ("additionalProperties", "must be undefined to be structural"),
        ("default", "must be undefined to be structural"),
        ("title", "must be empty to be structural"),
        ("description", "must be empty to be structural"),
        ("nullable", "must be false to be structural"),
        (
            "x-kubernetes-preserve-unknown-fields",
            "must be false to be structural",
        ),
        (
            "x-kubernetes-int-or-string",
            "must be false to be structural",
        ),
    ] {
        if node.get(k).is_some_and(|v| v != &Value::Bool(false)) {
            errs.push(FieldError::forbidden(&format!("{path}.{k}"), why));
        }
    }
    if node.pointer("/properties/metadata").is_some() {
        errs.push(FieldError::forbidden(
            &key(&format!("{path}.properties"), "metadata"),
            "must not be specified in a nested context",
        ));
    }
    if let Some(items) = node.get("items") {
        nested_value_validation(items, &format!("{path}.items"), errs);
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            nested_value_validation(v, &key(&format!("{path}.properties"), k), errs);
        }
    }
}

fn root_metadata(meta: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let ty = meta.get("type").and_then(Value::as_str).unwrap_or_default();
    if ty != "object" {
        errs.push(FieldError::new(
            ErrorType::Invalid,
            &format!("{path}.type"),
            json!(ty),
            "must be object",
        ));
    }
    let restricts_more = meta.as_object().is_some_and(|m| {
        m.iter().any(|(k, v)| match k.as_str() {
            "type" | "description" => false,
            "properties" => v
                .as_object()
                .is_some_and(|p| p.keys().any(|k| k != "name" && k != "generateName")),
            _ => true,
        })
    });
    if restricts_more {
        errs.push(FieldError::forbidden(
            path,
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

/// `ValidateDefaults`: every `default` (not under additionalProperties) must be pruned already
/// and validate against the schema node that carries it.
fn defaults(node: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(default) = node.get("default") {
        let at = format!("{path}.default");
        let mut pruned = default.clone();
        let mut unknown = Vec::new();
        prune(node, &mut pruned, "", false, &mut unknown);
        if !unknown.is_empty() {
            errs.push(FieldError::new(
                ErrorType::Invalid,
                &at,
                default.clone(),
                "must not have unknown fields",
            ));
        }
        match Schema::compile(node) {
            Ok(schema) => errs.extend(schema.validate(default, &at)),
            Err(why) => errs.push(FieldError::new(ErrorType::Invalid, path, Value::Null, why)),
        }
    }
    if let Some(items) = node.get("items") {
        defaults(items, &format!("{path}.items"), errs);
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            defaults(v, &key(&format!("{path}.properties"), k), errs);
        }
    }
}

/// The status kube-apiserver gives an accepted CRD: its names accepted, established.
pub fn accepted_status(crd: &Value) -> Value {
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage") == Some(&Value::Bool(true)))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let now = crate::meta::now_rfc3339();
    let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    json!({
        "acceptedNames": crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({})),
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": storage,
    })
}

/// A string that lives for the whole process (resource definitions are `'static`).
pub fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// The storage bucket of a CRD's objects.
pub fn storage_of(crd: &Value) -> String {
    format!(
        "{}.{}",
        str_at(crd, "/spec/names/plural"),
        str_at(crd, "/spec/group")
    )
}

/// The resource an accepted CRD serves: its storage version (one version per CRD is served).
/// Definitions live for the whole process (they are `'static` like the built-in ones); the store
/// builds one only when a CRD's spec changes.
pub fn resource_def(crd: &Value) -> Option<&'static ResourceDef> {
    let spec = crd.get("spec")?;
    let version = spec
        .get("versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("storage") == Some(&Value::Bool(true)))?;
    let schema = Schema::compile(version.pointer("/schema/openAPIV3Schema")?).ok()?;
    let names = spec.get("names")?;
    let text = |k: &str| names.get(k).and_then(Value::as_str).unwrap_or_default();
    let kind = text("kind");
    let singular = if text("singular").is_empty() {
        kind.to_lowercase()
    } else {
        text("singular").to_string()
    };
    let list = |k: &str| -> &'static [&'static str] {
        let items: Vec<&'static str> = names
            .get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(leak)
            .collect();
        Box::leak(items.into_boxed_slice())
    };
    let (group, plural) = (str_at(spec, "/group"), text("plural"));
    Some(Box::leak(Box::new(ResourceDef {
        group: leak(group),
        version: leak(str_at(version, "/name")),
        plural: leak(plural),
        singular: leak(&singular),
        kind: leak(kind),
        namespaced: str_at(spec, "/scope") == "Namespaced",
        short_names: list("shortNames"),
        categories: list("categories"),
        storage: leak(&storage_of(crd)),
        has_status: version.pointer("/subresources/status").is_some(),
        generation: true,
        schema: Some(Box::leak(Box::new(schema))),
    })))
}

#[cfg(test)]
#[path = "crd_tests.rs"]
mod tests;
