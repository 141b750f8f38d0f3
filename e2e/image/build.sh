#!/usr/bin/env bash
# build.sh - builds the kilo-rs image without a registry or a container engine and prints the
# path of the archive it wrote. The archive is an OCI image layout (index.json, blobs/) that also
# carries a Docker manifest.json, so `podman load -i`, `docker load -i`, `kind load
# image-archive` and `skopeo copy oci-archive:` all take it.
#
#   e2e/image/build.sh          release binaries (what users run)
#   KILO_IMAGE_PROFILE=debug e2e/image/build.sh    the debug binaries the tests already built (CI)
#
# Layers: 1. a Debian bookworm minbase root file system with e2e/image/packages (mmdebstrap),
# cached for a week in $KILO_IMAGE_CACHE; 2. kg, kgctl, kilo-cni (static), static loopback and
# portmap (cni-plugins.sh) and the iptables mode wrapper. Environment: KILO_IMAGE (name:tag,
# default localhost/kilo-rs:<version>), KILO_IMAGE_OUT (directory of the archive, default
# target/image), KILO_IMAGE_CACHE (/var/cache/kilo-rs-image), KILO_IMAGE_REFRESH=1 (new base).
# Needs root (mmdebstrap, apt-get). Prints timings as "measured:" lines on stderr.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PROFILE=${KILO_IMAGE_PROFILE:-release}
CACHE=${KILO_IMAGE_CACHE:-/var/cache/kilo-rs-image}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${KILO_IMAGE_OUT:-$TARGET/image}
SUITE=bookworm
GNU=x86_64-unknown-linux-gnu
log() { printf '=== %s\n' "$*" >&2; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
t0=$(date +%s)
lap() { echo "measured: $1 after $(($(date +%s) - t0)) s" >&2; }

version=$(awk -F'"' '/^\[workspace.package\]/ {p = 1} p && /^version/ {print $2; exit}' "$ROOT/Cargo.toml")
revision=$(git -C "$ROOT" rev-parse --short=12 HEAD 2> /dev/null || echo unknown)
IMAGE=${KILO_IMAGE:-localhost/kilo-rs:$version}
[[ $IMAGE =~ ^[a-z0-9./_-]+(:[0-9]+)?[a-z0-9./_-]*:[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "KILO_IMAGE must be name:tag, got '$IMAGE'"
case $PROFILE in release | debug) ;; *) die "KILO_IMAGE_PROFILE must be release or debug" ;; esac
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, apt-get)"

tools() {
    local missing=() p
    for p in mmdebstrap umoci jq binutils; do dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'ok installed' || missing+=("$p"); done
    [ ${#missing[@]} = 0 ] && return
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}

binaries() {  # -> the directory holding kg and kgctl
    local flag=() dir=debug
    [ "$PROFILE" = debug ] || { flag=(--release); dir=release; }
    log "cargo build ($PROFILE): kg, kgctl; kilo-cni statically linked"
    # the same package set as e2e/lab/run.sh builds, so that the features (and the artifacts) match
    (cd "$ROOT" && cargo build -q --locked "${flag[@]}" -p kg -p kgctl -p kilo-cni -p kilo-test-apiserver)
    # crt-static applies to the target only with an explicit --target (build scripts stay dynamic)
    (cd "$ROOT" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
        cargo build -q --locked "${flag[@]}" -p kilo-cni --target "$GNU")
    file -L "$TARGET/$GNU/$dir/kilo-cni" | grep -q 'static' || die "kilo-cni is not statically linked"
    echo "$TARGET/$dir"
}

base_layout() {  # -> an OCI layout (cached) with tag "base": the Debian root file system
    local key dir tar
    key=$(cat "$HERE/packages" <(echo "$SUITE minbase 1") | sha256sum | cut -c1-16)
    dir=$CACHE/base-$key
    if [ -f "$dir/index.json" ] && [ -z "${KILO_IMAGE_REFRESH:-}" ] && [ -n "$(find "$dir/index.json" -mtime -7)" ]; then
        log "base layer from the cache ($dir)"
        echo "$dir"; return
    fi
    log "base layer: mmdebstrap $SUITE minbase + $(grep -v '^#' "$HERE/packages" | xargs)"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    tar=$dir.tmp/rootfs.tar
    mmdebstrap --quiet --variant=minbase --include="$(grep -v '^#' "$HERE/packages" | paste -sd,)" \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*.log' \
        "$SUITE" "$tar" >&2
    umoci init --layout "$dir.tmp/oci"
    umoci new --image "$dir.tmp/oci:base"
    umoci raw add-layer --image "$dir.tmp/oci:base" --history.created_by "mmdebstrap $SUITE minbase" "$tar"
    rm -f "$tar"
    rm -rf "$dir"; mv "$dir.tmp/oci" "$dir"; rmdir "$dir.tmp"
    echo "$dir"
}

our_layer() {  # bin-dir tar: the second layer as a tar file
    local bin=$1 stage; stage=$(mktemp -d)
    mkdir -p "$stage/usr/local/bin" "$stage/usr/local/lib/kilo-rs/cni" "$stage/usr/sbin"
    local b
    for b in kg kgctl; do strip --strip-debug -o "$stage/usr/local/bin/$b" "$bin/$b"; done
    strip --strip-debug -o "$stage/usr/local/bin/kilo-cni" "$TARGET/$GNU/$(basename "$bin")/kilo-cni"
    bash "$HERE/cni-plugins.sh" "$stage/usr/local/lib/kilo-rs/cni" > /dev/null
    install -m 0755 "$HERE/iptables-wrapper" "$stage/usr/sbin/iptables-wrapper"
    for b in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        ln -s iptables-wrapper "$stage/usr/sbin/$b"
    done
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$(git -C "$ROOT" log -1 --format=%ct 2> /dev/null || date +%s)" \
        -C "$stage" -cf "$2" .
    rm -rf "$stage"
}

docker_manifest() {  # layout: manifest.json (docker load) beside index.json
    local layout=$1 manifest
    manifest=$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$layout/index.json")
    jq --arg tag "$IMAGE" '[{Config: ("blobs/sha256/" + (.config.digest | sub("sha256:"; ""))),
        RepoTags: [$tag], Layers: [.layers[].digest | "blobs/sha256/" + sub("sha256:"; "")]}]' \
        "$layout/blobs/sha256/$manifest" > "$layout/manifest.json"
    # the full name for containerd (kind load) and podman; ref.name as OCI wants it
    jq --arg tag "$IMAGE" '.manifests[0].annotations = {"io.containerd.image.name": $tag, "org.opencontainers.image.ref.name": ($tag | sub(".*:"; ""))}' \
        "$layout/index.json" > "$layout/index.json.new" && mv "$layout/index.json.new" "$layout/index.json"
}

main() {
    tools
    local bin base archive
    bin=$(binaries); lap "binaries"
    base=$(base_layout); lap "base layer"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT   # global: the trap runs after main has returned
    cp -a "$base" "$work/oci"
    our_layer "$bin" "$work/layer.tar"; lap "kilo-rs layer"
    umoci raw add-layer --image "$work/oci:base" --history.created_by "kilo-rs $version ($revision)" "$work/layer.tar"
    umoci config --image "$work/oci:base" --tag image --architecture amd64 --os linux \
        --config.cmd /usr/local/bin/kg --config.workingdir / \
        --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --config.label "org.opencontainers.image.title=kilo-rs" \
        --config.label "org.opencontainers.image.version=$version" \
        --config.label "org.opencontainers.image.revision=$revision" \
        --config.label "org.opencontainers.image.licenses=Apache-2.0" --no-history
    umoci rm --image "$work/oci:base"
    umoci gc --layout "$work/oci"
    docker_manifest "$work/oci"
    mkdir -p "$OUT"
    archive=$OUT/kilo-rs-$version-amd64.tar
    tar -C "$work/oci" -cf "$archive.tmp" oci-layout index.json manifest.json blobs
    mv "$archive.tmp" "$archive"
    lap "archive ($(du -h "$archive" | cut -f1), $IMAGE)"
    echo "$archive"
}
main
