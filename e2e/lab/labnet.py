#!/usr/bin/env python3
"""labnet.py - network probes of the netns lab (run inside a lab namespace by lab.sh).

  ping DEADLINE ADDR...  one ICMP echo per address (resent every 200 ms until answered or the
                         deadline), all addresses in parallel; prints "ADDR ok MS" / "ADDR fail"
  serve PORT             TCP server (IPv4 + IPv6) answering every connection with the peer
                         address it sees; prints "ready" once listening, then "peer ADDR" lines
  probe ADDR PORT SECS   connects to a serve instance, prints the address it saw
Needs root (raw ICMP sockets); standard library only.
"""
import ipaddress
import os
import select
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(v6: bool, ident: int, seq: int) -> bytes:
    kind = 128 if v6 else 8
    payload = b"kilo-lab"
    head = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if v6:  # the kernel fills in the ICMPv6 checksum
        return head + payload
    return struct.pack("!BBHHH", kind, 0, checksum(head + payload), ident, seq) + payload


def parse_reply(v6: bool, data: bytes):
    if not v6:
        data = data[(data[0] & 0x0F) * 4:]
    if len(data) < 8:
        return None
    kind, _, _, ident, seq = struct.unpack("!BBHHH", data[:8])
    return (ident, seq) if kind == (129 if v6 else 0) else None


def ping(deadline: float, addrs: list) -> int:
    ident = os.getpid() & 0xFFFF
    targets = {}  # seq -> (addr, is_v6)
    for seq, a in enumerate(addrs):
        targets[seq] = (str(ipaddress.ip_address(a)), ipaddress.ip_address(a).version == 6)
    socks = {}
    if any(not v6 for _, v6 in targets.values()):
        socks[False] = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    if any(v6 for _, v6 in targets.values()):
        socks[True] = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    start = time.monotonic()
    end = start + deadline
    sent, done, next_send = {}, {}, 0.0
    while len(done) < len(targets) and time.monotonic() < end:
        now = time.monotonic()
        if now >= next_send:
            for seq, (addr, v6) in targets.items():
                if seq not in done:
                    sent.setdefault(seq, now)
                    try:
                        socks[v6].sendto(echo_request(v6, ident, seq), (addr, 0))
                    except OSError:
                        pass  # e.g. no route: keep trying until the deadline
            next_send = now + 0.2
        ready, _, _ = select.select(list(socks.values()), [], [], max(0.0, min(next_send, end) - time.monotonic()))
        for s in ready:
            v6 = s.family == socket.AF_INET6
            data, src = s.recvfrom(2048)
            got = parse_reply(v6, data)
            if got and got[0] == ident and got[1] in targets:
                addr, want_v6 = targets[got[1]]
                if want_v6 == v6 and ipaddress.ip_address(src[0].split("%")[0]) == ipaddress.ip_address(addr):
                    done.setdefault(got[1], (time.monotonic() - sent[got[1]]) * 1000)
    for seq, (addr, _) in targets.items():
        print(f"{addr} ok {done[seq]:.1f}" if seq in done else f"{addr} fail")
    return 0 if len(done) == len(targets) else 1


def serve(port: int) -> int:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(64)
    print("ready", flush=True)
    while True:
        c, a = s.accept()
        peer = a[0].removeprefix("::ffff:")
        print("peer", peer, flush=True)
        try:
            c.sendall((peer + "\n").encode())
        except OSError:
            pass
        c.close()


def probe(addr: str, port: int, timeout: float) -> int:
    try:
        with socket.create_connection((addr, port), timeout=timeout) as s:
            print(s.recv(100).decode().strip())
            return 0
    except OSError as e:
        print(f"probe {addr} port {port}: {e or 'timed out'}", file=sys.stderr)
        return 1


def main(argv: list) -> int:
    if len(argv) >= 3 and argv[0] == "ping":
        return ping(float(argv[1]), argv[2:])
    if len(argv) == 2 and argv[0] == "serve":
        return serve(int(argv[1]))
    if len(argv) == 4 and argv[0] == "probe":
        return probe(argv[1], int(argv[2]), float(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
