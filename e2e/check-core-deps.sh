#!/usr/bin/env bash
# Fails when the pure core (kilo-mesh) depends, even transitively, on an I/O crate.
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(tokio|mio|netlink-[a-z-]+|rtnetlink|kube|kube-[a-z]+|k8s-openapi|nix|hyper|reqwest|wireguard-control|axum)$'
deps=$(cargo tree -p kilo-mesh -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
bad=$(grep -E "$forbidden" <<<"$deps" || true)
if [ -n "$bad" ]; then
    echo "kilo-mesh must stay pure, but depends on: $bad" >&2
    exit 1
fi
if grep -rnE 'std::process|std::net::(TcpStream|UdpSocket|TcpListener)|std::fs' pkg/mesh/src; then
    echo "kilo-mesh must not do I/O (see the lines above)" >&2
    exit 1
fi
echo "kilo-mesh is pure: $(wc -l <<<"$deps") crates, none of them I/O"
