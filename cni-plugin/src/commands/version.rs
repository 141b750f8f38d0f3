//! VERSION: the supported versions, echoing the requested version when we know it. No I/O.

use serde_json::{Value, json};

use crate::config::{SUPPORTED_VERSIONS, peek_version};

/// The VERSION answer for the raw stdin (which may be empty or not JSON).
pub fn run(raw: &[u8]) -> Value {
    let requested = peek_version(raw).filter(|v| SUPPORTED_VERSIONS.contains(&v.as_str()));
    let version = requested.unwrap_or_else(|| "1.1.0".to_owned());
    json!({ "cniVersion": version, "supportedVersions": SUPPORTED_VERSIONS })
}
