//! ICMP echo over raw sockets (kg runs as root or with CAP_NET_RAW): one connected socket per
//! probe, so the kernel hands it only packets from the probed address. IPv4 packets carry our
//! own header (IP_HDRINCL) with Don't Fragment set, so a full-size probe is never fragmented on
//! the way; IPv6 routers never fragment. Does network I/O.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const ICMP_HEADER: usize = 8;
/// The small probe's size: an IP packet of 84 bytes, as `ping` sends by default.
pub const SMALL: usize = 84;

/// Linux's errno when a packet exceeds the local route's MTU.
const EMSGSIZE: i32 = 90;

static NEXT_ID: AtomicU16 = AtomicU16::new(1);

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    #[allow(clippy::cast_possible_truncation, reason = "folded into 16 bits above")]
    let folded = sum as u16;
    !folded
}

/// An ICMP echo request (`kind` 8 for IPv4, 128 for IPv6) of `len` bytes (at least the header).
pub fn echo_request(kind: u8, id: u16, seq: u16, len: usize) -> Vec<u8> {
    let mut m = vec![0u8; len.max(ICMP_HEADER)];
    m[0] = kind;
    m[4..6].copy_from_slice(&id.to_be_bytes());
    m[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in m[ICMP_HEADER..].iter_mut().enumerate() {
        #[allow(clippy::cast_possible_truncation, reason = "a repeating byte pattern")]
        let v = i as u8;
        *b = v;
    }
    // ICMPv6's checksum covers a pseudo-header: the kernel computes it for raw ICMPv6 sockets
    if kind == 8 {
        let c = checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
    }
    m
}

/// An IPv4 header for `total` bytes to `dst` with Don't Fragment set; the kernel fills in the
/// source address, the identification and the checksum (raw(7)).
pub fn ipv4_header(dst: Ipv4Addr, total: usize) -> [u8; IPV4_HEADER] {
    let mut h = [0u8; IPV4_HEADER];
    h[0] = 0x45;
    let total = u16::try_from(total).unwrap_or(u16::MAX);
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[6] = 0x40; // DF
    h[8] = 64; // TTL
    h[9] = 1; // ICMP
    h[16..20].copy_from_slice(&dst.octets());
    h
}

/// What a received packet says about our echo `(id, seq)`.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// The echo reply.
    Reply,
    /// "Fragmentation needed" for it, with the next hop's MTU (IPv4 type 3 code 4, IPv6
    /// "packet too big").
    TooBig(u32),
    /// Something else (another probe's reply, our own request looped back).
    Other,
}

/// Reads an ICMP message (IPv4: with its IP header, as raw IPv4 sockets deliver it).
pub fn parse(packet: &[u8], v6: bool, id: u16, seq: u16) -> Answer {
    let icmp = if v6 {
        packet
    } else {
        let ihl = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
        packet.get(ihl..).unwrap_or_default()
    };
    let ours = |m: &[u8]| m.get(4..8) == Some(&[id.to_be_bytes(), seq.to_be_bytes()].concat()[..]);
    let (reply, too_big) = if v6 {
        (129, (2, None))
    } else {
        (0, (3, Some(4)))
    };
    match (icmp.first(), icmp.get(1)) {
        (Some(t), _) if *t == reply && ours(icmp) => Answer::Reply,
        (Some(t), Some(c)) if *t == too_big.0 && too_big.1.is_none_or(|want| *c == want) => {
            // the original packet follows the 8-byte header: its IP header, then our echo
            let inner = icmp.get(ICMP_HEADER..).unwrap_or_default();
            let skip = if v6 {
                IPV6_HEADER
            } else {
                usize::from(inner.first().map_or(0, |b| b & 0x0f)) * 4
            };
            let mtu = if v6 {
                icmp.get(4..8)
                    .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            } else {
                icmp.get(6..8)
                    .map_or(0, |b| u32::from(u16::from_be_bytes([b[0], b[1]])))
            };
            if inner.get(skip..).is_some_and(ours) {
                Answer::TooBig(mtu)
            } else {
                Answer::Other
            }
        }
        _ => Answer::Other,
    }
}

fn socket(dst: IpAddr) -> std::io::Result<Socket> {
    let s = match dst {
        IpAddr::V4(_) => {
            let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?;
            s.set_header_included_v4(true)?;
            s
        }
        IpAddr::V6(_) => Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?,
    };
    s.set_nonblocking(true)?;
    s.connect(&SocketAddr::new(dst, 0).into())?;
    Ok(s)
}

/// The raw socket, registered with tokio. Tokio's `UdpSocket` is a thin wrapper over any
/// connected datagram socket's `send`/`recv`, which is all a raw socket needs; it is the safe
/// way in (`AsyncFd::new` is deprecated as unsound and `AsyncFd::register` is `unsafe`).
fn registered(s: Socket) -> std::io::Result<UdpSocket> {
    UdpSocket::from_std(std::net::UdpSocket::from(s))
}

async fn wait_for(sock: &UdpSocket, v6: bool, id: u16, seq: u16) -> std::io::Result<Answer> {
    let mut buf = vec![0u8; 65536];
    loop {
        let n = sock.recv(&mut buf).await?;
        match parse(&buf[..n], v6, id, seq) {
            Answer::Other => {}
            answer => return Ok(answer),
        }
    }
}

/// Sends one echo request of `size` bytes (the whole IP packet) to `dst` and waits up to
/// `timeout` for the reply: its round trip, or why there is none.
pub async fn echo(dst: IpAddr, size: usize, timeout: Duration) -> Result<Duration, String> {
    let v6 = dst.is_ipv6();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let seq = u16::try_from(std::process::id() & 0xffff).unwrap_or(0);
    let packet = match dst {
        IpAddr::V4(v4) => {
            let size = size.max(IPV4_HEADER + ICMP_HEADER);
            let mut p = ipv4_header(v4, size).to_vec();
            p.extend(echo_request(8, id, seq, size - IPV4_HEADER));
            p
        }
        IpAddr::V6(_) => echo_request(128, id, seq, size.saturating_sub(IPV6_HEADER)),
    };
    let sock = socket(dst)
        .and_then(registered)
        .map_err(|e| format!("ICMP socket: {e}"))?;
    let started = Instant::now();
    match sock.send(&packet).await {
        Err(e) if e.raw_os_error() == Some(EMSGSIZE) => {
            return Err(format!(
                "{size}-byte echo does not fit the local route's MTU"
            ));
        }
        Err(e) => return Err(format!("sending the {size}-byte echo: {e}")),
        Ok(_) => {}
    }
    match tokio::time::timeout(timeout, wait_for(&sock, v6, id, seq)).await {
        Ok(Ok(Answer::Reply)) => Ok(started.elapsed()),
        Ok(Ok(Answer::TooBig(mtu))) => Err(format!(
            "{size}-byte echo (DF) refused on the way: fragmentation needed, next-hop MTU {mtu}"
        )),
        Ok(Ok(Answer::Other)) | Err(_) => Err(format!(
            "no reply to the {size}-byte echo within {timeout:?}"
        )),
        Ok(Err(e)) => Err(format!("receiving: {e}")),
    }
}

#[cfg(test)]
#[path = "icmp_tests.rs"]
mod tests;
