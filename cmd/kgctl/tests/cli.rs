//! Black-box tests of kgctl as Kilo and kubectl users type it: global API server flags before
//! or after the subcommand, `graph` without `--hostname`, `--mesh-granularity auto`, `-o yaml`
//! and `-o wide`, shell completions and `kgctl version`.

#[cfg(test)]
mod support;

use support::{kgctl, kgctl_fails, run};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../e2e/fixtures");

#[cfg(test)]
/// A kubeconfig naming one context, `lab`, whose server nothing listens on.
fn kubeconfig(dir: &std::path::Path) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\n\
         clusters: [{name: lab, cluster: {server: \"https://127.0.0.1:1\"}}]\n\
         users: [{name: lab, user: {token: t}}]\n\
         contexts: [{name: lab, context: {cluster: lab, user: lab}}]\n",
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn api_flags_are_global_before_or_after_the_subcommand() {
    let missing = "/nonexistent/kubeconfig";
    for args in [
        vec!["--kubeconfig", missing, "showconf", "node", "n1"],
        vec!["showconf", "node", "n1", "--kubeconfig", missing],
        vec!["--kubeconfig", missing, "status"],
        vec!["--kubeconfig", missing, "check"],
        vec!["--kubeconfig", missing, "graph"],
        vec!["--kubeconfig", missing, "plan", "--hostname", "n1"],
    ] {
        let err = kgctl_fails(&args);
        assert!(
            err.starts_with("kgctl: loading kubeconfig /nonexistent/kubeconfig: "),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn context_picks_a_kubeconfig_context() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path());
    let err = kgctl_fails(&["--kubeconfig", &kc, "--context", "prod", "status"]);
    assert!(
        err.starts_with(&format!("kgctl: loading kubeconfig {kc}: ")),
        "{err}"
    );
    assert!(err.contains("prod"), "names the context: {err}");
    // the context that exists gets as far as the (absent) API server
    let err = kgctl_fails(&["status", "--context", "lab", "--kubeconfig", &kc]);
    assert!(err.starts_with("kgctl: listing Nodes: "), "{err}");
}

#[test]
fn graph_without_hostname_sees_the_mesh_from_the_first_ready_node() {
    let from_a = kgctl(&["graph", "-f", "two-locations.yaml", "--hostname", "node-a"]);
    assert_eq!(kgctl(&["graph", "-f", "two-locations.yaml"]), from_a);
}

#[cfg(test)]
/// `two-locations.yaml` with node-c publishing `full` granularity.
fn disagreeing(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(format!("{FIXTURES}/two-locations.yaml")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let c = lines
        .iter()
        .position(|l| l.contains("\"name\": \"node-c\""))
        .unwrap();
    lines[c] = lines[c].replace(
        "\"kilo.squat.ai/granularity\": \"location\"",
        "\"kilo.squat.ai/granularity\": \"full\"",
    );
    let path = dir.join("disagreeing.yaml");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn auto_granularity_refuses_nodes_that_disagree_and_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let f = disagreeing(dir.path());
    for cmd in ["graph", "status", "check"] {
        let err = kgctl_fails(&[cmd, "-f", &f, "--now", "1700000000"]);
        assert_eq!(
            err,
            "kgctl: the nodes publish different mesh granularities (kilo.squat.ai/granularity): \
             full (node-c), location (node-a, node-b, node-d); pass --mesh-granularity\n",
            "{cmd}"
        );
    }
    let out = kgctl(&["graph", "-f", &f, "--mesh-granularity", "full"]);
    assert!(out.contains("node-c"), "{out}");
}

#[test]
fn planning_flags_work_before_the_subcommand_as_in_kilo() {
    let base = ["-f", "two-locations.yaml", "--now", "1700000000"];
    let after = kgctl(&[&["graph"][..], &base, &["--mesh-granularity", "full"]].concat());
    let before = kgctl(&[&["--mesh-granularity", "full", "graph"][..], &base].concat());
    assert_eq!(before, after);
    assert_ne!(before, kgctl(&[&["graph"][..], &base].concat()));
    let plan = |pre: &[&str], post: &[&str]| {
        let args = [pre, &["plan", "--hostname", "node-a"], &base[..2], post].concat();
        kgctl(&args)
    };
    assert_eq!(
        plan(&["--port=51999", "--subnet", "10.9.0.0/16"], &[]),
        plan(&[], &["--port=51999", "--subnet", "10.9.0.0/16"])
    );
    assert!(plan(&["--subnet", "10.9.0.0/16"], &[]).contains("10.9."));
    // graph has no --port: refused, not silently dropped.
    let err = kgctl_fails(&["--port", "51999", "graph", "-f", "two-locations.yaml"]);
    assert!(err.contains("--port"), "{err}");
}

#[test]
fn granularity_takes_kilos_values_only() {
    let out = run(&[
        "graph",
        "-f",
        "two-locations.yaml",
        "--mesh-granularity",
        "cross",
    ]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("[possible values: auto, location, full]"),
        "{err}"
    );
}

#[test]
fn status_yaml_is_the_json_document() {
    let args = ["status", "-f", "status.yaml", "--now", "1700000010", "-o"];
    let json: serde_json::Value =
        serde_json::from_str(&kgctl(&[&args[..], &["json"]].concat())).unwrap();
    let yaml = kgctl(&[&args[..], &["yaml"]].concat());
    assert!(
        yaml.lines()
            .any(|l| l == "apiVersion: kgctl.kilo.squat.ai/v1alpha1"),
        "{yaml}"
    );
    let from_yaml: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(from_yaml, json);
}

#[test]
fn plan_and_check_yaml_are_their_json_documents() {
    for args in [
        vec![
            "plan",
            "-f",
            "two-locations.yaml",
            "--hostname",
            "node-a",
            "-o",
        ],
        vec![
            "check",
            "-f",
            "two-locations.yaml",
            "--now",
            "1700000000",
            "-o",
        ],
    ] {
        let json = run(&[&args[..], &["json"]].concat());
        let yaml = run(&[&args[..], &["yaml"]].concat());
        assert_eq!(json.status.code(), yaml.status.code(), "{args:?}");
        let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let yaml: serde_json::Value =
            serde_saphyr::from_str(std::str::from_utf8(&yaml.stdout).unwrap()).unwrap();
        assert_eq!(yaml, json, "{args:?}");
    }
}

#[test]
fn status_wide_adds_segment_and_private_ips() {
    insta::assert_snapshot!(
        kgctl(&["status", "-f", "two-locations.yaml", "--now", "1700000000", "-o", "wide"])
            .lines()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n"),
        @r"
    NODE    LOCATION  ROLE      MESH   ENDPOINT            WIREGUARD-IP    POD-CIDRS     LAST-SEEN  SEGMENT       INTERNAL-IPS
    node-a  gcp       leader    ready  203.0.113.1:51820   10.4.11.93/16   10.42.0.0/24  0s         location:gcp  10.0.0.1/24
    node-b  gcp       follower  ready  203.0.113.2:51820   -               10.42.1.0/24  0s         location:gcp  10.0.0.2/24
    node-c  aws       leader    ready  198.51.100.3:51820  10.4.25.174/16  10.42.2.0/24  0s         location:aws  172.31.0.3/24
    node-d  aws       leader    ready  198.51.100.4:51820  10.4.226.37/16  10.42.3.0/24  0s         node:node-d   -
    "
    );
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let bash = kgctl(&["completion", "bash"]);
    assert!(bash.contains("complete -F _kgctl"), "{bash}");
    let check = std::process::Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(bash.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(check.success(), "bash -n refuses the script");
    let zsh = kgctl(&["completion", "zsh"]);
    assert!(zsh.starts_with("#compdef kgctl\n"), "{zsh}");
    let fish = kgctl(&["completion", "fish"]);
    for sub in [
        "plan", "graph", "status", "showconf", "check", "connect", "version",
    ] {
        assert!(
            bash.contains(sub) && zsh.contains(sub) && fish.contains(sub),
            "{sub}"
        );
    }
    assert!(fish.contains("complete -c kgctl"), "{fish}");
    assert!(fish.contains("-l kubeconfig"), "{fish}");
    assert!(!run(&["completion", "powershell"]).status.success());
}

#[test]
fn version_is_the_one_kgctl_version_prints() {
    let v = kgctl(&["version"]);
    assert!(
        v.starts_with(&format!("{} (", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert_eq!(kgctl(&["--version"]), format!("kgctl {v}"));
}
