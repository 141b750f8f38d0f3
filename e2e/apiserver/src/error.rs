//! API errors and their rendering as Kubernetes `Status` objects (no I/O).

use serde_json::{Value, json};

/// `Status.details` without the causes.
#[derive(Debug, Clone, Default)]
pub struct Details {
    /// `name`.
    pub name: String,
    /// `kind` (the plural resource name, or the Kind for validation errors).
    pub kind: String,
    /// `group`.
    pub group: String,
}

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
    /// `Status.details` (boxed: errors travel in every `Result` of the server).
    pub details: Box<Details>,
    /// `Status.details.causes`.
    pub causes: Vec<crate::fielderr::FieldError>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String) -> Self {
        Self {
            code,
            reason,
            message,
            details: Box::default(),
            causes: Vec::new(),
        }
    }

    /// 404 for a missing object.
    pub fn not_found(plural: &str, name: &str) -> Self {
        let mut e = Self::new(404, "NotFound", format!("{plural} \"{name}\" not found"));
        e.details.name = name.to_string();
        e.details.kind = plural.to_string();
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
        e.details.name = name.to_string();
        e.details.kind = plural.to_string();
        e
    }

    /// 409 for a write carrying a stale resourceVersion.
    pub fn conflict(plural: &str, name: &str) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {plural} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again"
        );
        let mut e = Self::new(409, "Conflict", message);
        e.details.name = name.to_string();
        e.details.kind = plural.to_string();
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
        e.details.name = name.to_string();
        e.details.kind = plural.to_string();
        e
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into())
    }

    /// 422 for an object that fails validation.
    pub fn invalid(plural: &str, name: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(422, "Invalid", message.into());
        e.details.name = name.to_string();
        e.details.kind = plural.to_string();
        e
    }

    /// 422 for an object with invalid fields, as apimachinery's `NewInvalid` words it (kubectl
    /// prints `The Peer "p" is invalid: field: why`, one `* field: why` line each when several).
    pub fn invalid_fields(
        kind: &str,
        group: &str,
        name: &str,
        causes: Vec<crate::fielderr::FieldError>,
    ) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let message = format!(
            "{qualified} {name:?} is invalid: {}",
            crate::fielderr::aggregate(&causes)
        );
        let mut e = Self::new(422, "Invalid", message);
        e.details.name = name.to_string();
        e.details.kind = kind.to_string();
        e.details.group = group.to_string();
        e.causes = causes;
        e
    }

    /// 403 for a request the authorizer denied.
    pub fn forbidden(message: String, name: &str, group: &str, kind: &str) -> Self {
        let mut e = Self::new(403, "Forbidden", message);
        e.details.name = name.to_string();
        e.details.group = group.to_string();
        e.details.kind = kind.to_string();
        e
    }

    /// 401 for a request whose credentials are not valid.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized".into())
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

    /// 415 for a body this server cannot decode (protobuf: `kubectl create token` sends one;
    /// `kubectl create --raw PATH -f request.json` sends the same request as JSON).
    pub fn unsupported_body(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?}; kilo-test-apiserver does not decode protobuf)"
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
        let d = &self.details;
        if !d.name.is_empty() || !d.kind.is_empty() {
            status["details"] = json!({ "name": d.name, "kind": d.kind });
            if !d.group.is_empty() {
                status["details"]["group"] = json!(d.group);
            }
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| json!({"reason": c.kind.reason(), "message": c.body(), "field": c.field}))
                .collect();
            status["details"]["causes"] = Value::Array(causes);
        }
        status
    }
}

/// Result of an API operation.
pub type ApiResult<T> = Result<T, ApiError>;
