//! Strict decoding of built-in objects (`fieldValidation=Strict`, kubectl's `--validate=strict`):
//! a field the kind's Go type does not have is an error, as kube-apiserver's strict decoder
//! reports it. The kinds' types are k8s-openapi's (generated from the same OpenAPI); an object's
//! unknown fields are what a typed round trip drops. No I/O.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::resources::ResourceDef;

/// Drops the fields of `obj` the built-in kind of `res` does not know (what kube-apiserver's
/// decoder does without `fieldValidation=Strict`) and returns them; `None` as for
/// [`unknown_fields`].
pub(crate) fn prune_unknown(res: &ResourceDef, obj: &mut Value) -> Option<Vec<String>> {
    let unknown = unknown_fields(res, obj)?;
    if !unknown.is_empty() {
        let kept = typed_round_trip(res, obj)?;
        prune(obj, &kept);
    }
    Some(unknown)
}

/// The fields of `obj` that the built-in kind of `res` does not know, as dotted paths
/// (`spec.foo`, `metadata.labels` never: maps keep every key). `None`: not a kind this server
/// decodes strictly (custom resources have their schema; see `write::admit`).
pub(crate) fn unknown_fields(res: &ResourceDef, obj: &Value) -> Option<Vec<String>> {
    let mut out = Vec::new();
    if let Some(kept) = typed_round_trip(res, obj) {
        walk(obj, &kept, "", &mut out);
    } else if !is_builtin(res) {
        return None;
    }
    Some(out)
}

fn is_builtin(res: &ResourceDef) -> bool {
    res.schema.is_none() && res.storage != crate::crd::CRD_STORAGE
}

/// `obj` through the Go type of its kind and back, `None` for kinds not decoded here and for
/// objects the type cannot decode at all (the write's own checks refuse those).
fn typed_round_trip(res: &ResourceDef, obj: &Value) -> Option<Value> {
    use k8s_openapi::api::{admissionregistration, core, events, rbac};
    match (res.group, res.kind) {
        ("", "Node") => round_trip::<core::v1::Node>(obj),
        ("", "Namespace") => round_trip::<core::v1::Namespace>(obj),
        ("", "Event") => round_trip::<core::v1::Event>(obj),
        ("", "Secret") => round_trip::<core::v1::Secret>(obj),
        ("", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(obj),
        ("events.k8s.io", "Event") => round_trip::<events::v1::Event>(obj),
        ("rbac.authorization.k8s.io", "ClusterRole") => round_trip::<rbac::v1::ClusterRole>(obj),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            round_trip::<rbac::v1::ClusterRoleBinding>(obj)
        }
        ("rbac.authorization.k8s.io", "Role") => round_trip::<rbac::v1::Role>(obj),
        ("rbac.authorization.k8s.io", "RoleBinding") => round_trip::<rbac::v1::RoleBinding>(obj),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            round_trip::<admissionregistration::v1::ValidatingAdmissionPolicy>(obj)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            round_trip::<admissionregistration::v1::ValidatingAdmissionPolicyBinding>(obj)
        }
        _ => None,
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(obj: &Value) -> Option<Value> {
    let typed = serde_json::from_value::<T>(obj.clone()).ok()?;
    serde_json::to_value(typed).ok()
}

fn walk(original: &Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    match (original, kept) {
        (Value::Object(o), Value::Object(k)) => {
            for (key, value) in o {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(v) => walk(value, v, &here, out),
                    // a null or empty value the typed form omits is not an unknown field
                    None if is_empty(value) => {}
                    None => out.push(here),
                }
            }
        }
        (Value::Array(o), Value::Array(k)) => {
            for (i, (value, v)) in o.iter().zip(k).enumerate() {
                walk(value, v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Removes from `original` what `walk` reports: the fields the typed form lost.
fn prune(original: &mut Value, kept: &Value) {
    match (original, kept) {
        (Value::Object(o), Value::Object(k)) => {
            o.retain(|key, value| is_empty(value) || k.contains_key(key));
            for (key, value) in o.iter_mut() {
                if let Some(v) = k.get(key) {
                    prune(value, v);
                }
            }
        }
        (Value::Array(o), Value::Array(k)) => {
            for (value, v) in o.iter_mut().zip(k) {
                prune(value, v);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
#[path = "builtin_tests.rs"]
mod tests;
