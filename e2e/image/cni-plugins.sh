#!/usr/bin/env bash
# cni-plugins.sh DIR - puts static `loopback` and `portmap` (the reference CNI plugins, built from
# Debian's source package with CGO_ENABLED=0) into DIR and prints DIR. Debian's own binaries in
# containernetworking-plugins link glibc 2.34 dynamically and do not run on RHEL 8 or Ubuntu
# 20.04; these run on any Linux host. Built once per Debian version, then taken from the cache
# ($KILO_IMAGE_CACHE, default /var/cache/kilo-rs-image). Needs root (apt-get).
set -euo pipefail
out=${1:?usage: cni-plugins.sh DIR}
cache=${KILO_IMAGE_CACHE:-/var/cache/kilo-rs-image}
src_pkg=golang-github-containernetworking-plugins
log() { printf '=== %s\n' "$*" >&2; }

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -qq --no-install-recommends "$@" > /dev/null; }
# the Go toolchain and the Go libraries the two plugins import, as Debian packages
apt_get install golang-go golang-github-containernetworking-plugins-dev golang-github-mattn-go-shellwords-dev \
    || { apt-get update -qq && apt_get install golang-go golang-github-containernetworking-plugins-dev golang-github-mattn-go-shellwords-dev; }

version=$(dpkg-query -W -f='${Version}' golang-github-containernetworking-plugins-dev)
built=$cache/cni-plugins/$version
if [ ! -x "$built/portmap" ] || [ ! -x "$built/loopback" ]; then
    log "building static loopback and portmap from Debian's $src_pkg $version"
    work=$(mktemp -d); chmod 755 "$work"   # apt fetches as _apt
    trap 'rm -rf "$work"' EXIT
    # deb-src through a private sources list: the machine's apt configuration stays as it is
    echo "deb-src http://deb.debian.org/debian bookworm main" > "$work/sources.list"
    mkdir -p "$work/lists/partial"
    apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$work/lists")
    apt-get "${apt_opts[@]}" update -qq
    (cd "$work" && apt-get "${apt_opts[@]}" source --download-only -qq "$src_pkg=$version" > /dev/null 2>&1)
    mkdir -p "$work/gopath/src/github.com/containernetworking"
    tar -xJf "$work/${src_pkg}_${version%-*}.orig.tar.xz" -C "$work"
    mv "$work"/plugins-* "$work/gopath/src/github.com/containernetworking/plugins"
    mkdir -p "$built.tmp"
    for p in main/loopback meta/portmap; do
        (cd "$work/gopath/src/github.com/containernetworking/plugins" &&
            GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" CGO_ENABLED=0 GOCACHE="$cache/go-build" \
                go build -trimpath -ldflags '-s -w' -o "$built.tmp/${p#*/}" "./plugins/$p")
    done
    rm -rf "$built"; mv "$built.tmp" "$built"
fi
mkdir -p "$out"
cp "$built/loopback" "$built/portmap" "$out/"
echo "$out"
