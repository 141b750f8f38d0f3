//! Authorization as kube-apiserver's RBAC authorizer decides it, from the ClusterRoles, Roles
//! and their bindings in the store, and the 403 `Forbidden` Status it answers (no I/O).

use serde_json::Value;

use crate::auth::User;
use crate::error::ApiError;
use crate::resources::{RBAC, find};
use crate::store::Store;

/// What a request asks to do (apiserver's `authorizer.Attributes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// The API group ("" for core).
    pub group: String,
    /// The plural resource.
    pub resource: String,
    /// The subresource ("" for none).
    pub subresource: String,
    /// The object's name ("" for collections and creates).
    pub name: String,
    /// The namespace ("" for cluster-scoped requests).
    pub namespace: String,
}

fn strings<'a>(rule: &'a Value, key: &str) -> Vec<&'a str> {
    rule.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn has(list: &[&str], want: &str) -> bool {
    list.iter().any(|v| *v == "*" || *v == want)
}

/// Whether one PolicyRule allows the request (rbac's `RuleAllows`).
pub fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let resources = strings(rule, "resources");
    let combined = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let resource_ok = resources.iter().any(|r| {
        *r == "*"
            || *r == combined
            || (a.subresource.is_empty() && *r == a.resource)
            || (!a.subresource.is_empty()
                && (*r == format!("*/{}", a.subresource) || *r == format!("{}/*", a.resource)))
    });
    let names = strings(rule, "resourceNames");
    let name_ok = names.is_empty() || (!a.name.is_empty() && names.contains(&a.name.as_str()));
    has(&strings(rule, "verbs"), &a.verb)
        && has(&strings(rule, "apiGroups"), &a.group)
        && resource_ok
        && name_ok
}

/// Whether a binding's subjects include `user`.
fn binds(binding: &Value, user: &User) -> bool {
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| {
            let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default();
            match text("kind") {
                "User" => text("name") == user.name,
                "Group" => user.in_group(text("name")),
                "ServiceAccount" => {
                    user.service_account_of() == Some((text("namespace"), text("name")))
                }
                _ => false,
            }
        })
}

/// The rules of the role a binding in `namespace` ("" for a ClusterRoleBinding) refers to.
fn role_rules(store: &Store, binding: &Value, namespace: &str) -> Vec<Value> {
    let text = |p: &str| {
        binding
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (kind, name) = (text("/roleRef/kind"), text("/roleRef/name"));
    let (plural, ns) = match kind {
        "ClusterRole" => ("clusterroles", None),
        "Role" if !namespace.is_empty() => ("roles", Some(namespace)),
        _ => return Vec::new(),
    };
    let Some(res) = find(RBAC, "v1", plural) else {
        return Vec::new();
    };
    store
        .get(res, ns, name)
        .ok()
        .and_then(|role| role.get("rules").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// Whether RBAC allows `user` to do `a`; `system:masters` may do anything.
pub fn allowed(store: &Store, user: &User, a: &Attributes) -> bool {
    if user.in_group("system:masters") {
        return true;
    }
    let mut scopes = vec![("clusterrolebindings", "")];
    if !a.namespace.is_empty() {
        scopes.push(("rolebindings", a.namespace.as_str()));
    }
    scopes.into_iter().any(|(plural, namespace)| {
        let Some(res) = find(RBAC, "v1", plural) else {
            return false;
        };
        let ns = (!namespace.is_empty()).then_some(namespace);
        store.list(res, ns).0.iter().any(|binding| {
            binds(binding, user)
                && role_rules(store, binding, namespace)
                    .iter()
                    .any(|rule| rule_allows(rule, a))
        })
    })
}

/// kube-apiserver's 403 for a denied resource request.
pub fn forbidden(user: &User, a: &Attributes) -> ApiError {
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let reason = if a.namespace.is_empty() {
        format!(
            "User {:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
            user.name, a.verb, a.group
        )
    } else {
        format!(
            "User {:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
            user.name, a.verb, a.group, a.namespace
        )
    };
    let qualified = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let message = if a.name.is_empty() {
        format!("{qualified} is forbidden: {reason}")
    } else {
        format!("{qualified} {:?} is forbidden: {reason}", a.name)
    };
    ApiError::forbidden(message, &a.name, &a.group, &a.resource)
}

#[cfg(test)]
#[path = "rbac_tests.rs"]
mod tests;
