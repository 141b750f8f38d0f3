//! ValidatingAdmissionPolicies evaluated with the `cel` crate, as kube-apiserver's admission
//! plugin evaluates them: resource rules and matchConditions select the request, variables are
//! computed in order, every validation must hold; a false one denies with its message, an
//! evaluation error denies under `failurePolicy: Fail` (no I/O).

use std::collections::HashMap;

use serde_json::{Value, json};

/// What one admission request looks like to CEL (`request`, `object`, `oldObject`).
#[derive(Debug, Clone)]
pub struct Admission {
    /// The `request` variable (operation, name, subResource, resource, userInfo, …).
    pub request: Value,
    /// The object after the write (null for DELETE).
    pub object: Value,
    /// The object before it (null for CREATE).
    pub old_object: Value,
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn has(list: Option<&Value>, want: &str) -> bool {
    list.and_then(Value::as_array).is_some_and(|l| {
        l.iter()
            .any(|v| v.as_str() == Some("*") || v.as_str() == Some(want))
    })
}

/// The elements of the list at `pointer` (none when absent).
fn items<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Whether the policy's `matchConstraints.resourceRules` cover the request.
fn rules_match(policy: &Value, request: &Value) -> bool {
    let resource = match text(request, "/subResource") {
        "" => text(request, "/resource/resource").to_string(),
        sub => format!("{}/{sub}", text(request, "/resource/resource")),
    };
    items(policy, "/spec/matchConstraints/resourceRules").any(|rule| {
        has(rule.get("apiGroups"), text(request, "/resource/group"))
            && has(rule.get("apiVersions"), text(request, "/resource/version"))
            && has(rule.get("operations"), text(request, "/operation"))
            && has(rule.get("resources"), &resource)
    })
}

/// One CEL expression evaluated with the admission variables and `variables`.
fn eval(expr: &str, a: &Admission, variables: &HashMap<String, Value>) -> Result<Value, String> {
    let program = cel::Program::compile(expr).map_err(|e| format!("compilation failed: {e}"))?;
    let mut ctx = cel::Context::default();
    let to = |v: &Value| cel::to_value(v).map_err(|e| e.to_string());
    ctx.add_variable_from_value("request", to(&a.request)?);
    ctx.add_variable_from_value("object", to(&a.object)?);
    ctx.add_variable_from_value("oldObject", to(&a.old_object)?);
    ctx.add_variable_from_value("variables", to(&json!(variables))?);
    let out = program.execute(&ctx).map_err(|e| e.to_string())?;
    out.json().map_err(|e| e.to_string())
}

/// Why the policy denies the request (None: allowed, or the policy does not apply).
pub fn denial(policy: &Value, a: &Admission) -> Option<String> {
    if !rules_match(policy, &a.request) {
        return None;
    }
    let fail_closed = text(policy, "/spec/failurePolicy") != "Ignore";
    let mut variables = HashMap::new();
    let on_error = |expr: &str, e: String| {
        fail_closed.then(|| format!("expression '{expr}' resulted in error: {e}"))
    };
    for cond in items(policy, "/spec/matchConditions") {
        let expr = text(cond, "/expression");
        match eval(expr, a, &variables) {
            Ok(Value::Bool(true)) => {}
            Ok(_) => return None,
            Err(e) => return on_error(expr, e),
        }
    }
    for var in items(policy, "/spec/variables") {
        let expr = text(var, "/expression");
        match eval(expr, a, &variables) {
            Ok(v) => variables.insert(text(var, "/name").to_string(), v),
            Err(e) => return on_error(expr, e),
        };
    }
    for check in items(policy, "/spec/validations") {
        let expr = text(check, "/expression");
        match eval(expr, a, &variables) {
            Ok(Value::Bool(true)) => {}
            Ok(_) => return Some(message(check, a, &variables, expr)),
            Err(e) => return on_error(expr, e),
        }
    }
    None
}

fn message(check: &Value, a: &Admission, variables: &HashMap<String, Value>, expr: &str) -> String {
    let from_expression = check
        .get("messageExpression")
        .and_then(Value::as_str)
        .and_then(|m| eval(m, a, variables).ok())
        .and_then(|v| v.as_str().map(str::to_string));
    from_expression
        .or_else(|| {
            check
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("failed expression: {expr}"))
}

/// kube-apiserver's text for a request a bound policy denies.
pub fn denied_message(policy: &str, binding: &str, why: &str) -> String {
    format!("ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied request: {why}")
}

/// Every denial of `a` by a policy bound with the `Deny` action (parameters and match
/// resources of bindings are not supported: a binding applies its policy to every request).
pub fn enforce(policies: &[Value], bindings: &[Value], a: &Admission) -> Result<(), String> {
    for binding in bindings {
        if !has(binding.pointer("/spec/validationActions"), "Deny") {
            continue;
        }
        let wanted = text(binding, "/spec/policyName");
        let Some(policy) = policies
            .iter()
            .find(|p| text(p, "/metadata/name") == wanted)
        else {
            continue;
        };
        if let Some(why) = denial(policy, a) {
            return Err(denied_message(
                wanted,
                text(binding, "/metadata/name"),
                &why,
            ));
        }
    }
    Ok(())
}

/// The admission request of a write by `user` (`op` CREATE, UPDATE or DELETE).
pub fn admission(
    user: &crate::auth::User,
    res: &crate::resources::ResourceDef,
    (op, ns, name, sub): (&str, Option<&str>, &str, Option<&str>),
    (old, new): (Option<&Value>, Option<&Value>),
) -> Admission {
    Admission {
        request: json!({
            "operation": op, "name": name, "namespace": ns.unwrap_or_default(),
            "subResource": sub.unwrap_or_default(),
            "resource": {"group": res.group, "version": res.version, "resource": res.plural},
            "kind": {"group": res.group, "version": res.version, "kind": res.kind},
            "userInfo": {"username": user.name, "uid": user.uid, "groups": user.groups, "extra": user.extra},
        }),
        object: new.cloned().unwrap_or(Value::Null),
        old_object: old.cloned().unwrap_or(Value::Null),
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
