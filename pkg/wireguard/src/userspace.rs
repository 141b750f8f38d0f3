//! The userspace backend: a device made by wireguard-go or boringtun, configured over its UAPI
//! socket `<dir>/<interface>.sock`. Does I/O (Unix sockets) through a [`UapiTransport`].

use std::io::{Read as _, Write as _};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kilo_mesh::plan::wireguard::WireGuardPlan;
use kilo_mesh::types::IfName;
use zeroize::Zeroizing;

use crate::diff::{Resolver, prepare, system_resolver};
use crate::error::WgError;
use crate::key::PrivateKey;
use crate::model::{ApplyReport, DeviceState};
use crate::{WireGuard, uapi};

/// Where wireguard-go and boringtun put their UAPI sockets.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/wireguard";

/// How long one UAPI exchange may take before it is given up.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Carries one UAPI request to a device and returns the whole answer.
pub trait UapiTransport {
    /// Sends `request` (a complete `get=1` or `set=1` message) to `interface` and returns the
    /// answer, which ends with an `errno=` line. Both may contain key material.
    fn exchange(&self, interface: &IfName, request: &[u8]) -> Result<Zeroizing<Vec<u8>>, WgError>;
}

/// The real transport: one Unix stream connection per request.
#[derive(Clone, Debug)]
pub struct SocketTransport {
    dir: PathBuf,
}

impl SocketTransport {
    /// Talks to sockets in `dir` (normally [`DEFAULT_SOCKET_DIR`]).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The socket path of `interface`.
    #[must_use]
    pub fn socket_path(&self, interface: &IfName) -> PathBuf {
        self.dir.join(format!("{interface}.sock"))
    }
}

impl UapiTransport for SocketTransport {
    fn exchange(&self, interface: &IfName, request: &[u8]) -> Result<Zeroizing<Vec<u8>>, WgError> {
        let path = self.socket_path(interface);
        let mut conn = UnixStream::connect(&path).map_err(|source| WgError::NoUserspaceDevice {
            interface: interface.clone(),
            path: path.clone(),
            source,
        })?;
        let op = if request.starts_with(b"get") {
            "get"
        } else {
            "set"
        };
        let io = |source| WgError::Uapi {
            interface: interface.clone(),
            op,
            source,
        };
        conn.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        conn.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        conn.write_all(request).map_err(io)?;
        // The daemon serves requests until EOF; closing our side ends the exchange.
        conn.shutdown(Shutdown::Write).map_err(io)?;
        let mut answer = Zeroizing::new(Vec::with_capacity(4096));
        conn.read_to_end(&mut answer).map_err(io)?;
        Ok(answer)
    }
}

/// The userspace backend.
pub struct Userspace<T = SocketTransport> {
    transport: T,
    resolver: Resolver,
}

impl Userspace<SocketTransport> {
    /// A backend for sockets in `dir` (normally [`DEFAULT_SOCKET_DIR`]).
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        Self::with_transport(SocketTransport::new(dir))
    }
}

impl<T: UapiTransport> Userspace<T> {
    /// A backend over any transport (tests record what is written).
    #[must_use]
    pub fn with_transport(transport: T) -> Self {
        Self {
            transport,
            resolver: system_resolver,
        }
    }

    /// Replaces the DNS resolver used for `Host::Dns` endpoints.
    #[must_use]
    pub fn with_resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = resolver;
        self
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }
}

impl<T: UapiTransport> WireGuard for Userspace<T> {
    fn apply(&mut self, plan: &WireGuardPlan, key: &PrivateKey) -> Result<ApplyReport, WgError> {
        let current = self.read(&plan.interface)?;
        let (update, report) = prepare(&current, plan, key.public_key(), self.resolver);
        if update.is_empty() {
            return Ok(report);
        }
        let request = uapi::render_set(&update, key);
        let answer = self
            .transport
            .exchange(&plan.interface, request.as_bytes())?;
        match uapi::errno(&plan.interface, &answer)? {
            0 => Ok(report),
            errno => Err(WgError::Refused {
                interface: plan.interface.clone(),
                op: "set",
                errno,
            }),
        }
    }

    fn read(&self, interface: &IfName) -> Result<DeviceState, WgError> {
        let answer = self.transport.exchange(interface, uapi::GET)?;
        uapi::parse_get(interface, &answer)
    }
}
