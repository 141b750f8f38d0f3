//! Field-level validation errors rendered as apimachinery's `field.Error` renders them
//! (`spec.x: Invalid value: 7: detail`), with Go's `%v`/`%q`/`%#v` formatting of the bad value
//! (no I/O).

use serde_json::Value;

/// apimachinery's `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// `Required value`.
    Required,
    /// `Invalid value: V`.
    Invalid,
    /// `Invalid value: V` for a value of the wrong type.
    TypeInvalid,
    /// `Unsupported value: V`.
    NotSupported,
    /// `Forbidden`.
    Forbidden,
    /// `Too long`.
    TooLong,
    /// `Too many: N`.
    TooMany,
}

impl ErrorType {
    /// The `Status` cause reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::TypeInvalid => "FieldValueTypeInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
        }
    }
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: ErrorType,
    /// The field path, e.g. `spec.endpoint.port`.
    pub field: String,
    /// The bad value (not shown for Required, Forbidden and Too long).
    pub value: Value,
    /// The detail after the value.
    pub detail: String,
}

impl FieldError {
    /// A new error.
    pub fn new(kind: ErrorType, field: &str, value: Value, detail: impl Into<String>) -> Self {
        Self {
            kind,
            field: field.to_string(),
            value,
            detail: detail.into(),
        }
    }

    /// `Required value` at `field`.
    pub fn required(field: &str) -> Self {
        Self::new(ErrorType::Required, field, Value::Null, "")
    }

    /// `Forbidden: detail` at `field`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(ErrorType::Forbidden, field, Value::Null, detail)
    }

    /// The message without the field (a `Status` cause's `message`).
    pub fn body(&self) -> String {
        let mut s = match self.kind {
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong => {
                self.kind.text().to_string()
            }
            _ => format!("{}: {}", self.kind.text(), go_value(&self.value)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// A JSON value as Go prints the decoded value in a field error: numbers and booleans with `%v`,
/// strings with `%q`, null as `null`, lists and maps with `%#v`.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => go_quote(s),
        Value::Array(_) | Value::Object(_) => go_sharp(v),
    }
}

fn go_number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        let f = n.as_f64().unwrap_or_default();
        // %v of a float64 uses %g: exponent form from 1e21 on.
        if f.abs() >= 1e21 {
            let s = format!("{f:e}");
            return s.replace('e', "e+").replace("e+-", "e-");
        }
        return f.to_string();
    }
    n.to_string()
}

/// Go's `%q` for the common cases (JSON's escaping coincides for ASCII text).
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Go's `%#v` of a decoded JSON value.
fn go_sharp(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_sharp).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_sharp(v)))
                .collect();
            format!("map[string]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::String(s) => go_quote(s),
        Value::Number(n) if n.is_f64() => go_number(n),
        Value::Number(n) => format!("{n}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "interface {}(nil)".into(),
    }
}

/// apimachinery's aggregate of a list: the one message, or `[a, b]`.
pub fn aggregate(errors: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errors {
        let s = e.to_string();
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    if seen.len() == 1 {
        seen.remove(0)
    } else {
        format!("[{}]", seen.join(", "))
    }
}

#[cfg(test)]
#[path = "fielderr_tests.rs"]
mod tests;
