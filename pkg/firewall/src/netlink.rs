//! Writing a member-only delta without a process: the [`SetWriter`] trait the backends call
//! between read-backs, and [`NetlinkWriter`], which sends `nfnl`'s messages on a
//! `NETLINK_NETFILTER` socket of one network namespace and waits for every acknowledgement.
//! Does I/O (a netlink socket; opening one in another namespace uses a helper thread).

use std::fs::File;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use kilo_mesh::plan::firewall::Family;
use kilo_mesh::plan::firewall::nftables::TABLE;
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::{TimeVal, TimeValLike as _};

use crate::nfnl;
pub use crate::nfnl::{Change, Refused, SetChanges};

/// `NETLINK_NETFILTER`.
const NETLINK_NETFILTER: isize = 12;
/// How long a reply may take before the write counts as failed (the kernel answers at once).
const REPLY_TIMEOUT_MS: i64 = 2000;

/// Why a write over netlink did not happen or did not complete. The backends then fall back to
/// the process path with a read-back, so the kernel's state is never left unknown.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A member or name this path does not write.
    #[error("not written over netlink: {0}")]
    Refused(#[from] Refused),
    /// The socket could not be opened, or sending or receiving failed (or timed out).
    #[error("netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    /// The kernel refused a message (a negative errno, or an ipset code from 4096).
    #[error("the kernel refused the change: error {0}")]
    Kernel(i32),
    /// A reply could not be read.
    #[error("netlink reply: {0}")]
    Reply(String),
}

/// Writes set members directly, without spawning `ipset` or `nft`.
pub trait SetWriter: Send + Sync {
    /// `ipset add|del <set> <member> -exist` of each change, in order.
    ///
    /// # Errors
    /// See [`WriteError`]; some changes may have been written.
    fn ipset(&self, changes: &[(&str, Change)]) -> Result<(), WriteError>;

    /// One transaction of element changes on kg's table of `family` (all or nothing).
    ///
    /// # Errors
    /// See [`WriteError`].
    fn nft(&self, family: Family, sets: &[SetChanges<'_>]) -> Result<(), WriteError>;
}

struct Conn {
    sock: netlink_sys::Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// A [`SetWriter`] on a `NETLINK_NETFILTER` socket of one network namespace. After a failed
/// exchange the socket is dropped (it may hold stale replies) and reopened in that namespace.
pub struct NetlinkWriter {
    netns: File,
    conn: Mutex<Option<Conn>>,
}

fn socket() -> Result<Conn, WriteError> {
    let mut sock = netlink_sys::Socket::new(NETLINK_NETFILTER).map_err(WriteError::Socket)?;
    sock.bind_auto().map_err(WriteError::Socket)?;
    sock.connect(&netlink_sys::SocketAddr::new(0, 0))
        .map_err(WriteError::Socket)?;
    let timeout = TimeVal::milliseconds(REPLY_TIMEOUT_MS);
    setsockopt(&sock, sockopt::ReceiveTimeout, &timeout)
        .map_err(|e| WriteError::Socket(e.into()))?;
    Ok(Conn {
        sock,
        seq: 0,
        buf: Vec::with_capacity(64 * 1024),
    })
}

/// Opens a socket inside the namespace `netns` (a socket stays in the namespace it was created
/// in): on a short-lived thread that joins it, so the caller's thread keeps its own.
fn socket_in(netns: &File) -> Result<Conn, WriteError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(netns, CloneFlags::CLONE_NEWNET).map_err(|e| WriteError::Socket(e.into()))?;
            socket()
        })
        .join()
        .unwrap_or_else(|_| Err(WriteError::Reply("socket thread panicked".to_owned())))
    })
}

impl NetlinkWriter {
    /// A writer for the calling thread's network namespace.
    ///
    /// # Errors
    /// The namespace or the socket cannot be opened.
    pub fn current() -> Result<Self, WriteError> {
        let netns = File::open("/proc/thread-self/ns/net").map_err(WriteError::Socket)?;
        let conn = socket()?;
        Ok(Self {
            netns,
            conn: Mutex::new(Some(conn)),
        })
    }

    /// A writer for the network namespace at `path` (`/run/netns/<name>`, `/proc/<pid>/ns/net`).
    ///
    /// # Errors
    /// The namespace or the socket cannot be opened.
    pub fn in_netns(path: &Path) -> Result<Self, WriteError> {
        let netns = File::open(path).map_err(WriteError::Socket)?;
        let conn = socket_in(&netns)?;
        Ok(Self {
            netns,
            conn: Mutex::new(Some(conn)),
        })
    }

    /// Sends what `build` makes from the first free sequence number (the bytes, the sequence
    /// numbers to be acknowledged, the last one used) and waits for every acknowledgement.
    fn exchange(
        &self,
        build: impl FnOnce(u32) -> Result<(Vec<u8>, Vec<u32>, u32), Refused>,
    ) -> Result<(), WriteError> {
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let mut conn = match guard.take() {
            Some(c) => c,
            None => socket_in(&self.netns)?,
        };
        let first = conn.seq.wrapping_add(1);
        let (bytes, mut pending, last) = build(first)?;
        conn.seq = last;
        conn.sock.send(&bytes, 0).map_err(WriteError::Socket)?;
        while !pending.is_empty() {
            conn.buf.clear();
            conn.sock
                .recv(&mut conn.buf, 0)
                .map_err(WriteError::Socket)?;
            if let Some(code) =
                nfnl::acks(&conn.buf, (first, last), &mut pending).map_err(WriteError::Reply)?
            {
                return Err(WriteError::Kernel(code));
            }
        }
        // only a socket whose exchange completed is kept
        *guard = Some(conn);
        Ok(())
    }
}

impl SetWriter for NetlinkWriter {
    fn ipset(&self, changes: &[(&str, Change)]) -> Result<(), WriteError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.exchange(|first| {
            let mut buf = Vec::new();
            let mut seqs = Vec::new();
            let mut seq = first;
            for (set, change) in changes {
                buf = nfnl::ipset(buf, seq, set, *change)?;
                seqs.push(seq);
                seq = seq.wrapping_add(1);
            }
            Ok((buf, seqs, seq.wrapping_sub(1)))
        })
    }

    fn nft(&self, family: Family, sets: &[SetChanges<'_>]) -> Result<(), WriteError> {
        if sets.iter().all(|s| s.add.is_empty() && s.del.is_empty()) {
            return Ok(());
        }
        self.exchange(|first| {
            let (buf, acked) = nfnl::nft_batch(first, family, TABLE, sets)?;
            let last = acked.last().map_or(first, |s| s.wrapping_add(1));
            Ok((buf, acked, last))
        })
    }
}
