use std::time::Duration;

use kilo_mesh::health::HealthReport;

use super::*;

/// The endpoints served on a loopback port: the prober reads them as it reads another node's.
async fn serve(own_pod: Option<IpAddr>) -> (u16, watch::Sender<Feed>) {
    let (tx, rx) = watch::channel(Feed {
        own_pod,
        ..Feed::default()
    });
    let served = Served {
        node: "n3".parse().unwrap(),
        feed: rx,
        report: Arc::new(RwLock::new(HealthReport {
            node: "n3".parse().unwrap(),
            version: "v".to_owned(),
            interval_seconds: 10.0,
            targets_per_interval: 16,
            mtu: 1420,
            peers: Vec::new(),
        })),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, routes(served)).await });
    (port, tx)
}

const LO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn identity_names_the_node_and_its_pod_gateway_when_it_is_local() {
    let (port, _feed) = serve(Some(LO)).await;
    let id = Prober::new(port)
        .identity(LO, &"n3".parse().unwrap(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(id.node, "n3");
    assert_eq!(id.pod_gateway, Some(LO));
}

#[tokio::test]
async fn a_pod_gateway_not_on_this_host_is_not_claimed() {
    // 192.0.2.1 (TEST-NET-1) is on no interface: the bridge is not up
    let (port, _feed) = serve(Some("192.0.2.1".parse().unwrap())).await;
    let id = Prober::new(port)
        .identity(LO, &"n3".parse().unwrap(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(id.pod_gateway, None);
}

#[tokio::test]
async fn another_node_answering_is_a_failure() {
    let (port, _feed) = serve(None).await;
    let err = Prober::new(port)
        .identity(LO, &"n2".parse().unwrap(), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        format!("HTTP GET http://127.0.0.1:{port}/identity: answered as node \"n3\", not n2")
    );
}

#[tokio::test]
async fn nothing_listening_is_a_failure_with_the_reason() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = Prober::new(port)
        .identity(LO, &"n3".parse().unwrap(), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        err.starts_with(&format!(
            "HTTP GET http://127.0.0.1:{port}/identity: client error (Connect)"
        )),
        "{err}"
    );
    assert!(err.contains("onnection refused"), "{err}");
}

#[tokio::test]
async fn mesh_health_serves_the_report() {
    let (port, _feed) = serve(None).await;
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let uri = format!("http://127.0.0.1:{port}/mesh-health")
        .parse()
        .unwrap();
    let res = client.get(uri).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        "{\"node\":\"n3\",\"version\":\"v\",\"intervalSeconds\":10.0,\"targetsPerInterval\":16,\"mtu\":1420,\"peers\":[]}\n"
    );
}
