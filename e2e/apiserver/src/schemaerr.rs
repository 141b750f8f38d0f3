//! kube-openapi's words for the errors of the `jsonschema` crate: the value's path as
//! kube-apiserver names it (`spec.allowedIPs[0]`) and the messages of kube-openapi's validator,
//! as apiextensions-apiserver turns them into field errors (no I/O).

use jsonschema::error::ValidationErrorKind as K;
use serde_json::{Map, Value, json};

use crate::fielderr::{ErrorType, FieldError};

/// One step into a schema: a property or an array item.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The schema node for the value at `steps` (following properties, additionalProperties and
/// items), if the schema describes it.
fn node_at<'a>(root: &'a Value, steps: &[Step<'_>]) -> Option<&'a Value> {
    let mut node = root;
    for step in steps {
        node = match step {
            Step::Key(k) => node
                .pointer(&format!(
                    "/properties/{}",
                    k.replace('~', "~0").replace('/', "~1")
                ))
                .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))?,
            Step::Index(_) => node.get("items")?,
        };
    }
    Some(node)
}

/// kube-openapi's name of a value: keys joined with dots, indices in brackets.
fn path_name(steps: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn number_text(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => v.to_string(),
    }
}

/// Instance path segments as steps: a segment that indexes an array item in the schema is an
/// index.
fn steps_of<'a>(root: &Value, raw: &'a [String]) -> Vec<Step<'a>> {
    let mut steps: Vec<Step<'a>> = Vec::new();
    for seg in raw {
        let is_items = node_at(root, &steps)
            .is_some_and(|n| n.get("type").and_then(Value::as_str) == Some("array"));
        match seg.parse::<usize>() {
            Ok(i) if is_items => steps.push(Step::Index(i)),
            _ => steps.push(Step::Key(seg)),
        }
    }
    steps
}

/// What one error is about: the kube-openapi name of the value, where to report it, the value.
struct Ctx {
    name: String,
    field: String,
    value: Value,
    want_type: String,
}

impl Ctx {
    fn err(&self, kind: ErrorType, detail: String) -> FieldError {
        FieldError::new(kind, &self.field, self.value.clone(), detail)
    }

    fn invalid(&self, detail: String) -> FieldError {
        self.err(ErrorType::Invalid, detail)
    }

    fn count(&self, kind: ErrorType, n: usize, detail: String) -> FieldError {
        FieldError::new(kind, &self.field, json!(n), detail)
    }
}

/// The field error kube-apiserver reports for one `jsonschema` error.
pub fn field_error(
    root: &Value,
    e: &jsonschema::ValidationError<'_>,
    prefix: &str,
) -> Option<FieldError> {
    let pointer = e.instance_path().to_string();
    let raw: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let steps = steps_of(root, &raw);
    let name = path_name(&steps);
    let want_type = node_at(root, &steps)
        .and_then(|n| n.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("object")
        .to_string();
    let ctx = Ctx {
        field: join(prefix, &name),
        name,
        value: e.instance().clone().into_owned(),
        want_type,
    };
    Some(bounds(&ctx, e.kind()).unwrap_or_else(|| other(&ctx, e.kind(), prefix)))
}

fn join(prefix: &str, name: &str) -> String {
    match (prefix.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{name}"),
    }
}

/// Limits on numbers, lengths and sizes.
fn bounds(c: &Ctx, kind: &K) -> Option<FieldError> {
    let name = &c.name;
    let len = |v: &Value| v.as_array().map_or(0, Vec::len);
    Some(match kind {
        K::Maximum { limit } => c.invalid(format!(
            "{name} in body should be less than or equal to {}",
            number_text(limit)
        )),
        K::ExclusiveMaximum { limit } => c.invalid(format!(
            "{name} in body should be less than {}",
            number_text(limit)
        )),
        K::Minimum { limit } => c.invalid(format!(
            "{name} in body should be greater than or equal to {}",
            number_text(limit)
        )),
        K::ExclusiveMinimum { limit } => c.invalid(format!(
            "{name} in body should be greater than {}",
            number_text(limit)
        )),
        K::MaxLength { limit } => c.err(
            ErrorType::TooLong,
            format!("may not be longer than {limit}"),
        ),
        K::MinLength { limit } => c.invalid(format!(
            "{name} in body should be at least {limit} chars long"
        )),
        K::MaxItems { limit } => c.count(
            ErrorType::TooMany,
            len(&c.value),
            format!("must have at most {limit} items"),
        ),
        K::MinItems { limit } => c.count(
            ErrorType::Invalid,
            len(&c.value),
            format!("{name} in body should have at least {limit} items"),
        ),
        K::MaxProperties { limit } => c.count(
            ErrorType::TooMany,
            c.value.as_object().map_or(0, Map::len),
            format!("must have at most {limit} items"),
        ),
        K::MinProperties { limit } => c.invalid(format!(
            "{name} in body should have at least {limit} properties"
        )),
        _ => return None,
    })
}

/// Types, formats, enums, patterns, required properties and the junctors.
fn other(c: &Ctx, kind: &K, prefix: &str) -> FieldError {
    let name = &c.name;
    match kind {
        K::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            let child = if name.is_empty() {
                property.to_string()
            } else {
                format!("{name}.{property}")
            };
            FieldError::required(&join(prefix, &child))
        }
        K::Type { .. } => {
            let got = json_type(&c.value);
            FieldError::new(
                ErrorType::TypeInvalid,
                &c.field,
                json!(got),
                format!("{name} in body must be of type {}: \"{got}\"", c.want_type),
            )
        }
        K::Format { format } => c.err(
            ErrorType::TypeInvalid,
            format!(
                "{name} in body must be of type {format}: {}",
                crate::fielderr::go_value(&c.value)
            ),
        ),
        K::Enum { options } => c.err(
            ErrorType::NotSupported,
            format!("supported values: {}", enum_values(options)),
        ),
        K::Pattern { pattern } => c.invalid(format!("{name} in body should match '{pattern}'")),
        K::UniqueItems => c.invalid(format!("{name} in body shouldn't contain duplicates")),
        K::AnyOf { .. } => c.invalid(format!(
            "\"{name}\" must validate at least one schema (anyOf)"
        )),
        K::OneOfNotValid { .. } | K::OneOfMultipleValid { .. } => c.invalid(format!(
            "\"{name}\" must validate one and only one schema (oneOf)"
        )),
        K::Not { .. } => c.invalid(format!("\"{name}\" must not validate the schema (not)")),
        K::AdditionalProperties { unexpected } => c.invalid(format!(
            "{name}.{} in body is a forbidden property",
            unexpected.join(",")
        )),
        other => c.invalid(format!("{other:?}")),
    }
}

/// An enum's values as apimachinery's `NotSupported` lists them: quoted, null left out.
fn enum_values(options: &Value) -> String {
    let values: Vec<String> = options
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| !v.is_null())
        .map(|v| match v {
            Value::String(s) => format!("{s:?}"),
            other => format!("{:?}", other.to_string()),
        })
        .collect();
    values.join(", ")
}
