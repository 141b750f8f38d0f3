//! Network configuration parsing and validation (plugin and IPAM sections, spec versions).
//! No I/O.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{CniError, CniResult, Code, config_err};

/// Versions this plugin answers to, oldest first.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// Default bridge name (Kilo's).
pub const DEFAULT_BRIDGE: &str = "kube-bridge";

/// Default host-local data directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// A spec version as a comparable triple.
pub fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
    let t = (it.next()??, it.next()??, it.next()??);
    if it.next().is_some() { None } else { Some(t) }
}

/// Fails with code 1 unless `version` is one we support.
pub fn check_version(version: &str) -> CniResult<()> {
    if SUPPORTED_VERSIONS.contains(&version) {
        return Ok(());
    }
    Err(CniError::new(
        Code::IncompatibleVersion,
        format!("incompatible CNI version {version:?}"),
        format!("supported versions: {}", SUPPORTED_VERSIONS.join(", ")),
    ))
}

/// One range of a range set, as host-local configures it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeConf {
    /// The subnet to allocate from.
    pub subnet: IpNet,
    /// First allocatable address (default: subnet + 1).
    pub range_start: Option<IpAddr>,
    /// Last allocatable address (default: broadcast - 1 for IPv4, last address for IPv6).
    pub range_end: Option<IpAddr>,
    /// Gateway (default: subnet + 1).
    pub gateway: Option<IpAddr>,
}

/// A route from the IPAM config.
#[derive(Debug, Clone, Deserialize)]
pub struct RouteConf {
    /// Destination.
    pub dst: IpNet,
    /// Gateway (default: the range's gateway is NOT implied; no gateway means on-link).
    pub gw: Option<IpAddr>,
}

/// The `ipam` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpamConf {
    /// Delegate IPAM plugin; empty or absent selects the built-in host-local compatible IPAM.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Range sets (one per address family, usually).
    #[serde(default)]
    pub ranges: Vec<Vec<RangeConf>>,
    /// Legacy single-range form: subnet.
    pub subnet: Option<IpNet>,
    /// Legacy single-range form: first address.
    pub range_start: Option<IpAddr>,
    /// Legacy single-range form: last address.
    pub range_end: Option<IpAddr>,
    /// Legacy single-range form: gateway.
    pub gateway: Option<IpAddr>,
    /// Extra routes.
    #[serde(default)]
    pub routes: Vec<RouteConf>,
    /// Lease directory (default /var/lib/cni/networks).
    pub data_dir: Option<String>,
}

/// The plugin configuration (conflist entry with name/cniVersion injected, or single form).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    /// Requested spec version.
    pub cni_version: String,
    /// Network name.
    pub name: String,
    /// Bridge name.
    #[serde(default)]
    pub bridge: Option<String>,
    /// Put the gateway addresses on the bridge.
    #[serde(default)]
    pub is_gateway: bool,
    /// Also install default routes in the pod (implies isGateway).
    #[serde(default)]
    pub is_default_gateway: bool,
    /// Hairpin mode on the bridge port.
    #[serde(default)]
    pub hairpin_mode: bool,
    /// MTU of the veth pair (0: kernel default).
    #[serde(default)]
    pub mtu: u32,
    /// IP masquerade: not supported (Kilo does NAT itself).
    #[serde(default)]
    pub ip_masq: bool,
    /// VLAN tag: not supported.
    #[serde(default)]
    pub vlan: u32,
    /// IPAM section.
    #[serde(default)]
    pub ipam: Option<IpamConf>,
    /// The previous result in a chain (CHECK, DEL, chained ADD).
    #[serde(default)]
    pub prev_result: Option<Value>,
    /// GC: attachments to keep.
    #[serde(rename = "cni.dev/valid-attachments", default)]
    pub valid_attachments: Option<Vec<Attachment>>,
}

/// A `cni.dev/valid-attachments` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// Container ID.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// Interface name.
    #[serde(default)]
    pub ifname: String,
}

/// Reads only `cniVersion` (for error reporting even when the rest fails to decode).
pub fn peek_version(raw: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(raw).ok()?;
    v.get("cniVersion")?.as_str().map(str::to_owned)
}

impl NetConf {
    /// Decodes (code 6) and validates (codes 1, 2, 7) a configuration.
    pub fn parse(raw: &[u8]) -> CniResult<Self> {
        let value: Value = serde_json::from_slice(raw)
            .map_err(|e| CniError::new(Code::Decode, "decoding network config", e.to_string()))?;
        let Some(obj) = value.as_object() else {
            return Err(CniError::new(
                Code::Decode,
                "decoding network config",
                "not a JSON object",
            ));
        };
        match obj.get("cniVersion") {
            Some(Value::String(v)) => check_version(v)?,
            Some(_) => return Err(config_err("cniVersion must be a string")),
            None => return Err(config_err("missing cniVersion")),
        }
        let conf: NetConf = serde_json::from_value(value).map_err(|e| {
            CniError::new(Code::InvalidConfig, "invalid network config", e.to_string())
        })?;
        conf.validate()?;
        Ok(conf)
    }

    fn validate(&self) -> CniResult<()> {
        if self.name.is_empty() {
            return Err(config_err("missing network name"));
        }
        if self.name.contains('/') || self.name == "." || self.name == ".." {
            return Err(config_err(format!("invalid network name {:?}", self.name)));
        }
        if self.ip_masq {
            return Err(CniError::new(
                Code::UnsupportedField,
                "ipMasq is not supported",
                "kg does the NAT",
            ));
        }
        if self.vlan != 0 {
            return Err(CniError::new(
                Code::UnsupportedField,
                "vlan is not supported",
                "",
            ));
        }
        let br = self.bridge_name();
        if br.is_empty() || br.len() > 15 || br.contains('/') || br.contains(char::is_whitespace) {
            return Err(config_err(format!("invalid bridge name {br:?}")));
        }
        if self.ipam.is_none() {
            return Err(config_err("missing ipam section"));
        }
        Ok(())
    }

    /// The bridge to attach to.
    pub fn bridge_name(&self) -> &str {
        self.bridge.as_deref().unwrap_or(DEFAULT_BRIDGE)
    }

    /// Whether gateway addresses go on the bridge.
    pub fn gateway_on_bridge(&self) -> bool {
        self.is_gateway || self.is_default_gateway
    }

    /// The delegate IPAM plugin, if any.
    pub fn ipam_delegate(&self) -> Option<&str> {
        let kind = self.ipam.as_ref()?.kind.as_deref()?;
        if kind.is_empty() || kind == "kilo-cni" {
            None
        } else {
            Some(kind)
        }
    }

    /// Version as a triple (already validated).
    pub fn version(&self) -> (u32, u32, u32) {
        parse_version(&self.cni_version).unwrap_or((0, 0, 0))
    }
}
