#!/usr/bin/env python3
"""Round-trip time of UDP probes that each open a new flow (a new source port, so a new
conntrack entry: every probe's first packet walks the nat table's POSTROUTING rules).

    python3 e2e/bench/lib/udprtt.py server PORT
    python3 e2e/bench/lib/udprtt.py client HOST PORT COUNT FIRST_SRC_PORT
        -> one RTT in microseconds per line (probe i is sent from port FIRST_SRC_PORT + i)

The server echoes every datagram back to its sender until killed. A probe without a reply
within 1 s makes the client exit non-zero (the path is broken, not slow).
"""

import socket
import sys
import time


def server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)


def client(host, port, count, first):
    out = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", first + i))
        s.settimeout(1.0)
        payload = i.to_bytes(4, "big") * 4
        t = time.perf_counter_ns()
        s.sendto(payload, (host, port))
        try:
            while True:
                data, _ = s.recvfrom(2048)
                if data == payload:
                    break
        except socket.timeout:
            raise SystemExit(f"udprtt: probe {i} from port {first + i}: no reply within 1 s")
        out.append((time.perf_counter_ns() - t) / 1e3)
        s.close()
    sys.stdout.write("".join(f"{v:.1f}\n" for v in out))


def main(argv):
    if argv[:1] == ["server"] and len(argv) == 2:
        server(int(argv[1]))
    elif argv[:1] == ["client"] and len(argv) == 5:
        client(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
