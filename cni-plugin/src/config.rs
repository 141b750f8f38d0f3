//! Network configuration parsing and validation (spec versions, the runtime's fields around
//! the plugin's own settings, which are kg's typed `KiloConf`). No I/O.

use kilo_mesh::plan::cni::BRIDGE;
use kilo_mesh::plan::cni::conf::KiloConf;
pub use kilo_mesh::plan::cni::conf::{IpamConf, RangeConf};
use kilo_mesh::types::IfName;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{CniError, CniResult, Code, config_err};

/// Versions this plugin answers to, oldest first.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

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

/// The plugin configuration (conflist entry with name/cniVersion injected, or single form).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    /// Requested spec version.
    pub cni_version: String,
    /// Network name.
    pub name: String,
    /// kilo-cni's own settings: the typed contract with kg (`kilo_mesh::plan::cni::conf`).
    #[serde(flatten)]
    pub plugin: KiloConf,
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
        if self.plugin.ip_masq {
            return Err(CniError::new(
                Code::UnsupportedField,
                "ipMasq is not supported",
                "kg does the NAT",
            ));
        }
        if self.plugin.vlan != 0 {
            return Err(CniError::new(
                Code::UnsupportedField,
                "vlan is not supported",
                "",
            ));
        }
        if self.plugin.ipam.is_none() {
            return Err(config_err("missing ipam section"));
        }
        Ok(())
    }

    /// The bridge to attach to.
    pub fn bridge_name(&self) -> &str {
        self.plugin.bridge.as_ref().map_or(BRIDGE, IfName::as_str)
    }

    /// Whether gateway addresses go on the bridge.
    pub fn gateway_on_bridge(&self) -> bool {
        self.plugin.is_gateway || self.plugin.is_default_gateway
    }

    /// The delegate IPAM plugin, if any.
    pub fn ipam_delegate(&self) -> Option<&str> {
        let kind = self.plugin.ipam.as_ref()?.kind.as_deref()?;
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

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
