//! kg's listening addresses: Kilo's `--listen` forms parsed into [`Listen`], and TCP listeners
//! bound from them. `:1107` and `[::]:1107` listen on IPv6 and IPv4 at once (one socket with
//! `IPV6_V6ONLY` off, as Go does), falling back to `0.0.0.0` on a host without IPv6. Does I/O
//! (sockets).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::{Context as _, Result};
use socket2::{Domain, Protocol, Socket, Type};

/// Where to listen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    /// Every address, IPv6 and IPv4 (`:PORT`, `[::]:PORT`).
    Any(u16),
    /// One address (`0.0.0.0:PORT` is every IPv4 address only).
    Addr(SocketAddr),
}

impl Listen {
    /// The port.
    #[must_use]
    pub const fn port(self) -> u16 {
        match self {
            Self::Any(port) => port,
            Self::Addr(a) => a.port(),
        }
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any(port) => write!(f, ":{port}"),
            Self::Addr(a) => a.fmt(f),
        }
    }
}

/// Parses Kilo's `--listen` forms: `:PORT`, `[::]:PORT` (every address), `IP:PORT`, `[IPv6]:PORT`.
pub fn parse_listen(flag: &str, s: &str) -> Result<Listen> {
    let parsed = match s.strip_prefix(':') {
        Some(port) => port.parse().map(Listen::Any).ok(),
        None => s.parse::<SocketAddr>().ok().map(|a| match a {
            SocketAddr::V6(v6) if v6.ip().is_unspecified() => Listen::Any(v6.port()),
            a => Listen::Addr(a),
        }),
    };
    parsed.with_context(|| format!("{flag} {s:?}: want :PORT, IP:PORT or [IPv6]:PORT"))
}

/// Whether binding `[::]` failed because the host has no IPv6 (then kg listens on `0.0.0.0`).
pub fn lacks_ipv6(e: &std::io::Error) -> bool {
    use nix::errno::Errno;
    e.raw_os_error().is_some_and(|code| {
        [
            Errno::EAFNOSUPPORT,
            Errno::EADDRNOTAVAIL,
            Errno::EPROTONOSUPPORT,
        ]
        .iter()
        .any(|e| *e as i32 == code)
    })
}

fn socket_for(addr: SocketAddr, dual_stack: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Binds a TCP listener (call inside the tokio runtime).
pub fn bind(listen: Listen) -> std::io::Result<tokio::net::TcpListener> {
    let std = match listen {
        Listen::Addr(a) => socket_for(a, false)?,
        Listen::Any(port) => {
            match socket_for(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), true) {
                Ok(l) => l,
                Err(e) if lacks_ipv6(&e) => {
                    tracing::info!(error = %e, "no IPv6 here; listening on IPv4 only");
                    socket_for(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), false)?
                }
                Err(e) => return Err(e),
            }
        }
    };
    tokio::net::TcpListener::from_std(std)
}

#[cfg(test)]
#[path = "listen_tests.rs"]
mod tests;
