//! The WireGuard adapter of kilo-rs: applies a [`WireGuardPlan`] to a device as a minimal diff
//! (unchanged peers are never touched, so their sessions survive) and reads the device back
//! for metrics and NAT discovery. Backends: [`Userspace`] (wireguard-go / boringtun over the
//! UAPI socket), [`Kernel`] (rtnetlink + generic netlink) and, behind the `fake` feature (for
//! tests), the in-memory `Fake`.
//! Also owns the node's private key ([`PrivateKey`], [`load_or_create`]).

pub mod diff;
pub mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod kernel;
pub mod key;
pub mod model;
pub mod uapi;
pub mod userspace;

pub use kilo_mesh::plan::wireguard::WireGuardPlan;
use kilo_mesh::types::IfName;

pub use crate::error::WgError;
#[cfg(any(test, feature = "fake"))]
pub use crate::fake::Fake;
pub use crate::kernel::Kernel;
pub use crate::key::{DEFAULT_KEY_PATH, PrivateKey, load_or_create};
pub use crate::model::{ApplyReport, Change, DeviceState, PeerField, PeerState};
pub use crate::userspace::{DEFAULT_SOCKET_DIR, SocketTransport, UapiTransport, Userspace};

/// A WireGuard device driver.
pub trait WireGuard {
    /// Makes the device `plan.interface` match the plan with `key` as its private key, writing
    /// only what differs from what it reads back. DNS endpoints are resolved now.
    fn apply(&mut self, plan: &WireGuardPlan, key: &PrivateKey) -> Result<ApplyReport, WgError>;

    /// Reads the device back: key, port, peers with endpoints, allowed IPs, latest handshake,
    /// transfer counters and keepalive.
    fn read(&self, interface: &IfName) -> Result<DeviceState, WgError>;
}

/// Which backend kg uses (`--wireguard-backend`): the core's vocabulary type.
pub use kilo_mesh::types::WireGuardBackend as Backend;

/// The driver kg uses for `backend`: the userspace one talks to sockets in `socket_dir`
/// (normally [`DEFAULT_SOCKET_DIR`]), the kernel one creates a missing link when
/// `create_interface` is set.
#[must_use]
pub fn driver(
    backend: Backend,
    socket_dir: &std::path::Path,
    create_interface: bool,
) -> Box<dyn WireGuard + Send> {
    match backend {
        Backend::Kernel => Box::new(Kernel::new(create_interface)),
        Backend::Userspace => Box::new(Userspace::new(socket_dir)),
    }
}
