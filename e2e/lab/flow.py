#!/usr/bin/env python3
"""flow.py - long-running flows for the lab's make-before-break checks (run inside a lab netns).

  udp-sink PORT                 counts numbered datagrams; prints "ready", and on SIGTERM
                                "received N missing M" (M: numbers below the highest not seen)
  udp-source ADDR PORT          sends one numbered datagram every 5 ms; on SIGTERM "sent N"
  tcp-echo PORT                 echoes every connection back (IPv4 and IPv6); prints "ready"
  tcp-client ADDR PORT          one connection, a line every 20 ms, each echo awaited (1 s); on
                                SIGTERM "ok N"; on a reset, an error or a lost echo "error: ..."
                                and exit 1 at once
Standard library only.
"""
import signal
import socket
import sys
import threading
import time

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def dual_stack(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    return s


def udp_sink(port):
    s = dual_stack(socket.SOCK_DGRAM, port)
    s.settimeout(0.2)
    seen = set()
    print("ready", flush=True)
    while not stop.is_set():
        try:
            data, _ = s.recvfrom(64)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        seen.add(int(data))
    top = max(seen) if seen else -1
    print(f"received {len(seen)} missing {top + 1 - len(seen)}", flush=True)
    return 0


def udp_source(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    n = 0
    while not stop.is_set():
        s.sendto(str(n).encode(), (addr, port))
        n += 1
        time.sleep(0.005)
    print(f"sent {n}", flush=True)
    return 0


def echo(conn):
    with conn:
        while True:
            data = conn.recv(4096)
            if not data:
                return
            conn.sendall(data)


def tcp_echo(port):
    s = dual_stack(socket.SOCK_STREAM, port)
    s.listen(16)
    s.settimeout(0.2)
    print("ready", flush=True)
    while not stop.is_set():
        try:
            conn, _ = s.accept()
        except (socket.timeout, InterruptedError):
            continue
        conn.settimeout(None)
        threading.Thread(target=echo, args=(conn,), daemon=True).start()
    return 0


def tcp_client(addr, port):
    n = 0
    try:
        s = socket.create_connection((addr, port), timeout=2)
        s.settimeout(1)
        while not stop.is_set():
            line = f"{n}\n".encode()
            s.sendall(line)
            got = b""
            while len(got) < len(line):
                chunk = s.recv(len(line) - len(got))
                if not chunk:
                    raise ConnectionError("closed by the peer")
                got += chunk
            if got != line:
                raise ConnectionError(f"echo {got!r} for {line!r}")
            n += 1
            time.sleep(0.02)
    except OSError as e:
        print(f"error: after {n} echoes: {e}", flush=True)
        return 1
    print(f"ok {n}", flush=True)
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] == "udp-sink":
        return udp_sink(int(argv[1]))
    if len(argv) == 3 and argv[0] == "udp-source":
        return udp_source(argv[1], int(argv[2]))
    if len(argv) == 2 and argv[0] == "tcp-echo":
        return tcp_echo(int(argv[1]))
    if len(argv) == 3 and argv[0] == "tcp-client":
        return tcp_client(argv[1], int(argv[2]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
