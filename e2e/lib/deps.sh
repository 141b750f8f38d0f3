# Installs what the tests and the lab need. Sourced by e2e scripts; needs root for apt-get.
DEBIAN_PACKAGES=(
    iproute2 iptables ipset nftables conntrack wireguard-go wireguard-tools
    containernetworking-plugins jq python3 graphviz procps util-linux kmod iputils-ping netbase
    # the image, the containerized lab and the manifest checks (e2e/image, e2e-pod.sh, e2e/manifests)
    podman runc umoci skopeo mmdebstrap binutils file python3-yaml python3-venv shellcheck
)

install_deps() {
    local missing=()
    for p in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
            return 1
        fi
        echo "### apt-get install ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}
