//! The `Peer` custom resource (`kilo.squat.ai/v1alpha1`, cluster-scoped), its decoding one object
//! at a time (a Peer that does not decode is rejected alone, never the whole list), and its
//! translation into a mesh [`kilo_mesh::Peer`], or a rejection reason. Pure.

use std::net::IpAddr;

use ipnet::IpNet;
use kilo_mesh::plan::wireguard::PresharedKey;
use kilo_mesh::types::{Endpoint, Host, WgKey, is_dns1123_subdomain};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A non-cluster WireGuard peer (a laptop, another cluster).
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "kilo.squat.ai",
    version = "v1alpha1",
    kind = "Peer",
    plural = "peers",
    singular = "peer",
    shortname = "peer"
)]
#[serde(rename_all = "camelCase")]
pub struct PeerSpec {
    /// CIDRs routed to this peer.
    // Required by the CRD; the serde default never shows in the schema (an API server validates
    // a `default` against its own node, and [] is not minItems 1).
    #[serde(default, rename = "allowedIPs", skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1))]
    pub allowed_ips: Vec<String>,
    /// Where to reach the peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<PeerEndpoint>,
    /// Keepalive interval in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_keepalive: Option<i64>,
    /// Optional preshared key (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preshared_key: Option<String>,
    /// The peer's public key (base64).
    // Required by the CRD; no schema `default` ("" is not minLength 1).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1))]
    pub public_key: String,
}

/// A peer's endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerEndpoint {
    /// The host.
    #[serde(default, rename = "dnsOrIP")]
    pub dns_or_ip: DnsOrIp,
    /// UDP port.
    // An int32 as in Go Kilo's CRD, bounded so that the API server refuses what no decoder of the
    // Peer list could take (Kubernetes does not enforce integer formats). Required by the CRD.
    #[serde(default, skip_serializing_if = "port_unset")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
}

/// Whether a port is the serde default (0): such a port is left out when encoding, and the schema
/// carries no `default` (0 would not validate against its own bounds).
fn port_unset(port: &i32) -> bool {
    *port == 0
}

/// A host given as a DNS name or an IP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsOrIp {
    /// A DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<String>,
    /// An IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// The Peer CRD as installed: the derived schema plus `required: [allowedIPs, publicKey]` on
/// `spec` and `required: [dnsOrIP, port]` on `spec.endpoint`, as Go Kilo's CRD has them (the Rust
/// type keeps serde defaults so that one malformed object can never break the watch; none of them
/// shows in the schema as a `default`, since an API server validates every default against the
/// schema node that carries it).
#[must_use]
pub fn peer_crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use kube::CustomResourceExt as _;
    let mut crd = Peer::crd();
    for v in &mut crd.spec.versions {
        let spec = v
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .and_then(|s| s.properties.as_mut())
            .and_then(|p| p.get_mut("spec"));
        if let Some(spec) = spec {
            spec.required = Some(vec!["allowedIPs".to_owned(), "publicKey".to_owned()]);
            let endpoint = spec.properties.as_mut().and_then(|p| p.get_mut("endpoint"));
            if let Some(endpoint) = endpoint {
                endpoint.required = Some(vec!["dnsOrIP".to_owned(), "port".to_owned()]);
            }
        }
    }
    crd
}

/// Why a Peer was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("peer {name}: {reason}")]
pub struct PeerRejection {
    /// The Peer's name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// How much of a decoding error a rejection keeps: serde names the field and the offending
/// scalar, never the object, but a rejection is also an Event message.
const MAX_DECODE_ERROR: usize = 200;

/// Decodes one Peer object (a manifest). The error names the Peer and what did not decode; it
/// never carries the object (whose spec may hold a preshared key).
pub fn decode_peer(object: serde_json::Value) -> Result<Peer, PeerRejection> {
    let name = object
        .pointer("/metadata/name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    serde_json::from_value(object).map_err(|e| undecodable(name, &e))
}

/// A Peer object as the API server sent it (untyped), decoded: its spec is read in place, the
/// object is never re-encoded. Errors as [`decode_peer`]'s.
pub fn decode_dynamic_peer(object: &kube::api::DynamicObject) -> Result<Peer, PeerRejection> {
    let spec = match object.data.get("spec") {
        Some(spec) => PeerSpec::deserialize(spec),
        None => Err(<serde_json::Error as serde::de::Error>::missing_field(
            "spec",
        )),
    };
    match spec {
        Ok(spec) => Ok(Peer {
            metadata: object.metadata.clone(),
            spec,
        }),
        Err(e) => Err(undecodable(
            object.metadata.name.clone().unwrap_or_default(),
            &e,
        )),
    }
}

/// The rejection of a Peer that does not decode: serde's words (the field's expected type and
/// the offending scalar), at most [`MAX_DECODE_ERROR`] bytes.
fn undecodable(name: String, e: &serde_json::Error) -> PeerRejection {
    let mut reason = format!("the Peer does not decode: {e}");
    if reason.len() > MAX_DECODE_ERROR {
        let cut = (0..=MAX_DECODE_ERROR)
            .rev()
            .find(|i| reason.is_char_boundary(*i))
            .unwrap_or(0);
        reason.truncate(cut);
        reason.push('…');
    }
    PeerRejection { name, reason }
}

/// A Peer object as the API server sent it (untyped), decoded and translated.
pub fn mesh_peer(object: &kube::api::DynamicObject) -> Result<kilo_mesh::Peer, PeerRejection> {
    decode_dynamic_peer(object)?.to_mesh()
}

impl Peer {
    /// Validates and translates the Peer.
    pub fn to_mesh(&self) -> Result<kilo_mesh::Peer, PeerRejection> {
        let name = self.metadata.name.clone().unwrap_or_default();
        let reject = |reason: String| PeerRejection {
            name: name.clone(),
            reason,
        };
        let s = &self.spec;
        if s.allowed_ips.is_empty() {
            return Err(reject("spec.allowedIPs is empty".to_owned()));
        }
        let allowed_ips = s
            .allowed_ips
            .iter()
            .map(|c| {
                c.trim()
                    .parse::<IpNet>()
                    .map(|n| n.trunc())
                    .map_err(|_| reject(format!("spec.allowedIPs: {c:?} is not a CIDR")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let public_key: WgKey = s
            .public_key
            .parse()
            .map_err(|e| reject(format!("spec.publicKey: {e}")))?;
        let preshared_key = s
            .preshared_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(|k| {
                k.parse::<WgKey>()
                    .map(PresharedKey)
                    .map_err(|e| reject(format!("spec.presharedKey: {e}")))
            })
            .transpose()?;
        let persistent_keepalive = match s.persistent_keepalive {
            None => None,
            Some(k) => Some(u16::try_from(k).map_err(|_| {
                reject(format!(
                    "spec.persistentKeepalive: {k} is not 0-65535 seconds"
                ))
            })?),
        };
        let endpoint = s
            .endpoint
            .as_ref()
            .map(|e| endpoint(e).map_err(reject))
            .transpose()?;
        Ok(kilo_mesh::Peer {
            name: name.clone(),
            allowed_ips,
            public_key,
            endpoint,
            persistent_keepalive,
            preshared_key,
        })
    }
}

/// As in Kilo, a DNS name wins over an IP when both are given.
fn endpoint(e: &PeerEndpoint) -> Result<Endpoint, String> {
    let port = u16::try_from(e.port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("spec.endpoint.port: {} is not 1-65535", e.port))?;
    let host = match (&e.dns_or_ip.dns, &e.dns_or_ip.ip) {
        (Some(d), _) if !d.is_empty() => {
            if !is_dns1123_subdomain(d) {
                return Err(format!(
                    "spec.endpoint.dnsOrIP.dns: {d:?} is not a DNS name"
                ));
            }
            Host::Dns(d.clone())
        }
        (_, Some(ip)) if !ip.is_empty() => Host::Ip(
            ip.parse::<IpAddr>()
                .map_err(|_| format!("spec.endpoint.dnsOrIP.ip: {ip:?} is not an IP address"))?,
        ),
        _ => return Err("spec.endpoint.dnsOrIP needs dns or ip".to_owned()),
    };
    Ok(Endpoint { host, port })
}
