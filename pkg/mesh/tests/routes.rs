//! Routes as Go Kilo's TestRoutes expects them: every gateway route is `onlink`, including the
//! ones over the private interface, so a /32 private address with `--encapsulate never` (common
//! on clouds) still routes. Expected routes are literal.

#[cfg(test)]
#[allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]
mod common;

use common::*;
use kilo_mesh::plan::network::RoutePlan;

/// Kilo's example with /32 private addresses.
#[cfg(test)]
fn slash_32_cluster() -> Vec<N> {
    vec![
        N::new(
            "node-a",
            "gcp",
            "203.0.113.1:51820",
            "10.0.0.1/32",
            &["10.42.0.0/24"],
        ),
        N::new(
            "node-b",
            "gcp",
            "203.0.113.2:51820",
            "10.0.0.2/32",
            &["10.42.1.0/24"],
        ),
        N::new(
            "node-c",
            "aws",
            "198.51.100.3:51820",
            "172.31.0.3/32",
            &["10.42.2.0/24"],
        ),
    ]
}

#[cfg(test)]
fn show(r: &RoutePlan) -> String {
    let via = r.via.map(|v| format!(" via {v}")).unwrap_or_default();
    let src = r.src.map(|s| format!(" src {s}")).unwrap_or_default();
    let onlink = if r.onlink { " onlink" } else { "" };
    format!("{}{via} dev {:?}{src}{onlink}", r.dst, r.dev)
}

#[cfg(test)]
fn routes_of(host: &str) -> Vec<String> {
    let mut s = settings(host);
    s.service_cidrs = vec![];
    let nodes = slash_32_cluster();
    let p = plan(&snap(&nodes.iter().collect::<Vec<_>>(), vec![]), &s);
    p.network.routes.iter().map(show).collect()
}

#[test]
fn a_follower_routes_everything_onlink_via_its_leaders_slash_32_private_ip() {
    assert_eq!(
        routes_of("node-b"),
        [
            "10.4.11.93/32 via 10.0.0.1 dev Private src 10.0.0.2 onlink",
            "10.4.25.174/32 via 10.0.0.1 dev Private src 10.0.0.2 onlink",
            "10.42.0.0/24 via 10.0.0.1 dev Private src 10.0.0.2 onlink",
            "10.42.2.0/24 via 10.0.0.1 dev Private src 10.0.0.2 onlink",
            "172.31.0.3/32 via 10.0.0.1 dev Private src 10.0.0.2 onlink",
        ]
    );
}

#[test]
fn a_leader_routes_its_location_onlink_over_the_private_interface() {
    assert_eq!(
        routes_of("node-a"),
        [
            "10.42.1.0/24 via 10.0.0.2 dev Private src 10.0.0.1 onlink",
            "10.42.2.0/24 via 10.4.25.174 dev WireGuard src 10.0.0.1 onlink",
            "172.31.0.3/32 via 10.4.25.174 dev WireGuard src 10.0.0.1 onlink",
        ]
    );
}
