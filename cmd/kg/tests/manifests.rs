//! Keeps `manifests/` honest. Every document of `kg-rbac.yaml` and `kilo-rs-*.yaml` must decode
//! into its k8s-openapi type and encode back to the same value (k8s-openapi ignores unknown
//! fields, so the round trip is what catches a misspelt field). The RBAC must grant exactly the
//! API use written out in [`KG_API_USE`]. Every DaemonSet must run `kg` with arguments the real
//! `kg` binary accepts, and mount, probe and wire what those arguments point at.
//!
//! How the arguments are checked without side effects: `kg`'s `main` (cmd/kg/src/main.rs) runs
//! `Flags::parse()` (clap; a usage error exits 2), then `Flags::into_config()`, and only then
//! builds the runtime and touches the key file, netlink, iptables or the API server. The test
//! appends one argument the manifest does not set that clap accepts but `into_config` rejects
//! (`--listen=not-an-address`, else `--mtu=...`, else `--interface=not/an/interface`), and
//! requires exit status 1 with exactly that complaint: proof that clap accepted every argument
//! and that kg stopped before doing anything.

#[cfg(test)]
mod manifests_support;

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use manifests_support::{
    container_env, flag, grants, host_path, kg_args, load, mount_at, parent, pod_spec, poison,
    run_kg, the_kg, value, variant_files,
};

/// Every request kg makes to the API server, read from pkg/k8s/src/kube_cluster.rs:
/// reflectors (list + watch) over Nodes and Peers, server-side apply of its own Node's
/// annotations (a PATCH), and core/v1 Events created in the namespace `default`.
/// (scope, apiGroup, resource, verb); scope `cluster` or a namespace.
const KG_API_USE: &[[&str; 4]] = &[
    ["cluster", "", "nodes", "list"],
    ["cluster", "", "nodes", "patch"],
    ["cluster", "", "nodes", "watch"],
    ["cluster", "kilo.squat.ai", "peers", "list"],
    ["cluster", "kilo.squat.ai", "peers", "watch"],
    ["default", "", "events", "create"],
];

/// A DaemonSet variant: its file, `--wireguard-backend`, and the host directories the CNI
/// conflist and the CNI plugins must land in.
struct Variant {
    file: &'static str,
    backend: &'static str,
    conf_dir: &'static str,
    bin_dir: &'static str,
}

const VARIANTS: &[Variant] = &[
    Variant {
        file: "kilo-rs-k3s.yaml",
        backend: "kernel",
        conf_dir: "/var/lib/rancher/k3s/agent/etc/cni/net.d",
        bin_dir: "/var/lib/rancher/k3s/data/cni",
    },
    Variant {
        file: "kilo-rs-kind.yaml",
        backend: "userspace",
        conf_dir: "/etc/cni/net.d",
        bin_dir: "/opt/cni/bin",
    },
    Variant {
        file: "kilo-rs-kubeadm.yaml",
        backend: "kernel",
        conf_dir: "/etc/cni/net.d",
        bin_dir: "/opt/cni/bin",
    },
    Variant {
        file: "kilo-rs-userspace.yaml",
        backend: "userspace",
        conf_dir: "/etc/cni/net.d",
        bin_dir: "/opt/cni/bin",
    },
];

/// Every variant with its DaemonSet.
fn daemon_sets() -> Vec<(&'static Variant, DaemonSet)> {
    VARIANTS
        .iter()
        .map(|v| {
            let mut objects = load(v.file);
            assert_eq!(objects.daemon_sets.len(), 1, "{}: one DaemonSet", v.file);
            (v, objects.daemon_sets.remove(0))
        })
        .collect()
}

#[test]
fn every_variant_is_known_to_this_test() {
    let listed: Vec<&str> = VARIANTS.iter().map(|v| v.file).collect();
    assert_eq!(variant_files(), listed);
}

#[test]
fn rbac_grants_exactly_what_kg_uses() {
    let rbac = load("kg-rbac.yaml");
    assert!(rbac.daemon_sets.is_empty());
    let sa = rbac
        .service_accounts
        .iter()
        .find(|sa| sa.metadata.name.as_deref() == Some("kilo"))
        .expect("ServiceAccount kilo");
    assert_eq!(sa.metadata.namespace.as_deref(), Some("kube-system"));
    let want: BTreeSet<[String; 4]> = KG_API_USE
        .iter()
        .map(|row| row.map(str::to_owned))
        .collect();
    assert_eq!(grants(&rbac, ("kube-system", "kilo")), want);
}

#[test]
fn variants_decode_strictly_and_hold_only_daemon_sets() {
    for file in variant_files() {
        let objects = load(&file);
        assert_eq!(objects.daemon_sets.len(), 1, "{file}: one DaemonSet");
        assert!(
            objects.service_accounts.is_empty()
                && objects.cluster_roles.is_empty()
                && objects.cluster_role_bindings.is_empty()
                && objects.roles.is_empty()
                && objects.role_bindings.is_empty(),
            "{file}: RBAC belongs in kg-rbac.yaml"
        );
    }
}

#[test]
fn kg_accepts_the_arguments_of_every_variant() {
    for (v, ds) in daemon_sets() {
        let kg = the_kg(pod_spec(&ds), v.file);
        let env = container_env(kg);
        let mut args = kg_args(kg, &env);
        let (stop, complaint) = poison(&args, &env);
        args.push(stop.to_owned());
        let run = run_kg(&args, &env);
        assert!(
            run.code == Some(1) && run.stderr.contains(complaint),
            "{}: kg {args:?} should parse and then stop on {stop:?} (exit 1, {complaint:?}); \
             got exit {:?}:\n{}",
            v.file,
            run.code,
            run.stderr
        );
    }
}

#[test]
fn the_argument_check_catches_usage_errors() {
    let env = [("NODE_NAME".to_owned(), "node-1".to_owned())].into();
    for bad in [
        &["--hostname=node-1", "--no-such-flag"][..],
        &["--hostname=node-1", "--create-interface", "false"][..],
        &["--hostname=node-1", "--wireguard-backend=wireguard-go"][..],
    ] {
        let mut args: Vec<String> = bad.iter().map(|a| (*a).to_owned()).collect();
        args.push(poison(&args, &env).0.to_owned());
        let run = run_kg(&args, &env);
        assert_eq!(
            run.code,
            Some(2),
            "{args:?} is a usage error:\n{}",
            run.stderr
        );
    }
}

#[test]
fn variants_run_one_privileged_kg_on_every_node() {
    for (v, ds) in daemon_sets() {
        let what = v.file;
        assert_eq!(
            ds.metadata.namespace.as_deref(),
            Some("kube-system"),
            "{what}"
        );
        let ds_spec = ds.spec.as_ref().expect("spec");
        let template_labels = ds_spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref());
        assert_eq!(
            ds_spec.selector.match_labels.as_ref(),
            template_labels,
            "{what}: the selector selects the pod template"
        );
        let strategy = ds_spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.type_.as_deref());
        assert_eq!(strategy, Some("RollingUpdate"), "{what}");
        let spec = pod_spec(&ds);
        assert_eq!(spec.service_account_name.as_deref(), Some("kilo"), "{what}");
        assert_eq!(spec.host_network, Some(true), "{what}");
        let priority = spec.priority_class_name.as_deref();
        assert_eq!(priority, Some("system-node-critical"), "{what}");
        assert!(
            spec.tolerations.iter().flatten().any(|t| {
                t.operator.as_deref() == Some("Exists") && t.key.is_none() && t.effect.is_none()
            }),
            "{what}: tolerates every taint"
        );
        let kg = the_kg(spec, what);
        let args = kg_args(kg, &container_env(kg));
        let hostname = flag(&args, "hostname");
        assert_eq!(
            hostname,
            Some("node-1"),
            "{what}: --hostname from spec.nodeName"
        );
        assert_eq!(flag(&args, "wireguard-backend"), Some(v.backend), "{what}");
        let privileged = kg.security_context.as_ref().and_then(|s| s.privileged);
        assert_eq!(privileged, Some(true), "{what}: kg is privileged");
        let requests = kg.resources.as_ref().and_then(|r| r.requests.as_ref());
        assert!(requests.is_some(), "{what}: kg has resource requests");
    }
}

#[test]
fn kg_is_probed_on_its_listen_port() {
    for (v, ds) in daemon_sets() {
        let kg = the_kg(pod_spec(&ds), v.file);
        let listen = value(&kg_args(kg, &container_env(kg)), "listen");
        let port: i32 = listen
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("{}: --listen {listen:?} has no port", v.file));
        assert_eq!(port, 1107, "{}", v.file);
        for (probe, path) in [
            (&kg.liveness_probe, "/healthz"),
            (&kg.readiness_probe, "/readyz"),
        ] {
            let get = probe.as_ref().and_then(|p| p.http_get.as_ref());
            let get = get.unwrap_or_else(|| panic!("{}: an httpGet probe on {path}", v.file));
            assert_eq!(get.path.as_deref(), Some(path), "{}", v.file);
            assert_eq!(get.port, IntOrString::Int(port), "{}: {path}", v.file);
        }
    }
}

#[test]
fn kg_paths_are_the_hosts_directories() {
    for (v, ds) in daemon_sets() {
        let what = v.file;
        let spec = pod_spec(&ds);
        let kg = the_kg(spec, what);
        let args = kg_args(kg, &container_env(kg));
        let key_dir = host_path(spec, kg, parent(&value(&args, "key-file")));
        assert_eq!(
            key_dir.as_deref(),
            Some("/var/lib/kilo"),
            "{what}: the key file"
        );
        let conf_dir = host_path(spec, kg, parent(&value(&args, "cni-path")));
        assert_eq!(
            conf_dir.as_deref(),
            Some(v.conf_dir),
            "{what}: the conflist"
        );
        let bin_dir = host_path(spec, kg, &value(&args, "cni-bin-dir"));
        assert_eq!(
            bin_dir.as_deref(),
            Some(v.bin_dir),
            "{what}: the CNI plugins"
        );
        for path in ["/lib/modules", "/run/xtables.lock"] {
            let host = host_path(spec, kg, path);
            assert_eq!(host.as_deref(), Some(path), "{what}: {path}");
        }
        let modules = mount_at(kg, "/lib/modules").and_then(|m| m.read_only);
        assert_eq!(modules, Some(true), "{what}: /lib/modules read-only");
    }
}

#[test]
fn install_cni_copies_kilo_cni_into_kgs_cni_bin_dir() {
    for (v, ds) in daemon_sets() {
        let what = v.file;
        let spec = pod_spec(&ds);
        let install = spec
            .init_containers
            .iter()
            .flatten()
            .find(|c| c.name == "install-cni")
            .unwrap_or_else(|| panic!("{what}: an install-cni init container"));
        let target = container_env(install).remove("CNI_BIN_DIR");
        let target = target.unwrap_or_else(|| panic!("{what}: install-cni has CNI_BIN_DIR"));
        let host = host_path(spec, install, &target);
        assert_eq!(host.as_deref(), Some(v.bin_dir), "{what}");
        let script = install
            .command
            .iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>();
        let script = script.join(" ");
        for needle in ["/usr/local/bin/kilo-cni", "\"$CNI_BIN_DIR/kilo-cni\""] {
            assert!(
                script.contains(needle),
                "{what}: install-cni mentions {needle}"
            );
        }
    }
}

#[test]
fn userspace_variants_share_the_interface_socket_with_a_sidecar() {
    for (v, ds) in daemon_sets() {
        let what = v.file;
        let spec = pod_spec(&ds);
        let kg = the_kg(spec, what);
        let args = kg_args(kg, &container_env(kg));
        let create_interface = flag(&args, "create-interface");
        if v.backend != "userspace" {
            assert_ne!(
                create_interface,
                Some("false"),
                "{what}: kg creates the interface"
            );
            continue;
        }
        assert_eq!(create_interface, Some("false"), "{what}");
        let interface = value(&args, "interface");
        let socket_dir = value(&args, "wireguard-socket-dir");
        let shared = mount_at(kg, &socket_dir);
        let shared = shared.unwrap_or_else(|| panic!("{what}: kg mounts {socket_dir}"));
        // wireguard-go and boringtun always put their sockets in /var/run/wireguard.
        let sidecar = spec
            .containers
            .iter()
            .find(|c| c.name != kg.name && mount_at(c, "/var/run/wireguard").is_some())
            .unwrap_or_else(|| panic!("{what}: a sidecar with /var/run/wireguard"));
        let sidecar_dir = mount_at(sidecar, "/var/run/wireguard").map(|m| &m.name);
        assert_eq!(
            sidecar_dir,
            Some(&shared.name),
            "{what}: one socket directory"
        );
        let creates = sidecar.args.iter().flatten().any(|a| *a == interface);
        assert!(creates, "{what}: the sidecar creates {interface}");
        let tun = host_path(spec, sidecar, "/dev/net/tun");
        assert_eq!(
            tun.as_deref(),
            Some("/dev/net/tun"),
            "{what}: the sidecar has TUN"
        );
    }
}
