//! Every `kilo.squat.ai/*` node annotation: the keys, the parsing and validation of each value,
//! and the assembly of a mesh [`Node`] from a node's raw metadata. Pure.
//!
//! Unlike Kilo, which silently ignores values it cannot parse, every failure here is a typed
//! [`AnnotationProblem`] naming the annotation, the value and why; the caller turns them into
//! Events, log lines and metrics. A problem never makes the node unusable: the field falls back
//! to its default.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::egress::{self, EgressStatus};
use crate::implementation;
use crate::node::Node;
use crate::types::{Endpoint, Granularity, NodeName, WgKey};

/// The annotation prefix.
pub const PREFIX: &str = "kilo.squat.ai/";

/// Annotation keys (full names).
pub mod keys {
    /// User: location override.
    pub const LOCATION: &str = "kilo.squat.ai/location";
    /// User: prefer as leader (presence).
    pub const LEADER: &str = "kilo.squat.ai/leader";
    /// User: public endpoint override.
    pub const FORCE_ENDPOINT: &str = "kilo.squat.ai/force-endpoint";
    /// User: private IP override (`""`/`-` for none).
    pub const FORCE_INTERNAL_IP: &str = "kilo.squat.ai/force-internal-ip";
    /// User: keepalive seconds.
    pub const PERSISTENT_KEEPALIVE: &str = "kilo.squat.ai/persistent-keepalive";
    /// User: extra ranges routed into the location.
    pub const ALLOWED_LOCATION_IPS: &str = "kilo.squat.ai/allowed-location-ips";
    /// User: egress source addresses.
    pub const EGRESS_IP: &str = "kilo.squat.ai/egress-ip";
    /// kg: WireGuard public key.
    pub const KEY: &str = "kilo.squat.ai/key";
    /// kg: public endpoint.
    pub const ENDPOINT: &str = "kilo.squat.ai/endpoint";
    /// kg: private IP (CIDR).
    pub const INTERNAL_IP: &str = "kilo.squat.ai/internal-ip";
    /// kg: WireGuard IP of the segment this leader leads.
    pub const WIREGUARD_IP: &str = "kilo.squat.ai/wireguard-ip";
    /// kg: heartbeat (unix seconds).
    pub const LAST_SEEN: &str = "kilo.squat.ai/last-seen";
    /// kg: endpoints observed by this node's WireGuard device (JSON).
    pub const DISCOVERED_ENDPOINTS: &str = "kilo.squat.ai/discovered-endpoints";
    /// kg: the granularity this node runs with.
    pub const GRANULARITY: &str = "kilo.squat.ai/granularity";
    /// kg (kilo-rs only): the egress decision per family, JSON (`EgressStatus`).
    pub const EGRESS_IP_STATUS: &str = "kilo.squat.ai/egress-ip-status";
    /// kg (kilo-rs only): `kilo-rs; last-seen=<t>`, written with `last-seen` (crate::implementation).
    pub const IMPLEMENTATION: &str = "kilo.squat.ai/implementation";
    /// kg (kilo-rs only): since when (unix seconds) the segment has held its `wireguard-ip`.
    pub const WIREGUARD_IP_SINCE: &str = "kilo.squat.ai/wireguard-ip-since";
    /// The node's address inside the CNI's overlay (Cilium's `cilium_host` IPv4), published by
    /// kg with `--compatibility=cilium` and `""` otherwise, as Kilo does.
    pub const CNI_COMPATIBILITY_IP: &str = "kilo.squat.ai/cni-compatibility-ip";
}

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The value was used, but part of it was ignored.
    Warning,
    /// The value was rejected; the field uses its default.
    Error,
}

/// A problem with one annotation value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, thiserror::Error)]
#[error("annotation {annotation}={value:?}: {reason}")]
pub struct AnnotationProblem {
    /// The full annotation key.
    pub annotation: String,
    /// The offending value.
    pub value: String,
    /// Why it is a problem.
    pub reason: String,
    /// Whether the value was rejected or only partly used.
    pub severity: Severity,
}

/// A node's raw metadata, as the Kubernetes adapter extracts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawNode {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `spec.podCIDRs` (or `spec.podCIDR`), unparsed.
    pub pod_cidrs: Vec<String>,
    /// `status.addresses` of type `InternalIP`, unparsed.
    pub internal_addresses: Vec<String>,
}

/// Parses a node's metadata into a mesh [`Node`] plus every problem found.
///
/// `topology_label` is kg's `--topology-label`. Fails only when the name itself is invalid.
pub fn parse_node(
    raw: &RawNode,
    topology_label: &str,
) -> Result<(Node, Vec<AnnotationProblem>), AnnotationProblem> {
    let name: NodeName = raw.name.parse().map_err(|e| AnnotationProblem {
        annotation: "metadata.name".to_owned(),
        value: raw.name.clone(),
        reason: format!("{e}"),
        severity: Severity::Error,
    })?;
    let mut p = Parser {
        a: &raw.annotations,
        problems: Vec::new(),
    };
    let mut node = Node::named(name);
    let label = raw.labels.get(topology_label).map(|l| l.trim().to_owned());
    node.location = p
        .parse_with(keys::LOCATION, parse_location)
        .filter(|l| !l.is_empty())
        .or(label.filter(|l| is_label_value(l)))
        .unwrap_or_default();
    node.leader = raw.annotations.contains_key(keys::LEADER);
    node.key = p.parse_with(keys::KEY, |v| v.parse::<WgKey>().map_err(|e| e.to_string()));
    let published = p.parse_with(keys::ENDPOINT, parse_endpoint);
    let forced = p.parse_with(keys::FORCE_ENDPOINT, parse_endpoint);
    node.forced_endpoint = forced.is_some();
    node.endpoint = forced.or(published);
    let before = p.problems.len();
    node.internal_ips = p.internal_ips(&raw.internal_addresses);
    node.status_addresses = raw
        .internal_addresses
        .iter()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .collect();
    node.forced_internal_ip =
        raw.annotations.contains_key(keys::FORCE_INTERNAL_IP) && p.problems.len() == before;
    node.wireguard_ip = p
        .parse_with(keys::WIREGUARD_IP, parse_optional_cidr)
        .flatten();
    node.last_seen = p.parse_with(keys::LAST_SEEN, |v| {
        v.parse::<i64>()
            .map_err(|_| "not a unix timestamp in seconds".to_owned())
    });
    node.wireguard_ip_since = p
        .parse_with(keys::WIREGUARD_IP_SINCE, parse_optional_seconds)
        .flatten();
    let last_seen = node.last_seen;
    node.implementation = p
        .parse_with(keys::IMPLEMENTATION, |v| {
            implementation::from_marker(v, last_seen)
        })
        .unwrap_or_default();
    node.persistent_keepalive = p.parse_with(keys::PERSISTENT_KEEPALIVE, parse_keepalive);
    node.allowed_location_ips = p.cidr_list(keys::ALLOWED_LOCATION_IPS);
    node.discovered_endpoints = p
        .parse_with(keys::DISCOVERED_ENDPOINTS, parse_discovered)
        .unwrap_or_default();
    node.granularity = p.parse_with(keys::GRANULARITY, |v| {
        v.parse::<Granularity>()
            .map_err(|()| "must be location or full".to_owned())
    });
    node.egress = p.egress();
    node.egress_reported = p.parse_with(keys::EGRESS_IP_STATUS, EgressStatus::from_annotation);
    node.pod_cidrs = p.pod_cidrs(&raw.pod_cidrs);
    node.cni_compatibility_ip = p
        .parse_with(keys::CNI_COMPATIBILITY_IP, parse_compatibility_ip)
        .flatten();
    Ok((node, p.problems))
}

struct Parser<'a> {
    a: &'a BTreeMap<String, String>,
    problems: Vec<AnnotationProblem>,
}

impl Parser<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.a.get(key).map(String::as_str)
    }

    fn problem(&mut self, key: &str, value: &str, reason: String, severity: Severity) {
        self.problems.push(AnnotationProblem {
            annotation: key.to_owned(),
            value: shortened(value),
            reason,
            severity,
        });
    }

    /// Parses an annotation when present; an error is recorded and yields `None`.
    fn parse_with<T>(&mut self, key: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let value = self.a.get(key)?;
        match f(value) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.problem(key, value, reason, Severity::Error);
                None
            }
        }
    }

    fn internal_ips(&mut self, status: &[String]) -> Vec<IpNet> {
        let primary = match self.get(keys::FORCE_INTERNAL_IP) {
            Some(_) => self.parse_with(keys::FORCE_INTERNAL_IP, parse_optional_cidr),
            None => self.parse_with(keys::INTERNAL_IP, parse_optional_cidr),
        };
        // An explicit "no internal IP" disables the status fallback too.
        if matches!(primary, Some(None)) {
            return Vec::new();
        }
        let mut out: Vec<IpNet> = primary.flatten().into_iter().collect();
        for s in status {
            let Ok(ip) = s.parse::<IpAddr>() else {
                continue;
            };
            if out.iter().all(|n| n.addr().is_ipv4() != ip.is_ipv4()) {
                out.push(IpNet::from(ip));
            }
        }
        out
    }

    fn cidr_list(&mut self, key: &str) -> Vec<IpNet> {
        let Some(value) = self.a.get(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.parse::<IpNet>() {
                Ok(n) => out.push(n.trunc()),
                Err(_) => self.problem(
                    key,
                    value,
                    format!("{item:?} is not a CIDR; it is ignored"),
                    Severity::Warning,
                ),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn egress(&mut self) -> egress::EgressIps {
        let Some(value) = self.a.get(keys::EGRESS_IP) else {
            return egress::EgressIps::default();
        };
        let (ips, problems) = egress::parse(value);
        for p in problems {
            let severity = if p.is_warning() {
                Severity::Warning
            } else {
                Severity::Error
            };
            self.problem(keys::EGRESS_IP, value, p.to_string(), severity);
        }
        ips
    }

    fn pod_cidrs(&mut self, raw: &[String]) -> Vec<IpNet> {
        let mut out: Vec<IpNet> = Vec::new();
        for s in raw {
            match s.parse::<IpNet>() {
                Ok(n) if out.iter().all(|o| o.addr().is_ipv4() != n.addr().is_ipv4()) => {
                    out.push(n.trunc());
                }
                Ok(_) => self.problem(
                    "spec.podCIDRs",
                    s,
                    "a second pod CIDR of the same family is ignored".to_owned(),
                    Severity::Warning,
                ),
                Err(_) => {
                    self.problem("spec.podCIDRs", s, "not a CIDR".to_owned(), Severity::Error)
                }
            }
        }
        out
    }
}

/// An endpoint peers can send to: not unspecified, loopback, multicast, broadcast or
/// IPv4-mapped IPv6.
/// The longest value a problem repeats (Events and log lines stay small whatever was written).
pub const MAX_PROBLEM_VALUE: usize = 256;

/// `value`, cut to [`MAX_PROBLEM_VALUE`] bytes (at a character boundary) with `…` appended.
fn shortened(value: &str) -> String {
    if value.len() <= MAX_PROBLEM_VALUE {
        return value.to_owned();
    }
    let mut end = MAX_PROBLEM_VALUE;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end])
}

fn parse_endpoint(v: &str) -> Result<Endpoint, String> {
    let e = v.trim().parse::<Endpoint>().map_err(|e| e.to_string())?;
    usable_endpoint(e)
}

fn usable_endpoint(e: Endpoint) -> Result<Endpoint, String> {
    match e.ip().and_then(crate::types::unusable_address) {
        Some(why) => Err(format!("a {why} address cannot be an endpoint")),
        None => Ok(e),
    }
}

/// `""` and `"-"` mean "none" (`Ok(None)`); otherwise a CIDR with a host part.
fn parse_optional_cidr(v: &str) -> Result<Option<IpNet>, String> {
    match v.trim() {
        "" | "-" => Ok(None),
        s => s
            .parse::<IpNet>()
            .map(Some)
            .map_err(|_| "not a CIDR (address/prefix)".to_owned()),
    }
}

/// `cni-compatibility-ip`: `""`/`"-"` is none; else one IPv4 host address, bare or with the
/// prefix Kilo publishes it with (`10.0.1.7/32`), never a reserved one.
fn parse_compatibility_ip(v: &str) -> Result<Option<std::net::Ipv4Addr>, String> {
    let ip = match parse_optional_cidr(v) {
        Ok(Some(net)) => net.addr(),
        Ok(None) => return Ok(None),
        Err(_) => v
            .trim()
            .parse::<IpAddr>()
            .map_err(|_| "not an IPv4 address".to_owned())?,
    };
    let IpAddr::V4(v4) = ip else {
        return Err("not an IPv4 address (IPIP needs IPv4)".to_owned());
    };
    match crate::guard::reserved(&IpNet::from(ip)) {
        Some(why) => Err(format!("not a host address: {why}")),
        None => Ok(Some(v4)),
    }
}

/// A location: trimmed, then a Kubernetes label value (at most 63 characters of
/// `[A-Za-z0-9._-]`, beginning and ending with an alphanumeric), so `" gcp "` is `gcp` and no
/// location can carry quotes, newlines or NUL into a rendering.
fn parse_location(v: &str) -> Result<String, String> {
    let t = v.trim();
    if is_label_value(t) {
        Ok(t.to_owned())
    } else {
        Err(
            "not a label value (at most 63 characters of A-Z, a-z, 0-9, '.', '_', '-', \
             beginning and ending with a letter or digit)"
                .to_owned(),
        )
    }
}

/// Whether `s` is a valid Kubernetes label value (the empty string included).
#[must_use]
pub fn is_label_value(s: &str) -> bool {
    let edge = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && edge(s.chars().next())
        && edge(s.chars().last())
}

/// Unix seconds, or `""` for none.
fn parse_optional_seconds(v: &str) -> Result<Option<i64>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a unix timestamp in seconds".to_owned());
    }
    v.parse::<i64>()
        .map(Some)
        .map_err(|_| "not a unix timestamp in seconds".to_owned())
}

fn parse_keepalive(v: &str) -> Result<u16, String> {
    v.trim()
        .parse::<u16>()
        .map_err(|_| "must be a whole number of seconds from 0 to 65535".to_owned())
}

/// Kilo writes `{"<key>": {"IP": "1.2.3.4", "Port": 51820, "Zone": ""}}`; kilo-rs also accepts
/// `{"<key>": "1.2.3.4:51820"}`.
fn parse_discovered(v: &str) -> Result<BTreeMap<WgKey, Endpoint>, String> {
    let raw: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(v).map_err(|e| format!("not a JSON object: {e}"))?;
    let mut out = BTreeMap::new();
    for (k, val) in raw {
        let key: WgKey = k.parse().map_err(|e| format!("key {k:?}: {e}"))?;
        let endpoint = match &val {
            serde_json::Value::String(s) => parse_endpoint(s)?,
            serde_json::Value::Object(o) => {
                let ip = o
                    .get("IP")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|s| s.parse::<IpAddr>().ok())
                    .ok_or_else(|| format!("entry {}: missing or invalid IP", key.fingerprint()))?;
                let port = o
                    .get("Port")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("entry {}: invalid Port", key.fingerprint()))?;
                usable_endpoint(Endpoint::from_socket(std::net::SocketAddr::new(ip, port)))?
            }
            _ => return Err(format!("entry {}: not an endpoint", key.fingerprint())),
        };
        out.insert(key, endpoint);
    }
    Ok(out)
}

/// Renders discovered endpoints the way Kilo does, so Go and Rust nodes understand each other.
#[must_use]
pub fn render_discovered(map: &BTreeMap<WgKey, Endpoint>) -> String {
    let obj: serde_json::Map<String, serde_json::Value> = map
        .iter()
        .filter_map(|(k, e)| {
            let ip = e.ip()?;
            Some((
                k.to_base64(),
                serde_json::json!({ "IP": ip.to_string(), "Port": e.port, "Zone": "" }),
            ))
        })
        .collect();
    serde_json::Value::Object(obj).to_string()
}
