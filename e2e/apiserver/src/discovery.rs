//! Discovery documents, `/version` and a minimal OpenAPI v3 (enough for kubectl), no I/O.

use serde_json::{Value, json};

use crate::resources::{self, ResourceDef};

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "34", "gitVersion": "v1.34.0-kilo-test", "gitCommit": "", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "rust", "compiler": "rustc", "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn core_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}]
    })
}

fn group_doc(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `/apis`.
pub fn groups(all: &[&'static ResourceDef]) -> Value {
    let groups: Vec<Value> = resources::groups(all)
        .into_iter()
        .map(|(g, v)| group_doc(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`.
pub fn group(all: &[&'static ResourceDef], name: &str) -> Option<Value> {
    let (g, v) = resources::groups(all)
        .into_iter()
        .find(|(g, _)| *g == name)?;
    let mut doc = group_doc(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn verbs() -> Value {
    json!([
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch"
    ])
}

fn entry(r: &ResourceDef) -> Value {
    let mut doc = json!({
        "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
        "verbs": verbs(), "shortNames": r.short_names, "storageVersionHash": "",
    });
    if !r.categories.is_empty() {
        doc["categories"] = json!(r.categories);
    }
    doc
}

/// `/api/v1` or `/apis/<group>/<version>`.
pub fn resource_list(all: &[&'static ResourceDef], group: &str, version: &str) -> Option<Value> {
    let defs = resources::in_group_version(all, group, version);
    if defs.is_empty() {
        return None;
    }
    let mut list = Vec::new();
    for r in defs {
        list.push(entry(r));
        if r.has_status {
            list.push(json!({"name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": r.kind, "verbs": ["get", "patch", "update"]}));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one document per group/version.
pub fn openapi_root(all: &[&'static ResourceDef]) -> Value {
    let mut paths = serde_json::Map::new();
    let mut gvs = vec![("", "v1")];
    gvs.extend(resources::groups(all));
    for (g, v) in gvs {
        let p = gv_path(g, v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=kilo-test")}),
        );
    }
    json!({ "paths": paths })
}

/// `/openapi/v3/<gv path>`: PATCH operations advertising `fieldValidation`, which makes kubectl
/// leave validation to the server instead of downloading schemas.
pub fn openapi_group_version(all: &[&'static ResourceDef], path: &str) -> Option<Value> {
    let defs: Vec<&ResourceDef> = all
        .iter()
        .copied()
        .filter(|r| gv_path(r.group, r.version) == path)
        .collect();
    if defs.is_empty() {
        return None;
    }
    let mut paths = serde_json::Map::new();
    for r in defs {
        let ns = if r.namespaced {
            "namespaces/{namespace}/"
        } else {
            ""
        };
        let op = json!({
            "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(
            format!("/{path}/{ns}{}/{{name}}", r.plural),
            json!({ "patch": op }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.34.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

/// `/openapi/v2` as kubectl fetches it (protobuf, gnostic's `openapi_v2.Document`): the
/// `swagger` version and `info` only, no definitions, so that kubectl's client-side validation
/// of a `kind: List` finds no schema to apply and leaves validation to the server, as it does
/// for single objects through `/openapi/v3`.
pub fn openapi_v2_protobuf() -> Vec<u8> {
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        // Wire type 2 (length-delimited); every length here is below 128.
        let mut out = vec![(number << 3) | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }
    let info = [field(1, b"Kubernetes"), field(2, b"v1.34.0")].concat();
    [field(1, b"2.0"), field(2, &info)].concat()
}
