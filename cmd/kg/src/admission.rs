//! The Peer validating admission review of `kg webhook`, as Kilo's webhook answers it: an
//! `admission.k8s.io/v1` `AdmissionReview` in, the same kind out with `response.allowed` and,
//! when refused, `response.status.message`. A Peer is allowed when kg would configure it
//! ([`kilo_k8s::Peer::to_mesh`]: Kilo's checks and the presharedKey, keepalive-range and
//! empty-allowedIPs checks kg adds). No I/O.

use serde::Deserialize;
use serde_json::{Value, json};

/// The only `apiVersion` of an `AdmissionReview` the webhook answers (Kilo's too).
pub const ADMISSION_V1: &str = "admission.k8s.io/v1";

/// A review the webhook could not answer: the HTTP status and a plain-text reason.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest(pub String);

/// The decision on one review, for the response and the metrics.
#[derive(Debug, PartialEq, Eq)]
pub struct Decision {
    /// `request.operation` (`CREATE`, `UPDATE`, ...).
    pub operation: String,
    /// Why the Peer was refused; `None` when it was allowed.
    pub refusal: Option<String>,
    /// The `AdmissionReview` to answer with.
    pub review: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    request: Option<Request>,
}

#[derive(Deserialize)]
struct Request {
    uid: String,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    object: Value,
}

/// Whether a `Content-Type` is JSON (`application/json`, parameters such as a charset allowed).
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Judges one review body (already known to be JSON by its content type).
pub fn review(body: &[u8]) -> Result<Decision, BadRequest> {
    let r: Review = serde_json::from_slice(body)
        .map_err(|e| BadRequest(format!("request could not be decoded: {e}")))?;
    if r.api_version != ADMISSION_V1 || r.kind != "AdmissionReview" {
        return Err(BadRequest("only API v1 is supported".to_owned()));
    }
    let req = r
        .request
        .ok_or_else(|| BadRequest("request could not be decoded: no request".to_owned()))?;
    let peer: kilo_k8s::Peer = serde_json::from_value(req.object)
        .map_err(|e| BadRequest(format!("could not unmarshal extension to peer spec: {e}")))?;
    let refusal = peer.to_mesh().err().map(|e| e.to_string());
    let mut response = json!({ "uid": req.uid, "allowed": refusal.is_none() });
    if let Some(message) = &refusal {
        response["status"] = json!({ "message": message });
    }
    Ok(Decision {
        operation: req.operation,
        refusal,
        review: json!({
            "apiVersion": ADMISSION_V1,
            "kind": "AdmissionReview",
            "response": response,
        }),
    })
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
