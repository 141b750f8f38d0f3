//! A CRD version's `openAPIV3Schema` applied to custom resources as apiextensions-apiserver
//! applies it: pruning of unknown fields, defaulting, then validation by the `jsonschema` crate
//! (the schema translated to JSON Schema draft 4, formats limited to those Kubernetes enforces),
//! its errors rendered with kube-openapi's messages (no I/O).

use serde_json::{Map, Value, json};

use crate::fielderr::FieldError;

/// Formats Kubernetes enforces (kube-openapi's registry) that this server checks; any other
/// `format` (int32, int64, uint32, duration, isbn, …) is dropped as the real server drops it.
const CHECKED_FORMATS: &[&str] = &[
    "byte",
    "cidr",
    "date",
    "date-time",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "mac",
    "uri",
    "uuid",
];

/// A compiled schema.
#[derive(Debug)]
pub struct Schema {
    /// The `openAPIV3Schema`, as written in the CRD.
    pub root: Value,
    validator: jsonschema::Validator,
}

impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root
    }
}

impl Eq for Schema {}

impl Schema {
    /// Compiles `root`; the error says why the translated schema does not compile.
    pub fn compile(root: &Value) -> Result<Self, String> {
        let validator = validator_options()
            .build(&to_json_schema(root))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            root: root.clone(),
            validator,
        })
    }

    /// Validates `instance` (an object, or a `default` value) against this schema; `prefix` is
    /// the field path errors are reported under (empty for a custom resource).
    pub fn validate(&self, instance: &Value, prefix: &str) -> Vec<FieldError> {
        let mut out: Vec<FieldError> = self
            .validator
            .iter_errors(instance)
            .filter_map(|e| crate::schemaerr::field_error(&self.root, &e, prefix))
            .collect();
        out.sort_by_key(ToString::to_string);
        out
    }

    /// Admission of a custom resource: prunes unknown fields (returned as field paths), applies
    /// defaults, then validates.
    pub fn admit(&self, obj: &mut Value) -> (Vec<String>, Vec<FieldError>) {
        let mut unknown = Vec::new();
        prune(&self.root, obj, "", true, &mut unknown);
        apply_defaults(&self.root, obj);
        (unknown, self.validate(obj, ""))
    }
}

fn validator_options() -> jsonschema::ValidationOptions<'static> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .with_format("cidr", is_cidr)
        .with_format("mac", is_mac)
        .with_format("byte", is_base64)
        .with_format("uuid", is_uuid)
        .with_format("date", is_date)
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, len)) = s.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(len)) = (ip.parse::<std::net::IpAddr>(), len.parse::<u8>()) else {
        return false;
    };
    len <= if ip.is_ipv4() { 32 } else { 128 } && !s.contains('+')
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    matches!(parts.len(), 6 | 8 | 20)
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_base64(s: &str) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s.split('-')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Keywords copied as they are (their meaning is the same in JSON Schema draft 4).
const PLAIN: &[&str] = &[
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "maxProperties",
    "minProperties",
    "required",
];

/// The JSON Schema of one OpenAPI v3 schema node: `nullable` and `x-kubernetes-int-or-string`
/// become type lists, unenforced formats and descriptive keywords go.
pub fn to_json_schema(node: &Value) -> Value {
    let Some(n) = node.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    let nullable = n.get("nullable") == Some(&Value::Bool(true));
    let mut types: Vec<Value> = match n.get("type") {
        Some(Value::String(t)) => vec![json!(t)],
        _ => Vec::new(),
    };
    if n.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        types = vec![json!("integer"), json!("string")];
    }
    if !types.is_empty() {
        if nullable {
            types.push(json!("null"));
        }
        out.insert("type".into(), Value::Array(types));
    }
    for key in PLAIN {
        if let Some(v) = n.get(*key) {
            out.insert((*key).into(), v.clone());
        }
    }
    if let Some(Value::String(f)) = n.get("format")
        && CHECKED_FORMATS.contains(&f.as_str())
    {
        out.insert("format".into(), json!(f));
    }
    if let Some(Value::Array(options)) = n.get("enum") {
        let mut options = options.clone();
        if nullable {
            options.push(Value::Null);
        }
        out.insert("enum".into(), Value::Array(options));
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = n.get(key) {
            out.insert(key.into(), list.iter().map(to_json_schema).collect());
        }
    }
    for key in ["not", "items"] {
        if let Some(v) = n.get(key).filter(|v| v.is_object()) {
            out.insert(key.into(), to_json_schema(v));
        }
    }
    match n.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            out.insert("additionalProperties".into(), json!(b));
        }
        Some(v @ Value::Object(_)) => {
            out.insert("additionalProperties".into(), to_json_schema(v));
        }
        _ => {}
    }
    if let Some(Value::Object(props)) = n.get("properties") {
        let props: Map<String, Value> = props
            .iter()
            .map(|(k, v)| (k.clone(), to_json_schema(v)))
            .collect();
        out.insert("properties".into(), Value::Object(props));
    }
    Value::Object(out)
}

fn preserves_unknown(node: &Value) -> bool {
    node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

/// Removes the fields `node` does not describe from `value`, recording their paths.
pub fn prune(node: &Value, value: &mut Value, path: &str, root: bool, unknown: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let props = node.get("properties").and_then(Value::as_object);
            let additional = node.get("additionalProperties");
            let keep_all = preserves_unknown(node) || additional == Some(&Value::Bool(true));
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let child = props
                    .and_then(|p| p.get(&key))
                    .or_else(|| additional.filter(|a| a.is_object()));
                match (child, map.get_mut(&key)) {
                    (Some(child), Some(v)) => prune(child, v, &child_path, false, unknown),
                    (None, Some(_)) if !keep_all => {
                        map.remove(&key);
                        unknown.push(child_path);
                    }
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = node.get("items") {
                for (i, v) in items.iter_mut().enumerate() {
                    prune(item, v, &format!("{path}[{i}]"), false, unknown);
                }
            }
        }
        _ => {}
    }
}

/// Fills in `default`s of missing properties (and of nulls where the property is not
/// nullable), recursing into what is present.
pub fn apply_defaults(node: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = node.get("properties").and_then(Value::as_object) {
                for (key, child) in props {
                    let nullable = child.get("nullable") == Some(&Value::Bool(true));
                    let missing = match map.get(key) {
                        None => true,
                        Some(Value::Null) => !nullable,
                        Some(_) => false,
                    };
                    if let (true, Some(default)) = (missing, child.get("default")) {
                        map.insert(key.clone(), default.clone());
                    }
                    if let Some(v) = map.get_mut(key) {
                        apply_defaults(child, v);
                    }
                }
            }
            if let Some(additional) = node.get("additionalProperties").filter(|a| a.is_object()) {
                for v in map.values_mut() {
                    apply_defaults(additional, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = node.get("items") {
                for v in items {
                    apply_defaults(item, v);
                }
            }
        }
        _ => {}
    }
}
