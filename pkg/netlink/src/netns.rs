//! Opening rtnetlink connections, in the current network namespace or in another one. Does I/O.
//!
//! A netlink socket belongs to the netns of the thread that created it and stays there. For
//! another netns, a dedicated OS thread enters it with `setns(CLONE_NEWNET)` (which affects
//! only that thread), creates the socket, and drives the connection on its own single-threaded
//! tokio runtime. The [`Handle`] and the message receiver are plain channels, so callers use
//! them from any runtime. For the current netns the connection is spawned on the caller's
//! runtime.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use futures::channel::mpsc::UnboundedReceiver;
use nix::sched::{CloneFlags, setns};
use rtnetlink::packet_core::NetlinkMessage;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::SocketAddr;
use rtnetlink::{Handle, MulticastGroup};

use crate::NetlinkError;

/// Messages the kernel sends unprompted (multicast notifications).
pub(crate) type Notifications =
    UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

/// Opens a connection; `groups` non-empty subscribes to those multicast groups.
pub(crate) fn connect(
    netns: Option<&Path>,
    groups: &[MulticastGroup],
) -> Result<(Handle, Notifications), NetlinkError> {
    match netns {
        None => connect_here(groups),
        Some(path) => connect_in(path.to_owned(), groups.to_vec()),
    }
}

fn open(
    groups: &[MulticastGroup],
) -> io::Result<(
    rtnetlink::proto::Connection<RouteNetlinkMessage>,
    Handle,
    Notifications,
)> {
    if groups.is_empty() {
        rtnetlink::new_connection()
    } else {
        rtnetlink::new_multicast_connection(groups)
    }
}

fn connect_here(groups: &[MulticastGroup]) -> Result<(Handle, Notifications), NetlinkError> {
    let err = |source| NetlinkError::Socket {
        netns: "the current netns".to_owned(),
        source,
    };
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| err(io::Error::other(e)))?;
    let (conn, handle, messages) = open(groups).map_err(err)?;
    runtime.spawn(conn);
    Ok((handle, messages))
}

fn connect_in(
    path: PathBuf,
    groups: Vec<MulticastGroup>,
) -> Result<(Handle, Notifications), NetlinkError> {
    let (tx, rx) = std_mpsc::channel();
    let thread_path = path.clone();
    std::thread::Builder::new()
        .name("kilo-netlink-netns".to_owned())
        .spawn(move || run_in(&thread_path, &groups, &tx))
        .map_err(|source| NetlinkError::Netns {
            path: path.clone(),
            source,
        })?;
    rx.recv().map_err(|_| NetlinkError::Netns {
        path: path.clone(),
        source: io::Error::other("the netns thread exited early"),
    })?
}

type Opened = Result<(Handle, Notifications), NetlinkError>;

/// The body of the netns thread: enter, open, report, drive the connection until it closes.
fn run_in(path: &Path, groups: &[MulticastGroup], tx: &std_mpsc::Sender<Opened>) {
    let netns_err = |source| NetlinkError::Netns {
        path: path.to_owned(),
        source,
    };
    let entered = File::open(path)
        .map_err(netns_err)
        .and_then(|f| setns(f, CloneFlags::CLONE_NEWNET).map_err(|e| netns_err(e.into())));
    let runtime = entered.and_then(|()| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(netns_err)
    });
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    runtime.block_on(async {
        match open(groups) {
            Ok((conn, handle, messages)) => {
                if tx.send(Ok((handle, messages))).is_ok() {
                    conn.await;
                }
            }
            Err(source) => {
                let _ = tx.send(Err(NetlinkError::Socket {
                    netns: path.display().to_string(),
                    source,
                }));
            }
        }
    });
}
