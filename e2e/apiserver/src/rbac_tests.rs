//! Unit tests of `rbac`.

use serde_json::json;

use super::*;

fn attrs(verb: &str, resource: &str, sub: &str, name: &str, ns: &str) -> Attributes {
    Attributes {
        verb: verb.into(),
        group: String::new(),
        resource: resource.into(),
        subresource: sub.into(),
        name: name.into(),
        namespace: ns.into(),
    }
}

#[test]
fn rules_match_verbs_groups_resources_subresources_and_names() {
    let rule = json!({"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]});
    assert!(rule_allows(&rule, &attrs("patch", "nodes", "", "n1", "")));
    assert!(!rule_allows(&rule, &attrs("delete", "nodes", "", "n1", "")));
    assert!(
        !rule_allows(&rule, &attrs("patch", "nodes", "status", "n1", "")),
        "nodes does not cover nodes/status"
    );
    let mut other_group = attrs("get", "nodes", "", "n1", "");
    other_group.group = "kilo.squat.ai".into();
    assert!(!rule_allows(&rule, &other_group));
    let named = json!({"apiGroups": ["*"], "resources": ["nodes/*"], "verbs": ["*"], "resourceNames": ["n1"]});
    assert!(rule_allows(
        &named,
        &attrs("patch", "nodes", "status", "n1", "")
    ));
    assert!(!rule_allows(
        &named,
        &attrs("patch", "nodes", "status", "n2", "")
    ));
    assert!(
        !rule_allows(&named, &attrs("list", "nodes", "status", "", "")),
        "resourceNames never match a request without a name"
    );
}

#[test]
fn the_forbidden_message_is_kube_apiservers() {
    let user = User::service_account("kube-system", "kilo", "u");
    let e = forbidden(&user, &attrs("get", "secrets", "", "s1", "default"));
    assert_eq!(e.code, 403);
    assert_eq!(
        e.message,
        "secrets \"s1\" is forbidden: User \"system:serviceaccount:kube-system:kilo\" cannot get resource \"secrets\" in API group \"\" in the namespace \"default\""
    );
    let mut peers = attrs("patch", "peers", "", "p1", "");
    peers.group = "kilo.squat.ai".into();
    assert_eq!(
        forbidden(&user, &peers).message,
        "peers.kilo.squat.ai \"p1\" is forbidden: User \"system:serviceaccount:kube-system:kilo\" cannot patch resource \"peers\" in API group \"kilo.squat.ai\" at the cluster scope"
    );
    assert_eq!(
        forbidden(&user, &attrs("list", "nodes", "", "", "")).message,
        "nodes is forbidden: User \"system:serviceaccount:kube-system:kilo\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
    );
}
