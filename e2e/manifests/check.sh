#!/usr/bin/env bash
# check.sh - the manifests as a user gets them, judged by independent tools. Renders every
# kustomization a user or a test applies (the overlays deploy/*, the overlay with the PodMonitor
# component, the lab's e2e/lab/pod, the kind suite's) with `kubectl kustomize`, validates every
# rendered object with kubernetes-validate (PyPI, strict: unknown fields are errors; installed
# into a venv under $KILO_VENV, default /var/cache/kilo-rs-venv), checks that every kg flag and
# KILO_* variable a manifest uses is one `kg --help` lists, that the PodMonitor selects the kg
# pods' metrics port, and that manifests/kilo-rs-*.yaml are what the overlays render.
# Prints "ok"/"FAIL" lines and "N passed, M failed" last; exit 1 on a failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KG=${KG:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/kg}
VENV=${KILO_VENV:-/var/cache/kilo-rs-venv}
VALIDATE_VERSION=1.37.0   # kubernetes-validate, and so the newest Kubernetes schema it knows
# shellcheck source=../lib/report.sh
source "$ROOT/e2e/lib/report.sh"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

venv() {
    [ -x "$VENV/bin/kubernetes-validate" ] && "$VENV/bin/kubernetes-validate" --version | grep -qF "$VALIDATE_VERSION" && return 0
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "kubernetes-validate==$VALIDATE_VERSION"
}
check "kubernetes-validate $VALIDATE_VERSION in a venv ($VENV)" venv

# name -> directory; each rendered into $OUT/name.yaml
declare -A KUSTOMIZATIONS=(
    [kubeadm]=deploy/kubeadm [k3s]=deploy/k3s [userspace]=deploy/userspace [kind]=deploy/kind
    [lab]=e2e/lab/pod [podmonitor]=e2e/manifests/with-podmonitor [webhook]=deploy/webhook
    [kubeadm-flannel]=deploy/kubeadm-flannel [k3s-flannel]=deploy/k3s-flannel
    [kubeadm-cilium]=deploy/kubeadm-cilium [k3s-cilium]=deploy/k3s-cilium
)
render_all() {
    local n rc=0
    for n in "${!KUSTOMIZATIONS[@]}"; do
        kubectl kustomize "$ROOT/${KUSTOMIZATIONS[$n]}" > "$OUT/$n.yaml" || { echo "$n: kubectl kustomize failed"; rc=1; }
    done
    return $rc
}
check "kubectl kustomize renders ${!KUSTOMIZATIONS[*]}" render_all

validate_all() {
    local n out rc=0
    for n in "${!KUSTOMIZATIONS[@]}"; do
        # --strict: a field the schema does not know is an error, not a warning
        out=$("$VENV/bin/kubernetes-validate" --strict --quiet "$OUT/$n.yaml" 2>&1) || { echo "$n: $out"; rc=1; }
        # the one kind it has no schema for is the PodMonitor (checked below)
        if grep -v "Couldn't find schema for kind PodMonitor" <<< "$out" | grep -q .; then echo "$n: $out"; rc=1; fi
    done
    return $rc
}
check "every rendered object validates against the Kubernetes schemas (strict)" validate_all

flags_exist() {  # every --flag and KILO_* variable of a kg container is one kg knows
    local help n bad=0 f
    help=$("$KG" --help) || { echo "cannot run $KG --help"; return 1; }
    for n in "${!KUSTOMIZATIONS[@]}"; do
        while read -r f; do
            [ -n "$f" ] || continue
            grep -qE -- "(^|[ ,])$f([=[ ]|$)" <<< "$help" || { echo "$n: kg has no $f"; bad=1; }
        done < <(python3 "$ROOT/e2e/manifests/kg-uses.py" "$OUT/$n.yaml")
    done
    return $bad
}
check "every kg flag and KILO_* variable a manifest uses is one kg --help lists" flags_exist

flag_check_catches() {  # the check above is not vacuous: a misspelt flag and variable are caught
    local help; help=$("$KG" --help)
    grep -qE -- "(^|[ ,])--clean-up([=[ ]|$)" <<< "$help" || { echo "--clean-up not found"; return 1; }
    ! grep -qE -- "(^|[ ,])--clean-upp([=[ ]|$)" <<< "$help" || { echo "--clean-upp found"; return 1; }
    ! grep -qE -- "(^|[ ,])KILO_CLEANUP([=[ ]|$)" <<< "$help" || { echo "KILO_CLEANUP found"; return 1; }
}
check "the flag check tells a misspelt flag or variable from a real one" flag_check_catches

webhook_flags_exist() {  # every flag and KILO_* variable of the kg webhook container is one kg webhook --help lists
    local help f n=0
    help=$("$KG" webhook --help) || { echo "cannot run $KG webhook --help"; return 1; }
    while read -r f; do
        [ -n "$f" ] || continue
        n=$((n + 1))
        grep -qE -- "(^|[ ,])$f([=[ ]|$)" <<< "$help" || { echo "kg webhook has no $f"; return 1; }
    done < <(python3 "$ROOT/e2e/manifests/kg-uses.py" --webhook "$OUT/webhook.yaml")
    [ "$n" -ge 4 ] || { echo "found $n webhook flags in deploy/webhook, want the 4 it sets"; return 1; }
}
check "every flag and KILO_* variable of the kg webhook Deployment is one kg webhook --help lists" webhook_flags_exist

compat_flags() {  # the flannel and Cilium variants run kg with Kilo's flags for them, once each,
    # NODE_IP from the host IP, and without the install-cni init container (the CNI owns the pods)
    local v mode want f args
    for v in kubeadm-flannel k3s-flannel kubeadm-cilium k3s-cilium; do
        mode=${v#*-}
        want="--cni=false --compatibility=$mode --local=false --internal-cidr=\$(NODE_IP)/32"
        [ "$mode" = flannel ] || want+=" --encapsulate=crosssubnet"
        args=$(python3 - "$OUT/$v.yaml" <<'PYEOF'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "DaemonSet":
        for c in d["spec"]["template"]["spec"]["containers"]:
            if c["name"] == "kg":
                print("\n".join(c["args"]))
PYEOF
        ) || { echo "$v: cannot read kg's args"; return 1; }
        for f in $want; do
            [ "$(grep -cxF -- "$f" <<< "$args")" = 1 ] || { echo "$v: kg args lack $f once: $args"; return 1; }
        done
        grep -q 'fieldPath: status.hostIP' "$OUT/$v.yaml" || { echo "$v: no NODE_IP from status.hostIP"; return 1; }
        ! grep -q 'install-cni' "$OUT/$v.yaml" || { echo "$v: still installs kilo-cni"; return 1; }
    done
}
check "the flannel and Cilium variants run kg with Kilo's flags (--cni=false --compatibility=… --local=false --internal-cidr=\$(NODE_IP)/32)" compat_flags

check "the PodMonitor selects the kg pods and scrapes their metrics port" python3 "$ROOT/e2e/manifests/kg-uses.py" --podmonitor "$OUT/podmonitor.yaml"
check "manifests/kilo-rs-*.yaml are what deploy/* render (e2e/manifests/render.sh --check)" bash "$ROOT/e2e/manifests/render.sh" --check

report
