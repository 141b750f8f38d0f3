//! The gate every request passes: who it is (a bearer token this server signed, whose
//! ServiceAccount and bound Node still exist, else anonymous), what it asks (verb and resource
//! attributes), whether RBAC allows it, and TokenRequest (`serviceaccounts/NAME/token`). No I/O.

use axum::http::{HeaderMap, Method, header};
use serde_json::{Value, json};

use crate::auth::{NODE_NAME, NODE_UID, Signer, User};
use crate::error::{ApiError, ApiResult};
use crate::rbac::Attributes;
use crate::resources::{ResourceDef, find};
use crate::store::Store;

/// Lifetime of a token when the request names none (kube-apiserver's default is one hour; the
/// lab's kg keeps its token for the whole run).
const DEFAULT_TTL: i64 = 24 * 3600;

fn uid_of(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The requesting user: anonymous without an `Authorization` header, 401 for a token that is
/// not this server's, has expired, or whose ServiceAccount or bound Node is gone.
pub fn authenticate(store: &Store, signer: &Signer, headers: &HeaderMap) -> ApiResult<User> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(User::anonymous());
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(ApiError::unauthorized)?;
    let user = signer
        .verify(token.trim(), crate::meta::unix_now())
        .ok_or_else(ApiError::unauthorized)?;
    if let Some((ns, name)) = user.service_account_of() {
        let sa = find("", "v1", "serviceaccounts").and_then(|r| store.get(r, Some(ns), name).ok());
        if sa.is_none_or(|sa| uid_of(&sa) != user.uid) {
            return Err(ApiError::unauthorized());
        }
        if let Some(node) = user.extra.get(NODE_NAME).and_then(|n| n.first()) {
            let found = find("", "v1", "nodes").and_then(|r| store.get(r, None, node).ok());
            let want = user.extra.get(NODE_UID).and_then(|u| u.first());
            if found.is_none_or(|n| Some(&uid_of(&n).to_string()) != want) {
                return Err(ApiError::unauthorized());
            }
        }
    }
    Ok(user)
}

/// The attributes of a resource request.
pub fn attributes(
    method: &Method,
    res: &ResourceDef,
    (ns, name, sub): (Option<&str>, Option<&str>, Option<&str>),
    watch: bool,
) -> Attributes {
    let verb = match (method.as_str(), name.is_some()) {
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (other, _) => other,
    };
    Attributes {
        verb: verb.to_lowercase(),
        group: res.group.to_string(),
        resource: res.plural.to_string(),
        subresource: sub.unwrap_or_default().to_string(),
        name: name.unwrap_or_default().to_string(),
        namespace: ns.unwrap_or_default().to_string(),
    }
}

/// 403 unless RBAC allows the request.
pub fn authorize(store: &Store, user: &User, a: &Attributes) -> ApiResult<()> {
    if crate::rbac::allowed(store, user, a) {
        Ok(())
    } else {
        tracing::info!(user = %user.name, verb = %a.verb, resource = %a.resource, name = %a.name,
            namespace = %a.namespace, "forbidden");
        Err(crate::rbac::forbidden(user, a))
    }
}

/// Non-resource paths: health and version for anyone, discovery and OpenAPI for authenticated
/// users (kube-apiserver's system:public-info-viewer and system:discovery).
pub fn authorize_path(user: &User, path: &str) -> ApiResult<()> {
    let public = ["/healthz", "/readyz", "/livez", "/version"];
    if public.contains(&path)
        || path.starts_with("/debug/")
        || !user.in_group("system:unauthenticated")
    {
        return Ok(());
    }
    Err(ApiError::forbidden(
        format!("forbidden: User {:?} cannot get path {path:?}", user.name),
        "",
        "",
        "",
    ))
}

/// TokenRequest: a token for the ServiceAccount `ns/name`, bound to a Node when the request's
/// `spec.boundObjectRef` names one (its name and uid go into the user's extra).
pub fn token_request(
    store: &Store,
    signer: &Signer,
    (ns, name): (&str, &str),
    body: &Value,
) -> ApiResult<Value> {
    let sas = find("", "v1", "serviceaccounts")
        .ok_or_else(|| ApiError::internal("no serviceaccounts"))?;
    let sa = store.get(sas, Some(ns), name)?;
    let mut user = User::service_account(ns, name, uid_of(&sa));
    let ttl = body
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_TTL);
    if ttl < 600 {
        return Err(ApiError::invalid_fields(
            "TokenRequest",
            "authentication.k8s.io",
            name,
            vec![crate::fielderr::FieldError::new(
                crate::fielderr::ErrorType::Invalid,
                "spec.expirationSeconds",
                json!(ttl),
                "may not specify a duration less than 10 minutes",
            )],
        ));
    }
    let now = crate::meta::unix_now();
    user.exp = now + ttl;
    if let Some(bound) = body
        .pointer("/spec/boundObjectRef")
        .filter(|b| !b.is_null())
    {
        let text = |k: &str| bound.get(k).and_then(Value::as_str).unwrap_or_default();
        if text("kind") != "Node" {
            return Err(ApiError::bad_request(format!(
                "cannot bind a token to a {:?}: kilo-test-apiserver binds tokens to Nodes only",
                text("kind")
            )));
        }
        let nodes = find("", "v1", "nodes").ok_or_else(|| ApiError::internal("no nodes"))?;
        let node = store.get(nodes, None, text("name"))?;
        if !text("uid").is_empty() && text("uid") != uid_of(&node) {
            return Err(ApiError::conflict("nodes", text("name")));
        }
        user.extra
            .insert(NODE_NAME.into(), vec![text("name").to_string()]);
        user.extra
            .insert(NODE_UID.into(), vec![uid_of(&node).to_string()]);
    }
    let mut out = body.clone();
    if !out.is_object() {
        out = json!({});
    }
    out["apiVersion"] = json!("authentication.k8s.io/v1");
    out["kind"] = json!("TokenRequest");
    out["metadata"] = json!({"name": name, "namespace": ns, "creationTimestamp": null});
    out["spec"]["expirationSeconds"] = json!(ttl);
    out["status"] = json!({
        "token": signer.issue(&user),
        "expirationTimestamp": crate::meta::rfc3339(user.exp),
    });
    Ok(out)
}
