//! The crate's error type. No I/O.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while talking to the kernel.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The netlink socket could not be opened (in the current or a given netns).
    #[error("opening a netlink socket in {netns}")]
    Socket {
        /// The netns (`current` or a path).
        netns: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The network namespace could not be entered.
    #[error("entering network namespace {path}")]
    Netns {
        /// The netns path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A kernel request failed; `context` says which.
    #[error("{context}")]
    Kernel {
        /// What kg was doing, e.g. `adding route 10.42.1.0/24 via 10.4.0.1 dev kilo0`.
        context: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// A link the plan refers to does not exist.
    #[error("link {0} not found")]
    LinkNotFound(String),
    /// A device kg adopts from another CNI (flannel's `flannel.1`) is not there (yet); kg
    /// applies again when it appears.
    #[error("link {0} not found: it belongs to the CNI kg runs on top of (is it running?)")]
    AdoptedLinkMissing(String),
    /// The plan routes through the private interface, but its name is unknown.
    #[error("the plan uses the private interface, but its name is unknown")]
    NoPrivateLink,
    /// The kernel cannot create the requested tunnel.
    #[error(
        "creating {kind} tunnel {name}: the kernel has no {kind} support (load the {module} module)"
    )]
    TunnelUnsupported {
        /// `ipip` or `vxlan`.
        kind: &'static str,
        /// The device name.
        name: String,
        /// The kernel module that provides it.
        module: &'static str,
    },
    /// A link with the tunnel's name exists but is of another kind; kg does not touch it.
    #[error("link {name} exists but is not a {kind} device")]
    ForeignTunnel {
        /// The device name.
        name: String,
        /// The expected kind.
        kind: &'static str,
    },
    /// VXLAN needs a local underlay address and none could be found.
    #[error(
        "no local address for {name}: no tunnel route has a src and the private interface has no address of that family"
    )]
    NoTunnelSource {
        /// The device name.
        name: String,
    },
    /// A route conflicts with an existing route that kg does not own.
    #[error("adding route {route}: a route kg does not own already exists for this destination")]
    ForeignConflict {
        /// The rendered route.
        route: String,
    },
}

impl NetlinkError {
    /// Wraps a kernel error with context.
    pub(crate) fn kernel(context: impl Into<String>, source: rtnetlink::Error) -> Self {
        Self::Kernel {
            context: context.into(),
            source: to_io(source),
        }
    }

    /// The errno of a kernel error, if that is what this is.
    #[must_use]
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Kernel { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Converts an rtnetlink error into an `io::Error` carrying the errno when there is one.
pub(crate) fn to_io(err: rtnetlink::Error) -> io::Error {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// The errno of an rtnetlink error, if it came from the kernel.
pub(crate) fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|c| -c.get()),
        _ => None,
    }
}
