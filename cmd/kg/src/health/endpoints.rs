//! The health endpoints kg serves — `/identity` (node name and version; what the HTTP probes of
//! other nodes ask for) and `/mesh-health` (this node's [`HealthReport`], what kgctl reads) —
//! and the HTTP probe's client side. Does network I/O.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kilo_mesh::health::{HealthReport, Identity};
use kilo_mesh::types::NodeName;
use tokio::sync::watch;

use super::Feed;

/// What the endpoints serve.
#[derive(Clone)]
pub struct Served {
    /// This node.
    pub node: NodeName,
    /// The latest targets, with this node's own pod path address.
    pub feed: watch::Receiver<Feed>,
    /// The latest report.
    pub report: Arc<RwLock<HealthReport>>,
}

/// `ip` is one of this host's addresses (binding to it works).
fn is_local(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

fn json(value: &impl serde::Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body + "\n").into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding: {e}\n"),
        )
            .into_response(),
    }
}

async fn identity(State(s): State<Served>) -> Response {
    let own_pod = s.feed.borrow().own_pod;
    json(&Identity {
        node: s.node.to_string(),
        version: env!("KILO_VERSION").to_owned(),
        pod_gateway: own_pod.filter(|ip| is_local(*ip)),
    })
}

async fn mesh_health(State(s): State<Served>) -> Response {
    match s.report.read() {
        Ok(r) => json(&*r),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "report lock poisoned\n").into_response(),
    }
}

/// `/identity` and `/mesh-health`, to merge into kg's HTTP server.
pub fn routes(served: Served) -> Router {
    Router::new()
        .route("/identity", get(identity))
        .route("/mesh-health", get(mesh_health))
        .with_state(served)
}

/// The HTTP probe's client (plain HTTP/1.1, one connection per probe).
#[derive(Clone)]
pub struct Prober {
    client: Client<HttpConnector, Empty<Bytes>>,
    port: u16,
}

impl Prober {
    /// Probes kg at `port` on every node.
    pub fn new(port: u16) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Self { client, port }
    }

    /// GETs `/identity` from `addr` within `timeout`; an answer from another node than
    /// `expected` is a failure (the address leads somewhere else).
    pub async fn identity(
        &self,
        addr: IpAddr,
        expected: &NodeName,
        timeout: Duration,
    ) -> Result<Identity, String> {
        let url = format!("http://{}/identity", SocketAddr::new(addr, self.port));
        let work = async {
            let uri = url.parse().map_err(|e| format!("URL {url}: {e}"))?;
            let res = self
                .client
                .get(uri)
                .await
                .map_err(|e| format!("{:#}", anyhow::Error::new(e)))?;
            let status = res.status();
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading the body: {e}"))?
                .to_bytes();
            if !status.is_success() {
                return Err(format!("answered {status}"));
            }
            let id: Identity =
                serde_json::from_slice(&body).map_err(|e| format!("not an identity: {e}"))?;
            if id.node == expected.as_str() {
                Ok(id)
            } else {
                Err(format!("answered as node {:?}, not {expected}", id.node))
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(e)) => Err(format!("HTTP GET {url}: {e}")),
            Err(_) => Err(format!("HTTP GET {url}: no answer within {timeout:?}")),
        }
    }
}

#[cfg(test)]
#[path = "endpoints_tests.rs"]
mod tests;
