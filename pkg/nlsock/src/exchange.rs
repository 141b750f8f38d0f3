//! Splitting one received datagram into netlink messages and deciding whether the exchange is
//! complete. Pure (no I/O).

use netlink_packet_core::{NetlinkDeserializable, NetlinkMessage, NetlinkPayload};
use nix::errno::Errno;

use crate::Error;

/// Where an exchange stands after a datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// More datagrams follow (a dump without its `NLMSG_DONE` yet, replies before the ACK).
    More,
    /// The ACK or `NLMSG_DONE` arrived.
    Done,
}

impl Progress {
    pub(crate) fn is_done(&self) -> bool {
        *self == Self::Done
    }
}

/// Fails with [`Error::Sequence`] when the first message of `datagram` (of which only the
/// start may be there) is not of the exchange `seq`.
pub(crate) fn check_first_sequence(datagram: &[u8], seq: u32) -> Result<(), Error> {
    // struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }, host byte order.
    let got = datagram
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes);
    match got {
        Some(got) if got != seq => Err(Error::Sequence { got, want: seq }),
        _ => Ok(()),
    }
}

/// Appends the messages of `datagram` to `replies`; every one must carry `seq`.
pub(crate) fn parse<M>(datagram: &[u8], seq: u32, replies: &mut Vec<M>) -> Result<Progress, Error>
where
    M: NetlinkDeserializable + std::fmt::Debug,
{
    let mut off = 0;
    while off < datagram.len() {
        let reply = NetlinkMessage::<M>::deserialize(&datagram[off..])
            .map_err(|e| Error::Decode(e.to_string()))?;
        let len = reply.header.length as usize;
        if len == 0 {
            return Err(Error::Decode("zero-length netlink message".into()));
        }
        if reply.header.sequence_number != seq {
            return Err(Error::Sequence {
                got: reply.header.sequence_number,
                want: seq,
            });
        }
        off += len.next_multiple_of(4);
        match reply.payload {
            NetlinkPayload::Error(e) => {
                return match e.code {
                    Some(code) => Err(Error::Kernel(Errno::from_raw(-code.get()))),
                    None => Ok(Progress::Done),
                };
            }
            NetlinkPayload::Done(d) if d.code < 0 => {
                return Err(Error::Kernel(Errno::from_raw(-d.code)));
            }
            NetlinkPayload::Done(_) => return Ok(Progress::Done),
            NetlinkPayload::InnerMessage(m) => replies.push(m),
            NetlinkPayload::Overrun(_) => {
                return Err(Error::Decode("netlink overrun".into()));
            }
            // NLMSG_NOOP and message types this version does not know: nothing to keep.
            _ => {}
        }
    }
    Ok(Progress::More)
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;
