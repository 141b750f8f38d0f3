//! API errors and their rendering as Kubernetes `Status` objects (no I/O).

use serde_json::{Value, json};

/// An error answered to a client as a `Status` object with an HTTP code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code (also `Status.code`).
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// Human readable message.
    pub message: String,
    /// `Status.details.name`.
    pub name: String,
    /// `Status.details.kind` (the plural resource name, or the Kind for validation errors).
    pub kind: String,
    /// `Status.details.causes` as (field, message).
    pub causes: Vec<(String, String)>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String) -> Self {
        Self {
            code,
            reason,
            message,
            name: String::new(),
            kind: String::new(),
            causes: Vec::new(),
        }
    }

    /// 404 for a missing object.
    pub fn not_found(plural: &str, name: &str) -> Self {
        let mut e = Self::new(404, "NotFound", format!("{plural} \"{name}\" not found"));
        e.name = name.to_string();
        e.kind = plural.to_string();
        e
    }

    /// 404 for a path that names no resource.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 409 for creating an object that exists.
    pub fn already_exists(plural: &str, name: &str) -> Self {
        let mut e = Self::new(
            409,
            "AlreadyExists",
            format!("{plural} \"{name}\" already exists"),
        );
        e.name = name.to_string();
        e.kind = plural.to_string();
        e
    }

    /// 409 for a write carrying a stale resourceVersion.
    pub fn conflict(plural: &str, name: &str) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {plural} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again"
        );
        let mut e = Self::new(409, "Conflict", message);
        e.name = name.to_string();
        e.kind = plural.to_string();
        e
    }

    /// 409 for a server-side apply that conflicts with another field manager.
    pub fn apply_conflict(plural: &str, name: &str, conflicts: &[String]) -> Self {
        let message = format!(
            "Apply failed with {} conflict{}: {}",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            conflicts.join(", ")
        );
        let mut e = Self::new(409, "Conflict", message);
        e.name = name.to_string();
        e.kind = plural.to_string();
        e
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into())
    }

    /// 422 for an object that fails validation.
    pub fn invalid(plural: &str, name: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(422, "Invalid", message.into());
        e.name = name.to_string();
        e.kind = plural.to_string();
        e
    }

    /// 422 for one invalid field, shaped so kubectl prints `The Peer "p" is invalid: field: why`.
    pub fn invalid_field(kind: &str, group: &str, name: &str, field: &str, why: &str) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{qualified} {name:?} is invalid: {field}: {why}"),
        );
        e.name = name.to_string();
        e.kind = kind.to_string();
        e.causes.push((field.to_string(), why.to_string()));
        e
    }

    /// 405 for a verb a resource does not support.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message.into())
    }

    /// 415 for a patch content type the server does not know.
    pub fn unsupported_media(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
            ),
        )
    }

    /// 500 for a failure of the server itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message.into())
    }

    /// 410 for a watch from a compacted resourceVersion.
    pub fn expired(rv: u64, oldest: u64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {rv} ({oldest})"),
        )
    }

    /// The `Status` object for this error.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !self.name.is_empty() || !self.kind.is_empty() {
            status["details"] = json!({ "name": self.name, "kind": self.kind });
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|(field, message)| json!({"reason": "FieldValueInvalid", "message": message, "field": field}))
                .collect();
            status["details"]["causes"] = Value::Array(causes);
        }
        status
    }
}

/// Result of an API operation.
pub type ApiResult<T> = Result<T, ApiError>;
