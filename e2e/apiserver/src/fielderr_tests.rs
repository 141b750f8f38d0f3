//! Unit tests of `fielderr`.

use serde_json::json;

use super::*;

#[test]
fn values_print_as_go_prints_them() {
    assert_eq!(go_value(&json!(70000)), "70000");
    assert_eq!(go_value(&json!(1.5)), "1.5");
    assert_eq!(go_value(&json!("")), "\"\"");
    assert_eq!(go_value(&json!([])), "[]interface {}{}");
    assert_eq!(
        go_value(&json!({"a": ["b"]})),
        "map[string]interface {}{\"a\":[]interface {}{\"b\"}}"
    );
}

#[test]
fn bodies_follow_the_error_type() {
    let e = FieldError::required("spec.publicKey");
    assert_eq!(e.to_string(), "spec.publicKey: Required value");
    let e = FieldError::new(
        ErrorType::Invalid,
        "spec.endpoint.port",
        json!(70000),
        "spec.endpoint.port in body should be less than or equal to 65535",
    );
    assert_eq!(
        e.to_string(),
        "spec.endpoint.port: Invalid value: 70000: spec.endpoint.port in body should be less than or equal to 65535"
    );
    let two = [e.clone(), FieldError::required("spec.publicKey"), e];
    assert_eq!(
        aggregate(&two),
        "[spec.endpoint.port: Invalid value: 70000: spec.endpoint.port in body should be less than or equal to 65535, spec.publicKey: Required value]"
    );
}
