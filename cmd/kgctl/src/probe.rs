//! `kgctl check --probe`: asks every node's kg over HTTP at the node's private IP — `/readyz`,
//! and on leaders `/metrics`, whose WireGuard peer series are compared with the peers the plan
//! gives that leader. Does network I/O (plain HTTP GETs with a timeout).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kilo_mesh::views::check::{Finding, Severity};
use kilo_mesh::views::showconf::node_conf;
use kilo_mesh::views::status::{NodeStatus, cluster_status};

use crate::source::Cluster;

/// How to reach kg and what counts as stale.
pub struct ProbeSettings {
    /// kg's HTTP port.
    pub port: u16,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Handshakes older than this (seconds) are reported.
    pub max_handshake_age: i64,
}

/// kgctl's HTTP client.
pub(crate) type HttpClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

/// One probe target: a node in the mesh, where its kg listens, and the peers it should have.
struct Target {
    subject: String,
    addr: String,
    expected: Option<Vec<String>>,
}

/// Findings from every node's kg.
pub fn probe(c: &Cluster, s: &ProbeSettings) -> Result<Vec<Finding>> {
    let targets = targets(c, s.port);
    let rt = runtime()?;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    Ok(rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for t in targets {
            let (client, timeout, max_age) = (client.clone(), s.timeout, s.max_handshake_age);
            set.spawn(async move { probe_one(&client, &t, timeout, max_age).await });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            out.extend(r.unwrap_or_default());
        }
        out
    }))
}

fn targets(c: &Cluster, port: u16) -> Vec<Target> {
    let status = cluster_status(&c.snapshot, c.granularity, c.subnet);
    status
        .nodes
        .iter()
        .filter(|n| n.not_ready.is_none())
        .filter_map(|n| {
            let addr = kg_addr(n, port)?;
            let expected = n.leader.then(|| {
                crate::showconf::wg_settings(n.name.as_str(), c, 51820)
                    .ok()
                    .and_then(|st| node_conf(&c.snapshot, &st).ok())
                    .map(|p| p.peers.into_iter().map(|p| p.name).collect())
                    .unwrap_or_default()
            });
            Some(Target {
                subject: format!("node/{}", n.name),
                addr,
                expected,
            })
        })
        .collect()
}

/// Where node `n`'s kg listens: its private IP (IPv4 preferred) at `port`.
pub(crate) fn kg_addr(n: &NodeStatus, port: u16) -> Option<String> {
    let ip: IpAddr = n
        .internal_ips
        .iter()
        .map(ipnet::IpNet::addr)
        .min_by_key(IpAddr::is_ipv6)?;
    Some(std::net::SocketAddr::new(ip, port).to_string())
}

/// A runtime for kgctl's HTTP requests.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// GETs `url`: the status and the body.
pub(crate) async fn get(
    client: &HttpClient,
    url: &str,
    timeout: Duration,
) -> Result<(u16, String)> {
    let uri = url.parse().with_context(|| format!("URL {url}"))?;
    let res = tokio::time::timeout(timeout, client.get(uri))
        .await
        .with_context(|| format!("no answer within {timeout:?}"))??;
    let status = res.status().as_u16();
    let body = tokio::time::timeout(timeout, res.into_body().collect())
        .await
        .context("the body did not arrive in time")??
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

async fn probe_one(
    client: &HttpClient,
    t: &Target,
    timeout: Duration,
    max_age: i64,
) -> Vec<Finding> {
    let f = |severity, message: String| Finding {
        severity,
        subject: t.subject.clone(),
        message,
    };
    match get(client, &format!("http://{}/readyz", t.addr), timeout).await {
        Err(e) => {
            return vec![f(
                Severity::Warning,
                format!("kg at {} did not answer: {e:#}", t.addr),
            )];
        }
        Ok((200, _)) => {}
        Ok((code, body)) => {
            return vec![f(
                Severity::Error,
                format!("kg is not ready ({code}): {}", body.trim()),
            )];
        }
    }
    let Some(expected) = &t.expected else {
        return Vec::new();
    };
    let metrics = match get(client, &format!("http://{}/metrics", t.addr), timeout).await {
        Ok((200, body)) => body,
        Ok((code, _)) => return vec![f(Severity::Warning, format!("/metrics answered {code}"))],
        Err(e) => return vec![f(Severity::Warning, format!("/metrics: {e:#}"))],
    };
    let rx = receive_bytes(&metrics);
    let age = peer_series(&metrics, "kilo_wireguard_peer_handshake_age_seconds");
    let mut out = Vec::new();
    for peer in expected {
        if !rx.contains_key(peer) {
            out.push(f(
                Severity::Error,
                format!("its WireGuard device has no peer {peer} (the plan has it)"),
            ));
        } else {
            match age.get(peer) {
                None => out.push(f(
                    Severity::Warning,
                    format!("no handshake with {peer} yet (no traffic, or unreachable)"),
                )),
                Some(a) if *a > max_age => out.push(f(
                    Severity::Warning,
                    format!("last handshake with {peer} {a} s ago (idle, or unreachable)"),
                )),
                Some(_) => {}
            }
        }
    }
    out
}

/// Bytes received by peer: `kilo_wireguard_peer_receive_bytes_total`, else the gauge
/// `kilo_wireguard_peer_receive_bytes` that kg exported before it (a kg not yet upgraded).
fn receive_bytes(text: &str) -> BTreeMap<String, i64> {
    let rx = peer_series(text, "kilo_wireguard_peer_receive_bytes_total");
    if rx.is_empty() {
        peer_series(text, "kilo_wireguard_peer_receive_bytes")
    } else {
        rx
    }
}

/// `{peer label: value}` of one metric family in Prometheus text.
fn peer_series(text: &str, metric: &str) -> BTreeMap<String, i64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(metric)?.strip_prefix("{peer=\""))
        .filter_map(|l| {
            let (peer, rest) = l.split_once("\"}")?;
            let value = rest.split_whitespace().next()?.parse::<f64>().ok()?;
            #[allow(
                clippy::cast_possible_truncation,
                reason = "seconds and byte counts fit"
            )]
            Some((peer.to_owned(), value as i64))
        })
        .collect()
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
