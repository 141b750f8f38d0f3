//! The crate's error type. No I/O.

use std::io;

use nix::errno::Errno;

/// A failed netlink exchange.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel answered with an error.
    #[error("kernel: {0}")]
    Kernel(Errno),
    /// The socket could not be opened, or sending or receiving failed.
    #[error("netlink socket")]
    Socket(#[source] io::Error),
    /// A reply did not decode.
    #[error("decoding netlink reply: {0}")]
    Decode(String),
    /// A datagram was larger than the receive buffer; its tail is lost.
    #[error("truncated netlink datagram ({size} bytes, buffer of {capacity})")]
    Truncated {
        /// The datagram's size.
        size: usize,
        /// The buffer's size.
        capacity: usize,
    },
    /// A reply carried another request's sequence number.
    #[error("netlink reply out of sequence (got {got}, want {want})")]
    Sequence {
        /// The reply's sequence number.
        got: u32,
        /// The request's.
        want: u32,
    },
}

impl Error {
    /// The kernel's errno, if that is what this is.
    #[must_use]
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Self::Kernel(e) => Some(*e),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    /// A kernel error becomes its OS error, a socket error itself, the rest invalid data.
    fn from(e: Error) -> Self {
        match e {
            Error::Kernel(errno) => Self::from_raw_os_error(errno as i32),
            Error::Socket(e) => e,
            other => Self::new(io::ErrorKind::InvalidData, other),
        }
    }
}
