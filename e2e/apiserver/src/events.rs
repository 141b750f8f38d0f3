//! Conversion between core/v1 Events (the stored form) and events.k8s.io/v1 Events (no I/O).

use serde_json::{Map, Value};

/// (core/v1 field, events.k8s.io/v1 field) pairs that differ only in name.
const RENAMES: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

fn rename(value: &Value, forward: bool, api_version: &str) -> Value {
    let Value::Object(map) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let renamed = RENAMES.iter().find_map(|(core, ev)| {
            if forward {
                (k == core).then_some(*ev)
            } else {
                (k == ev).then_some(*core)
            }
        });
        out.insert(renamed.unwrap_or(k).to_string(), v.clone());
    }
    out.insert(
        "apiVersion".to_string(),
        Value::String(api_version.to_string()),
    );
    out.insert("kind".to_string(), Value::String("Event".to_string()));
    Value::Object(out)
}

/// A stored core/v1 Event as events.k8s.io/v1.
pub fn to_events_v1(core: &Value) -> Value {
    rename(core, true, "events.k8s.io/v1")
}

/// An events.k8s.io/v1 Event as the stored core/v1 form.
pub fn to_core(events_v1: &Value) -> Value {
    rename(events_v1, false, "v1")
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
