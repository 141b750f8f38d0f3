//! The CNI error type: a spec error code, a message and details, printed as the spec's JSON.
//! No I/O.

use serde::Serialize;

/// Error codes defined by the CNI specification (1.1.0) plus kilo-cni's own (100+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 1: incompatible CNI version.
    IncompatibleVersion = 1,
    /// 2: unsupported field in the network configuration.
    UnsupportedField = 2,
    /// 4: invalid necessary environment variables.
    InvalidEnv = 4,
    /// 5: I/O failure.
    Io = 5,
    /// 6: failed to decode content.
    Decode = 6,
    /// 7: invalid network config.
    InvalidConfig = 7,
    /// 11: try again later.
    TryAgainLater = 11,
    /// 50: the plugin is not available (STATUS).
    NotAvailable = 50,
    /// 100: the attachment does not match its previous result (CHECK).
    CheckFailed = 100,
    /// 101: an address is already allocated to this container and interface.
    AlreadyAllocated = 101,
    /// 102: a delegated IPAM plugin failed without a usable error.
    Delegate = 102,
    /// 103: `CNI_IFNAME` already exists in the container netns (another attachment's).
    InterfaceExists = 103,
}

/// A CNI error, ready to be printed as `{"cniVersion","code","msg","details"}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{msg}{}", suffix(.details))]
pub struct CniError {
    /// The spec (or plugin-specific) error code.
    pub code: u32,
    /// A short message.
    pub msg: String,
    /// Longer details (may be empty).
    pub details: String,
}

impl CniError {
    /// A new error with a code, a message and details.
    pub fn new(code: Code, msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self {
            code: code as u32,
            msg: msg.into(),
            details: details.into(),
        }
    }

    /// The spec's JSON error object for `version`.
    pub fn to_json(&self, version: &str) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "cniVersion")]
            cni_version: &'a str,
            code: u32,
            msg: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            details: &'a str,
        }
        let wire = Wire {
            cni_version: version,
            code: self.code,
            msg: &self.msg,
            details: &self.details,
        };
        serde_json::to_string(&wire).unwrap_or_else(|_| {
            format!(
                r#"{{"cniVersion":"{version}","code":{},"msg":"error"}}"#,
                self.code
            )
        })
    }
}

fn suffix(details: &str) -> String {
    if details.is_empty() {
        String::new()
    } else {
        format!(": {details}")
    }
}

/// Shorthand for a result with a [`CniError`].
pub type CniResult<T> = Result<T, CniError>;

/// Builds an I/O error (code 5) with context.
pub fn io_err(what: impl Into<String>, err: &std::io::Error) -> CniError {
    CniError::new(Code::Io, what, err.to_string())
}

/// Builds an invalid network config error (code 7).
pub fn config_err(msg: impl Into<String>) -> CniError {
    CniError::new(Code::InvalidConfig, msg, "")
}
