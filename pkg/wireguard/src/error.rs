//! The crate's error type. Messages carry the interface, the file or a peer fingerprint for
//! context, never key material. No I/O.

use std::path::PathBuf;

use kilo_mesh::types::IfName;

/// Everything that can go wrong while configuring or reading a WireGuard device.
#[derive(Debug, thiserror::Error)]
pub enum WgError {
    /// The userspace daemon's UAPI socket is missing or refuses connections.
    #[error(
        "no userspace WireGuard device {interface}: cannot connect to {} (is wireguard-go running?)",
        path.display()
    )]
    NoUserspaceDevice {
        /// The device.
        interface: IfName,
        /// The socket that was tried.
        path: PathBuf,
        /// The connect error.
        #[source]
        source: std::io::Error,
    },
    /// Reading from or writing to the UAPI socket failed.
    #[error("talking to the UAPI socket of {interface} ({op})")]
    Uapi {
        /// The device.
        interface: IfName,
        /// `get` or `set`.
        op: &'static str,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The daemon answered a request with a non-zero errno.
    #[error("{op} on {interface} refused by the userspace daemon: errno {errno}")]
    Refused {
        /// The device.
        interface: IfName,
        /// `get` or `set`.
        op: &'static str,
        /// The errno the daemon reported.
        errno: i32,
    },
    /// The daemon's or the kernel's answer could not be understood.
    #[error("unexpected answer from {interface}: {why}")]
    Protocol {
        /// The device.
        interface: IfName,
        /// What was wrong (never contains key material).
        why: String,
    },
    /// The kernel has no WireGuard support.
    #[error(
        "the kernel has no WireGuard support (module wireguard not available) for {interface}; \
         use --wireguard-backend userspace"
    )]
    KernelUnsupported {
        /// The device that was to be created or configured.
        interface: IfName,
    },
    /// The kernel device does not exist and creating it was not allowed.
    #[error("WireGuard device {interface} does not exist (and --create-interface is false)")]
    NoKernelDevice {
        /// The device.
        interface: IfName,
    },
    /// A netlink request failed.
    #[error("{what} on {interface}")]
    Netlink {
        /// The device.
        interface: IfName,
        /// What was being done, e.g. `creating the link`.
        what: &'static str,
        /// The socket or kernel error.
        #[source]
        source: std::io::Error,
    },
    /// Reading, creating or fixing the private key file failed.
    #[error("{what} {}", path.display())]
    KeyFile {
        /// What was being done, e.g. `reading private key file`.
        what: &'static str,
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold a base64 WireGuard key.
    #[error("private key file {} does not hold a base64 WireGuard key", path.display())]
    KeyFormat {
        /// The key file.
        path: PathBuf,
    },
    /// The key file exists but is not a regular file.
    #[error("private key file {} is not a regular file", path.display())]
    KeyNotFile {
        /// The key file.
        path: PathBuf,
    },
}

impl WgError {
    pub(crate) fn protocol(interface: &IfName, why: impl Into<String>) -> Self {
        Self::Protocol {
            interface: interface.clone(),
            why: why.into(),
        }
    }
}
