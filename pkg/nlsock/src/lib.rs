//! A small synchronous netlink client, shared by kilo-wireguard's kernel backend and kilo-cni:
//! one request at a time on a connected socket with strict checking on; every reply must carry
//! the request's sequence number; multipart dumps are collected up to `NLMSG_DONE`, other
//! requests up to their ACK; kernel errors become their errno; truncated datagrams are refused;
//! both buffers are zeroized after each exchange (requests may carry keys). Does I/O: a netlink
//! socket in the network namespace of the thread that opens it. See `docs/netlink.md`.

mod error;
mod exchange;

use std::fmt::Debug;
use std::marker::PhantomData;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NetlinkSerializable,
};
use netlink_packet_generic::GenlMessage;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::SocketAddr;
use netlink_sys::protocols::{NETLINK_GENERIC, NETLINK_ROUTE};
use zeroize::{Zeroize as _, Zeroizing};

pub use crate::error::Error;

/// A netlink protocol (`NETLINK_ROUTE`, `NETLINK_GENERIC`).
pub trait Family {
    /// The protocol number given to `socket(AF_NETLINK, SOCK_RAW, protocol)`.
    const PROTOCOL: isize;
}

/// A message type of the protocol `P`: what a [`Socket<P>`] sends and receives.
pub trait Message<P: Family>: NetlinkSerializable + NetlinkDeserializable + Debug {}

/// rtnetlink: links, addresses, routes.
#[derive(Debug)]
pub enum Route {}

impl Family for Route {
    const PROTOCOL: isize = NETLINK_ROUTE;
}

impl Message<Route> for RouteNetlinkMessage {}

/// Generic netlink (the controller, `wireguard`, ...).
#[derive(Debug)]
pub enum Generic {}

impl Family for Generic {
    const PROTOCOL: isize = NETLINK_GENERIC;
}

impl<F> Message<Generic> for GenlMessage<F> where
    GenlMessage<F>: NetlinkSerializable + NetlinkDeserializable + Debug
{
}

/// The receive buffer of [`Socket::open`]. The kernel sizes dump datagrams by the reader's
/// buffer but never above 32 KiB; single replies (a link with all its attributes) stay far
/// below this.
pub const DEFAULT_BUFFER: usize = 128 * 1024;

/// A connected netlink socket of protocol `P`.
pub struct Socket<P> {
    sock: netlink_sys::Socket,
    seq: u32,
    buf: Vec<u8>,
    protocol: PhantomData<P>,
}

impl<P: Family> Socket<P> {
    /// Opens a socket in the calling thread's network namespace, with strict checking of
    /// requests (the kernel rejects malformed headers and honours dump filters) and a
    /// [`DEFAULT_BUFFER`] receive buffer.
    ///
    /// # Errors
    /// [`Error::Socket`] when the socket cannot be opened, configured, bound or connected.
    pub fn open() -> Result<Self, Error> {
        Self::with_buffer(DEFAULT_BUFFER)
    }

    /// Like [`Socket::open`] with a receive buffer of `size` bytes; a datagram larger than
    /// that is refused as [`Error::Truncated`].
    ///
    /// # Errors
    /// As for [`Socket::open`].
    pub fn with_buffer(size: usize) -> Result<Self, Error> {
        let mut sock = netlink_sys::Socket::new(P::PROTOCOL).map_err(Error::Socket)?;
        sock.set_netlink_get_strict_chk(true)
            .map_err(Error::Socket)?;
        sock.bind_auto().map_err(Error::Socket)?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(Error::Socket)?;
        Ok(Self {
            sock,
            seq: 0,
            buf: Vec::with_capacity(size),
            protocol: PhantomData,
        })
    }

    /// Sends `msg` with `NLM_F_REQUEST | flags` and returns the replies: for `NLM_F_DUMP`
    /// every part up to `NLMSG_DONE`; otherwise (`NLM_F_ACK` is always added) the replies up
    /// to the ACK.
    ///
    /// # Errors
    /// [`Error::Kernel`] for a kernel error reply; the other variants for socket, decoding,
    /// truncation and sequence failures. After one of those the socket may hold stale replies
    /// and should be dropped.
    pub fn request<M: Message<P>>(&mut self, msg: M, flags: u16) -> Result<Vec<M>, Error>
    where
        NetlinkPayload<M>: From<M>,
    {
        let mut req = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(msg));
        self.transact(&mut req, flags)
    }

    /// [`Socket::request`] on a message the caller keeps (to scrub key material from it
    /// afterwards); its header's flags and sequence number are set here.
    ///
    /// # Errors
    /// As for [`Socket::request`].
    pub fn transact<M: Message<P>>(
        &mut self,
        req: &mut NetlinkMessage<M>,
        flags: u16,
    ) -> Result<Vec<M>, Error> {
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        self.seq = self.seq.wrapping_add(1);
        req.header.flags = NLM_F_REQUEST | flags | if dump { 0 } else { NLM_F_ACK };
        req.header.sequence_number = self.seq;
        req.finalize();
        let mut out = Zeroizing::new(vec![0u8; req.buffer_len()]);
        req.serialize(&mut out);
        self.sock.send(&out, 0).map_err(Error::Socket)?;
        let mut written = 0;
        let replies = self.receive(&mut written);
        self.wipe(written);
        replies
    }

    /// Zeroes the first `written` bytes of the receive buffer and leaves it holding those
    /// zeros: every datagram is read from the buffer's start, so that covers all the exchange's
    /// replies, without wiping the whole capacity (128 KiB of volatile writes, about 40 µs, on
    /// every request).
    fn wipe(&mut self, written: usize) {
        self.buf.resize(written.min(self.buf.capacity()), 0);
        self.buf.as_mut_slice().zeroize();
    }

    /// Reads datagrams until the exchange of `self.seq` is complete; `written` ends as the
    /// longest datagram read into the buffer.
    fn receive<M: Message<P>>(&mut self, written: &mut usize) -> Result<Vec<M>, Error> {
        let mut replies = Vec::new();
        loop {
            self.buf.clear();
            let received = self.sock.recv(&mut self.buf, nix::libc::MSG_TRUNC);
            *written = (*written).max(self.buf.len());
            let size = received.map_err(Error::Socket)?;
            if size > self.buf.len() {
                // A stale reply is reported as such, even when it is also too large.
                exchange::check_first_sequence(&self.buf, self.seq)?;
                return Err(Error::Truncated {
                    size,
                    capacity: self.buf.capacity(),
                });
            }
            if exchange::parse(&self.buf, self.seq, &mut replies)?.is_done() {
                return Ok(replies);
            }
        }
    }
}

#[cfg(test)]
#[path = "wipe_tests.rs"]
mod wipe_tests;
