//! Authentication and RBAC: manifests/kg-rbac.yaml applied with kubectl, a ServiceAccount token
//! bound to a Node issued through TokenRequest, and kube-rs requests as that ServiceAccount
//! allowed or refused with kube-apiserver's 403 Status.

use k8s_openapi::api::core::v1::{Event, Node, Secret};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::json;

use crate::common::Server;

const RBAC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../manifests/kg-rbac.yaml");

/// A token for kube-system/kilo bound to Node `node`, through the TokenRequest API.
fn token_for(s: &Server, node: &str) -> String {
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"boundObjectRef": {"kind": "Node", "apiVersion": "v1", "name": node}}});
    let file = s.file("tr.json", &request.to_string());
    let out = s.kubectl_ok(&[
        "create",
        "--raw",
        "/api/v1/namespaces/kube-system/serviceaccounts/kilo/token",
        "-f",
        &file,
    ]);
    let reply: serde_json::Value = serde_json::from_str(&out).unwrap();
    reply["status"]["token"].as_str().unwrap().to_string()
}

/// A client of the server with `token` (None: anonymous) instead of the admin's.
async fn client_with(s: &Server, token: Option<&str>) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(s.kubeconfig()).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    config.auth_info.token = token.map(|t| t.to_string().into());
    kube::Client::try_from(config).unwrap()
}

async fn client_as(s: &Server, token: &str) -> kube::Client {
    client_with(s, Some(token)).await
}

fn status_of(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.message),
        other => panic!("not an API error: {other:?}"),
    }
}

fn setup() -> Server {
    let s = Server::start(&[]);
    s.apply_crds();
    s.kubectl_ok(&["apply", "-f", RBAC]);
    for n in ["n1", "n2"] {
        let node = s.file(
            &format!("{n}.json"),
            &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}}).to_string(),
        );
        s.kubectl_ok(&["create", "-f", &node]);
    }
    s
}

#[tokio::test]
async fn kg_can_do_what_the_manifests_grant_and_nothing_else() {
    let s = setup();
    let kg = client_as(&s, &token_for(&s, "n1")).await;
    let nodes: Api<Node> = Api::all(kg.clone());
    assert_eq!(
        nodes.list(&Default::default()).await.unwrap().items.len(),
        2
    );
    let apply = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1",
        "annotations": {"kilo.squat.ai/key": "k"}}});
    nodes
        .patch("n1", &PatchParams::apply("kg"), &Patch::Apply(&apply))
        .await
        .unwrap();
    let gvk = GroupVersionKind::gvk("kilo.squat.ai", "v1alpha1", "Peer");
    let peers: Api<DynamicObject> = Api::all_with(
        kg.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, "peers"),
    );
    assert!(
        peers
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let event: Event = serde_json::from_value(json!({"metadata": {"name": "e1"},
        "involvedObject": {"kind": "Node", "name": "n1"}, "reason": "R", "message": "m"}))
    .unwrap();
    let events: Api<Event> = Api::namespaced(kg.clone(), "default");
    events.create(&PostParams::default(), &event).await.unwrap();

    let sa = "User \"system:serviceaccount:kube-system:kilo\"";
    let cases: Vec<(kube::Error, String)> = vec![
        (
            Api::<Secret>::namespaced(kg.clone(), "kube-system")
                .get("s")
                .await
                .unwrap_err(),
            format!(
                "secrets \"s\" is forbidden: {sa} cannot get resource \"secrets\" in API group \"\" in the namespace \"kube-system\""
            ),
        ),
        (
            Api::<Secret>::all(kg.clone())
                .list(&Default::default())
                .await
                .unwrap_err(),
            format!(
                "secrets is forbidden: {sa} cannot list resource \"secrets\" in API group \"\" at the cluster scope"
            ),
        ),
        (
            peers
                .patch("p1", &PatchParams::default(), &Patch::Merge(json!({})))
                .await
                .unwrap_err(),
            format!(
                "peers.kilo.squat.ai \"p1\" is forbidden: {sa} cannot patch resource \"peers\" in API group \"kilo.squat.ai\" at the cluster scope"
            ),
        ),
        (
            nodes.delete("n2", &Default::default()).await.unwrap_err(),
            format!(
                "nodes \"n2\" is forbidden: {sa} cannot delete resource \"nodes\" in API group \"\" at the cluster scope"
            ),
        ),
        (
            nodes.get("n1").await.unwrap_err(),
            format!(
                "nodes \"n1\" is forbidden: {sa} cannot get resource \"nodes\" in API group \"\" at the cluster scope"
            ),
        ),
        (
            nodes
                .patch_status("n1", &PatchParams::default(), &Patch::Merge(json!({})))
                .await
                .unwrap_err(),
            format!(
                "nodes \"n1\" is forbidden: {sa} cannot patch resource \"nodes/status\" in API group \"\" at the cluster scope"
            ),
        ),
        (
            Api::<Event>::namespaced(kg.clone(), "kube-system")
                .create(&PostParams::default(), &event)
                .await
                .unwrap_err(),
            format!(
                "events is forbidden: {sa} cannot create resource \"events\" in API group \"\" in the namespace \"kube-system\""
            ),
        ),
    ];
    for (err, want) in cases {
        assert_eq!(status_of(err), (403, want));
    }
}

#[tokio::test]
async fn tokens_die_with_their_service_account_or_node_and_strangers_are_refused() {
    let s = setup();
    let bound_n2 = client_as(&s, &token_for(&s, "n2")).await;
    let token = token_for(&s, "n1");
    let kg = client_as(&s, &token).await;
    Api::<Node>::all(kg.clone())
        .list(&Default::default())
        .await
        .unwrap();
    let forged = client_as(&s, &format!("{token}x")).await;
    let err = Api::<Node>::all(forged)
        .list(&Default::default())
        .await
        .unwrap_err();
    assert_eq!(status_of(err), (401, "Unauthorized".to_string()));
    s.kubectl_ok(&["delete", "node", "n2"]);
    let err = Api::<Node>::all(bound_n2)
        .list(&Default::default())
        .await
        .unwrap_err();
    assert_eq!(status_of(err).0, 401, "a token bound to a deleted Node");
    s.kubectl_ok(&["delete", "serviceaccount", "-n", "kube-system", "kilo"]);
    s.kubectl_ok(&["apply", "-f", RBAC]);
    let err = Api::<Node>::all(kg)
        .list(&Default::default())
        .await
        .unwrap_err();
    assert_eq!(
        status_of(err).0,
        401,
        "a token of a deleted (and recreated) ServiceAccount"
    );
    let anonymous = client_with(&s, None).await;
    let err = Api::<Node>::all(anonymous)
        .list(&Default::default())
        .await
        .unwrap_err();
    assert_eq!(
        status_of(err),
        (403, "nodes is forbidden: User \"system:anonymous\" cannot list resource \"nodes\" in API group \"\" at the cluster scope".to_string())
    );
}

#[tokio::test]
async fn the_admission_policy_confines_kg_to_its_own_nodes_kilo_annotations() {
    let s = setup();
    let policy = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../manifests/kg-admission-policy.yaml"
    );
    s.kubectl_ok(&["apply", "-f", policy]);
    let nodes: Api<Node> = Api::all(client_as(&s, &token_for(&s, "n1")).await);
    let apply = |name: &str, annotations: serde_json::Value, labels: serde_json::Value| {
        json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": annotations, "labels": labels}})
    };
    let pp = PatchParams::apply("kg");
    let own = apply("n1", json!({"kilo.squat.ai/key": "k1"}), json!({}));
    nodes.patch("n1", &pp, &Patch::Apply(&own)).await.unwrap();
    let prefix = "ValidatingAdmissionPolicy 'kilo-node-confinement' with binding 'kilo-node-confinement' denied request";
    let other = apply("n2", json!({"kilo.squat.ai/key": "evil"}), json!({}));
    let err = nodes
        .patch("n2", &pp, &Patch::Apply(&other))
        .await
        .unwrap_err();
    assert_eq!(
        status_of(err),
        (
            403,
            format!(
                "nodes \"n2\" is forbidden: {prefix}: kg on n1 may only update its own Node, not UPDATE n2"
            )
        )
    );
    let label = apply(
        "n1",
        json!({"kilo.squat.ai/key": "k1"}),
        json!({"evil": "x"}),
    );
    let err = nodes
        .patch("n1", &pp, &Patch::Apply(&label))
        .await
        .unwrap_err();
    assert_eq!(
        status_of(err),
        (
            403,
            format!(
                "nodes \"n1\" is forbidden: {prefix}: kg may only change kilo.squat.ai/* annotations"
            )
        )
    );
    // The operator is not concerned.
    s.kubectl_ok(&["label", "node", "n2", "role=edge"]);
}
