//! Helpers of `manifests.rs`: loading manifests strictly, reading pod specs, running kg.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Container, PodSpec, ServiceAccount};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::serde::Serialize;
use k8s_openapi::serde::de::DeserializeOwned;
use serde_json::Value;

/// `manifests/` at the top of the workspace.
pub fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests")
}

/// The DaemonSet variants, `kilo-rs-*.yaml`, sorted.
pub fn variant_files() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(manifests_dir())
        .expect("reading manifests/")
        .map(|e| e.expect("listing manifests/").file_name())
        .filter_map(|n| n.into_string().ok())
        .filter(|n| n.starts_with("kilo-rs-") && n.ends_with(".yaml"))
        .collect();
    out.sort();
    out
}

/// Every object of one manifest file, typed.
#[derive(Default)]
pub struct Objects {
    pub service_accounts: Vec<ServiceAccount>,
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    pub daemon_sets: Vec<DaemonSet>,
}

/// Reads `manifests/<name>`, decoding every document strictly.
pub fn load(name: &str) -> Objects {
    let path = manifests_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("parsing YAML in {name}: {e}"));
    let mut objects = Objects::default();
    for (i, doc) in docs.into_iter().filter(|d| !d.is_null()).enumerate() {
        let what = format!("{name}, document {}", i + 1);
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "ServiceAccount" => objects.service_accounts.push(strict(&doc, &what)),
            "ClusterRole" => objects.cluster_roles.push(strict(&doc, &what)),
            "ClusterRoleBinding" => objects.cluster_role_bindings.push(strict(&doc, &what)),
            "Role" => objects.roles.push(strict(&doc, &what)),
            "RoleBinding" => objects.role_bindings.push(strict(&doc, &what)),
            "DaemonSet" => objects.daemon_sets.push(strict(&doc, &what)),
            other => panic!("{what}: unexpected kind {other:?}"),
        }
    }
    objects
}

/// Decodes `doc` as `T` and requires that encoding it again gives `doc` back: a field that
/// `T` does not know (a typo) is dropped by the decoder and shows up as a difference.
fn strict<T: DeserializeOwned + Serialize>(doc: &Value, what: &str) -> T {
    let typed: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{what}: does not decode: {e}"));
    let back = serde_json::to_value(&typed).expect("encoding a k8s-openapi object");
    let mut diffs = Vec::new();
    diff(doc, &back, "", &mut diffs);
    assert!(
        diffs.is_empty(),
        "{what}: fields unknown to k8s-openapi or not kept as written:\n  {}",
        diffs.join("\n  ")
    );
    typed
}

fn diff(written: &Value, kept: &Value, at: &str, out: &mut Vec<String>) {
    match (written, kept) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let here = format!("{at}.{k}");
                match b.get(k) {
                    Some(w) => diff(v, w, &here, out),
                    None => out.push(format!("{here}: unknown field (dropped)")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{at}.{k}: added by the round trip"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                diff(v, w, &format!("{at}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{at}: written {a}, kept {b}")),
    }
}

/// The pod spec of a DaemonSet.
pub fn pod_spec(ds: &DaemonSet) -> &PodSpec {
    ds.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("a DaemonSet with a pod template spec")
}

/// The containers that run kg (`command` is `.../kg`).
pub fn kg_containers(spec: &PodSpec) -> Vec<&Container> {
    spec.containers
        .iter()
        .filter(|c| {
            c.command
                .as_ref()
                .and_then(|cmd| cmd.first())
                .is_some_and(|p| p == "kg" || p.ends_with("/kg"))
        })
        .collect()
}

/// The arguments kg gets: whatever follows the binary in `command`, then `args`, each with
/// `$(VAR)` expanded from `env`.
pub fn kg_args(c: &Container, env: &BTreeMap<String, String>) -> Vec<String> {
    let command = c.command.iter().flatten().skip(1);
    command
        .chain(c.args.iter().flatten())
        .map(|a| expand(a, env))
        .collect()
}

/// The container's environment as Kubernetes would give it to the process: literal values,
/// and made-up values for the downward API fields a node agent may use.
pub fn container_env(c: &Container) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for e in c.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), None) => v.clone(),
            (None, Some(from)) => {
                let field = from
                    .field_ref
                    .as_ref()
                    .unwrap_or_else(|| panic!("env {}: only fieldRef is expected", e.name));
                match field.field_path.as_str() {
                    "spec.nodeName" => "node-1".to_owned(),
                    "status.hostIP" | "status.podIP" => "192.0.2.1".to_owned(),
                    other => panic!("env {}: unexpected fieldRef {other}", e.name),
                }
            }
            _ => panic!("env {}: needs exactly one of value and valueFrom", e.name),
        };
        env.insert(e.name.clone(), value);
    }
    env
}

/// Expands `$(VAR)` like the kubelet does, requiring every reference to be defined (the
/// kubelet would pass an undefined one through literally).
pub fn expand(arg: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find(')')
            .unwrap_or_else(|| panic!("unterminated $( in {arg:?}"));
        let name = &rest[start + 2..start + end];
        let value = env
            .get(name)
            .unwrap_or_else(|| panic!("{arg:?} refers to $({name}), which is not in env"));
        out.push_str(value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// The value of `--name` in `args` (`--name=value` or `--name value`).
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let long = format!("--{name}");
    let with_eq = format!("{long}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix(&with_eq) {
            Some(v)
        } else if *a == long {
            args.get(i + 1).map(String::as_str)
        } else {
            None
        }
    })
}

/// The value kg runs with for `--name`: the one in `args`, else kg's default as its
/// `--help` prints it (`[default: ...]`), so that this test never restates kg's defaults.
pub fn value(args: &[String], name: &str) -> String {
    if let Some(v) = flag(args, name) {
        return v.to_owned();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kg"))
        .arg("--help")
        .env_clear()
        .output()
        .expect("running kg --help");
    assert!(out.status.success(), "kg --help fails");
    let help = String::from_utf8_lossy(&out.stdout);
    let long = format!("--{name}");
    let mut lines = help.lines().map(str::trim_start);
    lines
        .find(|l| {
            l.strip_prefix(long.as_str())
                .is_some_and(|r| r.is_empty() || r.starts_with([' ', '[']))
        })
        .unwrap_or_else(|| panic!("kg --help does not list {long}"));
    lines
        .take_while(|l| !l.starts_with('-'))
        .find_map(|l| l.strip_prefix("[default: ")?.strip_suffix(']'))
        .unwrap_or_else(|| panic!("kg --help gives no default for {long}"))
        .to_owned()
}

/// What kg's run ended with.
pub struct Run {
    pub code: Option<i32>,
    pub stderr: String,
}

/// Runs the real kg binary with `args` and only `env` in its environment.
pub fn run_kg(args: &[String], env: &BTreeMap<String, String>) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_kg"))
        .args(args)
        .env_clear()
        .envs(env)
        .output()
        .expect("running kg");
    Run {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An argument clap accepts and `Flags::into_config` rejects, for a flag neither `args` nor
/// `env` sets, with the complaint kg prints for it. `--listen` is checked last in
/// `into_config`, so it is preferred: every earlier check (hostname, interface, MTU) runs on
/// the manifest's values first.
pub fn poison(args: &[String], env: &BTreeMap<String, String>) -> (&'static str, &'static str) {
    let candidates = [
        (
            "listen",
            "KILO_LISTEN",
            "--listen=not-an-address",
            "--listen \"not-an-address\"",
        ),
        (
            "mtu",
            "KILO_MTU",
            "--mtu=not-a-number",
            "--mtu \"not-a-number\"",
        ),
        (
            "interface",
            "KILO_INTERFACE",
            "--interface=not/an/interface",
            "--interface",
        ),
    ];
    candidates
        .into_iter()
        .find(|(name, var, _, _)| flag(args, name).is_none() && !env.contains_key(*var))
        .map(|(_, _, arg, complaint)| (arg, complaint))
        .expect("no flag left to stop kg after parsing; extend poison()")
}

/// The host path behind `path` in `container`: the volume of the longest mount that holds
/// it, when that volume is a hostPath; `None` for other volumes and unmounted paths.
pub fn host_path(spec: &PodSpec, container: &Container, path: &str) -> Option<String> {
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| {
            path == m.mount_path
                || path
                    .strip_prefix(m.mount_path.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
        .max_by_key(|m| m.mount_path.len())?;
    assert!(mount.sub_path.is_none(), "subPath mounts are not expected");
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .unwrap_or_else(|| panic!("mount {} has no volume", mount.name));
    let host = &volume.host_path.as_ref()?.path;
    Some(format!("{host}{}", &path[mount.mount_path.len()..]))
}

/// The mount of `container` at exactly `path`.
pub fn mount_at<'a>(
    container: &'a Container,
    path: &str,
) -> Option<&'a k8s_openapi::api::core::v1::VolumeMount> {
    container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == path)
}

/// The directory part of a file path.
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// (scope, apiGroup, resource, verb) granted to `subject` (namespace, name) by `objects`:
/// scope is `cluster` for ClusterRoleBindings and the namespace for RoleBindings.
pub fn grants(objects: &Objects, subject: (&str, &str)) -> BTreeSet<[String; 4]> {
    let binds = |subjects: &Option<Vec<Subject>>| {
        subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount"
                && s.name == subject.1
                && s.namespace.as_deref() == Some(subject.0)
        })
    };
    let mut out = BTreeSet::new();
    for b in &objects.cluster_role_bindings {
        if binds(&b.subjects) {
            assert_eq!(
                b.role_ref.kind, "ClusterRole",
                "a ClusterRoleBinding binds a ClusterRole"
            );
            add_rules("cluster", role_rules(objects, &b.role_ref, None), &mut out);
        }
    }
    for b in &objects.role_bindings {
        if binds(&b.subjects) {
            let ns = b
                .metadata
                .namespace
                .as_deref()
                .expect("a namespaced RoleBinding");
            add_rules(ns, role_rules(objects, &b.role_ref, Some(ns)), &mut out);
        }
    }
    out
}

/// The rules of the (Cluster)Role `role` refers to; a Role is looked up in `namespace`.
fn role_rules<'a>(
    objects: &'a Objects,
    role: &RoleRef,
    namespace: Option<&str>,
) -> &'a Option<Vec<PolicyRule>> {
    let named = |meta: &ObjectMeta| meta.name.as_deref() == Some(role.name.as_str());
    match (role.kind.as_str(), namespace) {
        ("Role", Some(ns)) => objects
            .roles
            .iter()
            .find(|r| named(&r.metadata) && r.metadata.namespace.as_deref() == Some(ns))
            .map(|r| &r.rules),
        ("ClusterRole", _) => objects
            .cluster_roles
            .iter()
            .find(|r| named(&r.metadata))
            .map(|r| &r.rules),
        (other, _) => panic!("unexpected roleRef kind {other}"),
    }
    .unwrap_or_else(|| panic!("{} {} is not defined", role.kind, role.name))
}

/// Adds one (scope, group, resource, verb) per combination the rules grant.
fn add_rules(scope: &str, rules: &Option<Vec<PolicyRule>>, out: &mut BTreeSet<[String; 4]>) {
    for rule in rules.iter().flatten() {
        assert!(
            rule.resource_names.is_none() && rule.non_resource_urls.is_none(),
            "resourceNames and nonResourceURLs are not expected"
        );
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    for part in [group, resource, verb] {
                        assert_ne!(part, "*", "no wildcards in kg's RBAC");
                    }
                    out.insert([scope, group, resource, verb].map(str::to_owned));
                }
            }
        }
    }
}

/// The one container of `spec` that runs kg.
pub fn the_kg<'a>(spec: &'a PodSpec, what: &str) -> &'a Container {
    let kg = kg_containers(spec);
    assert_eq!(kg.len(), 1, "{what}: exactly one container runs kg");
    kg[0]
}
