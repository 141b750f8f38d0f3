//! Unit tests of `crd`.

use super::*;

/// The CRD kgctl generates (manifests/crds.yaml is checked against it for drift).
fn generated() -> Value {
    serde_json::to_value(kilo_k8s::peer::peer_crd()).unwrap()
}

#[test]
fn the_generated_peer_crd_passes_the_checks_of_a_real_server() {
    assert_eq!(check(&generated()), Vec::new());
}

#[test]
fn a_default_that_fails_its_own_node_is_caught_in_the_generated_crd() {
    let mut crd = generated();
    let spec = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties";
    crd.pointer_mut(&format!("{spec}/allowedIPs")).unwrap()["default"] = json!([]);
    crd.pointer_mut(&format!("{spec}/endpoint/properties/port"))
        .unwrap()["default"] = json!(0);
    let errs: Vec<String> = check(&crd).iter().map(ToString::to_string).collect();
    assert_eq!(
        errs,
        [
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[allowedIPs].default: \
             Invalid value: 0:  in body should have at least 1 items",
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[endpoint].properties[port].default: \
             Invalid value: 0:  in body should be greater than or equal to 1",
        ]
    );
}

#[test]
fn names_scope_and_versions_are_checked() {
    let crd = json!({"metadata": {"name": "x"}, "spec": {"group": "g.io", "scope": "Global",
        "names": {"plural": "ps", "kind": "P"}, "versions": [{"name": "v1", "storage": false}]}});
    let errs: Vec<String> = check(&crd).iter().map(ToString::to_string).collect();
    assert_eq!(
        errs,
        [
            "metadata.name: Invalid value: \"x\": must be spec.names.plural+\".\"+spec.group",
            "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"",
            "spec.versions: Invalid value: []interface {}{map[string]interface {}{\"name\":\"v1\", \"storage\":false}}: \
             must have exactly one version marked as storage version",
            "spec.versions[0].schema.openAPIV3Schema: Required value",
        ]
    );
}

#[test]
fn structural_rules() {
    let schema = json!({"type": "object", "additionalProperties": {"type": "string"},
        "properties": {"a": {"type": "array"}, "b": {"anyOf": [{"type": "string", "description": "d"}]},
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}});
    let errs: Vec<String> = check_schema(&schema, "s")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "s.additionalProperties: Forbidden: must not be used at the root",
            "s.properties[a].items: Required value: must be specified",
            "s.properties[b].anyOf[0].description: Forbidden: must be empty to be structural",
            "s.properties[b].anyOf[0].type: Forbidden: must be empty to be structural",
            "s.properties[b].type: Required value: must not be empty for specified object fields",
            "s.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified",
        ]
    );
}
