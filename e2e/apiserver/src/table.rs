//! `meta.k8s.io/v1` Table rendering for kubectl's human-readable output (reads the clock).

use serde_json::{Value, json};

use crate::meta;
use crate::resources::ResourceDef;

fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn age_of(obj: &Value, pointers: &[&str]) -> String {
    let when = pointers
        .iter()
        .find_map(|p| meta::parse_rfc3339(text(obj, p)));
    when.map_or_else(
        || "<unknown>".to_string(),
        |t| meta::human_age(meta::unix_now() - t),
    )
}

fn node_status(obj: &Value) -> &'static str {
    let conditions = obj.pointer("/status/conditions").and_then(Value::as_array);
    let ready = conditions
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    match ready.map(|c| text(c, "/status")) {
        Some("True") => "Ready",
        Some("False") => "NotReady",
        _ => "Unknown",
    }
}

fn node_roles(obj: &Value) -> String {
    let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
    let roles: Vec<&str> = labels
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    }
}

fn columns(res: &ResourceDef) -> Vec<&'static str> {
    match res.kind {
        "Node" => vec!["Name", "Status", "Roles", "Age", "Version"],
        "Namespace" => vec!["Name", "Status", "Age"],
        "Event" => vec!["Last Seen", "Type", "Reason", "Object", "Message"],
        _ => vec!["Name", "Age"],
    }
}

/// One row's cells; `obj` is in storage form (core/v1 for events).
fn cells(res: &ResourceDef, obj: &Value) -> Vec<String> {
    let name = text(obj, "/metadata/name").to_string();
    let created = || age_of(obj, &["/metadata/creationTimestamp"]);
    match res.kind {
        "Node" => vec![
            name,
            node_status(obj).into(),
            node_roles(obj),
            created(),
            text(obj, "/status/nodeInfo/kubeletVersion").into(),
        ],
        "Namespace" => vec![name, text(obj, "/status/phase").into(), created()],
        "Event" => {
            let seen = [
                "/series/lastObservedTime",
                "/lastTimestamp",
                "/eventTime",
                "/metadata/creationTimestamp",
            ];
            let object = format!(
                "{}/{}",
                text(obj, "/involvedObject/kind").to_lowercase(),
                text(obj, "/involvedObject/name")
            );
            vec![
                age_of(obj, &seen),
                text(obj, "/type").into(),
                text(obj, "/reason").into(),
                object,
                text(obj, "/message").into(),
            ]
        }
        _ => vec![name, created()],
    }
}

/// A Table of `objects` (storage form); rows carry PartialObjectMetadata for kubectl.
pub fn render(res: &ResourceDef, objects: &[Value], rv: u64) -> Value {
    let defs: Vec<Value> = columns(res)
        .into_iter()
        .map(|c| json!({"name": c, "type": "string", "format": if c == "Name" { "name" } else { "" }, "description": c, "priority": 0}))
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let meta = o.get("metadata").cloned().unwrap_or_else(|| json!({}));
            json!({
                "cells": cells(res, o),
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta},
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv.to_string()},
        "columnDefinitions": defs,
        "rows": rows,
    })
}
