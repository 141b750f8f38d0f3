//! Unit tests of `events`.

use super::*;
use serde_json::json;

#[test]
fn round_trips() {
    let ev = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "n1.1", "namespace": "default"},
        "regarding": {"kind": "Node", "name": "n1"}, "note": "bad egress-ip", "reason": "InvalidEgressIP",
        "type": "Warning", "reportingController": "kg", "reportingInstance": "kg-n1", "action": "Reconcile",
        "eventTime": "2024-01-01T00:00:00.000000Z"
    });
    let core = to_core(&ev);
    assert_eq!(core["involvedObject"]["name"], "n1");
    assert_eq!(core["message"], "bad egress-ip");
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(to_events_v1(&core), ev);
}
