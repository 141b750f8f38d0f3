//! Versioned CNI result types: one internal form, encoded per requested spec version
//! (0.3.x/0.4.0 carry `version` on IPs, 1.1.0 may carry interface `mtu`). No I/O.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// An interface in a result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// MAC address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// Netns path for container interfaces.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
    /// MTU (reported from 1.1.0 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

/// An address in a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpConfig {
    /// Index into `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
    /// Address with prefix length.
    pub address: IpNet,
    /// Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

/// A route in a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Destination.
    pub dst: IpNet,
    /// Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

/// A CNI result (version-independent form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CniResult {
    /// Interfaces.
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    /// Addresses.
    #[serde(default)]
    pub ips: Vec<IpConfig>,
    /// Routes.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// DNS, passed through untouched.
    #[serde(default)]
    pub dns: Value,
}

impl CniResult {
    /// Parses a result of any supported version (e.g. a prevResult or a delegate's output).
    pub fn from_value(v: &Value) -> Result<Self, serde_json::Error> {
        CniResult::deserialize(v)
    }

    /// Appends `other`, shifting its interface indices past ours.
    pub fn merge(&mut self, other: CniResult) {
        let base = self.interfaces.len();
        self.interfaces.extend(other.interfaces);
        self.ips.extend(other.ips.into_iter().map(|mut ip| {
            ip.interface = ip.interface.map(|i| i + base);
            ip
        }));
        self.routes.extend(other.routes);
        if !other.dns.is_null() && other.dns != json!({}) {
            self.dns = other.dns;
        }
    }

    /// Encodes the result for the requested spec version.
    pub fn to_json(&self, version: &str) -> Value {
        let old = version.starts_with("0.");
        let with_mtu = version == "1.1.0";
        let interfaces: Vec<Value> = self
            .interfaces
            .iter()
            .map(|i| {
                let mut i = i.clone();
                if !with_mtu {
                    i.mtu = None;
                }
                serde_json::to_value(i).unwrap_or(Value::Null)
            })
            .collect();
        let ips: Vec<Value> = self
            .ips
            .iter()
            .map(|ip| {
                let mut v = serde_json::to_value(ip).unwrap_or(Value::Null);
                if let (true, Some(o)) = (old, v.as_object_mut()) {
                    let fam = if ip.address.addr().is_ipv4() {
                        "4"
                    } else {
                        "6"
                    };
                    o.insert("version".into(), fam.into());
                }
                v
            })
            .collect();
        let mut out = Map::new();
        out.insert("cniVersion".into(), version.into());
        if !interfaces.is_empty() {
            out.insert("interfaces".into(), interfaces.into());
        }
        if !ips.is_empty() {
            out.insert("ips".into(), ips.into());
        }
        if !self.routes.is_empty() {
            out.insert(
                "routes".into(),
                serde_json::to_value(&self.routes).unwrap_or(Value::Null),
            );
        }
        let dns = if self.dns.is_null() {
            json!({})
        } else {
            self.dns.clone()
        };
        out.insert("dns".into(), dns);
        Value::Object(out)
    }
}

#[cfg(test)]
#[path = "result_tests.rs"]
mod tests;
