//! Conformance suite derived from the CNI spec's MUSTs, run against the built kilo-cni in
//! throwaway network namespaces (needs root; fails when prerequisites are missing).

#[cfg(test)]
mod common;

use common::*;
use serde_json::{Value, json};

impl Lab {
    fn conf(&self, version: &str) -> Value {
        kilo_conf(
            version,
            &self.bridge,
            self.data.str(),
            "10.42.1.0/24",
            "fd00:10:42:1::/64",
        )
    }
    fn call<'a>(&'a self, cmd: &'a str, id: &'a str, netns: &'a str) -> Call<'a> {
        Call::new(KILO, &self.node, cmd, id, netns)
    }
}

#[test]
fn version_lists_supported_versions_and_echoes_request() {
    let lab = Lab::new();
    let out = lab
        .call("VERSION", "x", "")
        .run(&json!({"cniVersion": "1.0.0"}));
    let v = out.assert_ok().json();
    assert_eq!(v["cniVersion"], "1.0.0");
    let versions: Vec<&str> = v["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in ["0.4.0", "1.0.0", "1.1.0"] {
        assert!(versions.contains(&want), "{want} missing from {versions:?}");
    }
    let empty = lab.call("VERSION", "x", "").run_raw(b"");
    assert_eq!(empty.assert_ok().json()["cniVersion"], "1.1.0");
}

fn lifecycle(version: &str) {
    let lab = Lab::new();
    let pod = Netns::new("p");
    let id = unique("c");
    let conf = lab.conf(version);
    let add = lab.call("ADD", &id, &pod.path()).run(&conf);
    let res = add.assert_ok().json();
    assert_eq!(res["cniVersion"], version);
    assert_eq!(res["interfaces"].as_array().map_or(0, Vec::len), 3);
    assert_eq!(res["interfaces"][2]["sandbox"], pod.path());
    assert_eq!(res["interfaces"][0]["name"], lab.bridge);
    for ip in res["ips"].as_array().into_iter().flatten() {
        assert_eq!(ip["interface"], 2);
        assert_eq!(
            ip.get("version").is_some(),
            version == "0.4.0",
            "ips[].version at {version}: {ip}"
        );
    }
    assert_eq!(result_addrs(&res), ["10.42.1.2", "fd00:10:42:1::2"]);
    assert_eq!(
        res["routes"],
        json!([{"dst":"0.0.0.0/0","gw":"10.42.1.1"},{"dst":"::/0","gw":"fd00:10:42:1::1"}])
    );
    assert_eq!(
        leases(lab.data.str(), "kilo"),
        ["10.42.1.2", "fd00:10:42:1::2"]
    );

    let checked = with_prev(&conf, &res);
    lab.call("CHECK", &id, &pod.path())
        .run(&checked)
        .assert_ok();
    let again = lab.call("ADD", &id, &pod.path()).run(&conf);
    assert!(
        !again.ok,
        "a second ADD for the same container and ifname must fail"
    );
    again.json();

    lab.call("DEL", &id, &pod.path()).run(&checked).assert_ok();
    assert!(leases(lab.data.str(), "kilo").is_empty());
    let (_, links) = pod.exec(&["ip", "-o", "link", "show", "eth0"]);
    assert!(links.is_empty(), "eth0 left in the pod: {links}");
    lab.call("DEL", &id, &pod.path()).run(&checked).assert_ok();
    lab.call("DEL", &id, "").run(&conf).assert_ok();
    lab.call("DEL", &id, "/var/run/netns/kcni-does-not-exist")
        .run(&conf)
        .assert_ok();
}

#[test]
fn lifecycle_0_4_0() {
    lifecycle("0.4.0");
}

#[test]
fn lifecycle_1_0_0() {
    lifecycle("1.0.0");
}

#[test]
fn lifecycle_1_1_0() {
    lifecycle("1.1.0");
}

#[test]
fn del_without_netns_and_prev_result_releases_leases() {
    let lab = Lab::new();
    let id = unique("c");
    {
        let pod = Netns::new("p");
        lab.call("ADD", &id, &pod.path())
            .run(&lab.conf("1.0.0"))
            .assert_ok();
    }
    assert_eq!(leases(lab.data.str(), "kilo").len(), 2);
    lab.call("DEL", &id, "").run(&lab.conf("1.0.0")).assert_ok();
    assert!(leases(lab.data.str(), "kilo").is_empty());
}

#[test]
fn check_fails_after_tampering() {
    let lab = Lab::new();
    let pod = Netns::new("p");
    let id = unique("c");
    let conf = lab.conf("1.1.0");
    let res = lab
        .call("ADD", &id, &pod.path())
        .run(&conf)
        .assert_ok()
        .json();
    let checked = with_prev(&conf, &res);
    pod.exec(&["ip", "route", "del", "default", "via", "10.42.1.1"]);
    let out = lab.call("CHECK", &id, &pod.path()).run(&checked);
    assert!(!out.ok);
    let msg = out.json()["msg"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("route 0.0.0.0/0 via 10.42.1.1"),
        "unhelpful message: {msg}"
    );
    pod.exec(&["ip", "addr", "del", "fd00:10:42:1::2/64", "dev", "eth0"]);
    let out = lab.call("CHECK", &id, &pod.path()).run(&checked);
    let msg = out.json()["msg"].as_str().unwrap().to_owned();
    assert!(
        !out.ok && msg.contains("fd00:10:42:1::2/64"),
        "unhelpful message: {msg}"
    );
    let missing = lab.call("CHECK", &id, &pod.path()).run(&conf);
    assert_eq!(missing.code(), 7, "CHECK without prevResult");
    assert_eq!(
        lab.call("CHECK", &id, &pod.path())
            .run(&with_prev(&lab.conf("0.3.1"), &res))
            .code(),
        1
    );
}

#[test]
fn gc_releases_stale_leases() {
    let lab = Lab::new();
    let (p1, p2) = (Netns::new("p"), Netns::new("p"));
    let (a, b) = (unique("c"), unique("c"));
    let conf = lab.conf("1.1.0");
    lab.call("ADD", &a, &p1.path()).run(&conf).assert_ok();
    lab.call("ADD", &b, &p2.path()).run(&conf).assert_ok();
    assert_eq!(leases(lab.data.str(), "kilo").len(), 4);
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": a, "ifname": "eth0"}]);
    lab.call("GC", "", "").run(&gc).assert_ok();
    assert_eq!(
        leases(lab.data.str(), "kilo"),
        ["10.42.1.2", "fd00:10:42:1::2"]
    );
    assert_eq!(
        lab.call("GC", "", "").run(&lab.conf("1.0.0")).code(),
        1,
        "GC needs 1.1.0"
    );
}

#[test]
fn status_reports_exhaustion_and_unusable_store() {
    let lab = Lab::new();
    let mut conf = lab.conf("1.1.0");
    conf["ipam"]["ranges"] = json!([[{"subnet": "10.42.9.0/30"}]]);
    lab.call("STATUS", "", "").run(&conf).assert_ok();
    let pod = Netns::new("p");
    lab.call("ADD", &unique("c"), &pod.path())
        .run(&conf)
        .assert_ok();
    assert_eq!(lab.call("STATUS", "", "").run(&conf).code(), 50);
    let file = lab.data.0.join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    conf["ipam"]["dataDir"] = file.to_str().unwrap().into();
    assert_eq!(lab.call("STATUS", "", "").run(&conf).code(), 50);
    assert_eq!(
        lab.call("STATUS", "", "").run(&lab.conf("1.0.0")).code(),
        1,
        "STATUS needs 1.1.0"
    );
}

#[test]
fn bad_environment_is_code_4() {
    let lab = Lab::new();
    let conf = lab.conf("1.1.0");
    let mut no_cmd = lab.call("ADD", "c1", "/var/run/netns/x");
    no_cmd.command = None;
    assert_eq!(no_cmd.run(&conf).code(), 4);
    assert_eq!(
        lab.call("ADD", "c1", "/var/run/netns/kcni-does-not-exist")
            .run(&conf)
            .code(),
        4
    );
    assert_eq!(lab.call("ADD", "", "/var/run/netns/x").run(&conf).code(), 4);
    // Interface names the kernel refuses (U+00A0 and U+0120 hold the byte 0xA0, which the
    // kernel's isspace() matches).
    for ifname in [
        "a:b",
        "a/b",
        "a b",
        "a\u{0b}b",
        "a\u{a0}b",
        "a\u{120}b",
        ".",
        "sixteen-bytes-xx",
    ] {
        let mut call = lab.call("ADD", "c1", "/var/run/netns/x");
        call.ifname = ifname;
        let out = call.run(&conf);
        assert_eq!(out.code(), 4, "{ifname:?}");
        assert_eq!(out.json()["msg"], "invalid CNI_IFNAME", "{ifname:?}");
    }
    assert!(leases(lab.data.str(), "kilo").is_empty());
}

#[test]
fn bad_config_codes() {
    let lab = Lab::new();
    let pod = Netns::new("p");
    let call = lab.call("ADD", "c1", "");
    let call = Call {
        netns: &pod.path(),
        ..call
    };
    assert_eq!(call.run(&lab.conf("9.9.9")).code(), 1);
    let mut bad_subnet = lab.conf("1.1.0");
    bad_subnet["ipam"]["ranges"] = json!([[{"subnet": "10.42.1.7/24"}]]);
    assert_eq!(call.run(&bad_subnet).code(), 7);
    bad_subnet["ipam"]["ranges"] = json!([[{"subnet": "not-a-subnet"}]]);
    assert_eq!(call.run(&bad_subnet).code(), 7);
    assert_eq!(call.run_raw(b"{not json").code(), 6);
    let mut masq = lab.conf("1.1.0");
    masq["ipMasq"] = true.into();
    assert_eq!(call.run(&masq).code(), 2);
}

#[test]
fn ipam_type_is_delegated() {
    let lab = Lab::new();
    let pod = Netns::new("p");
    let id = unique("c");
    let mut conf = lab.conf("1.0.0");
    conf["ipam"]["type"] = "host-local".into();
    let res = lab
        .call("ADD", &id, &pod.path())
        .run(&conf)
        .assert_ok()
        .json();
    assert_eq!(result_addrs(&res), ["10.42.1.2", "fd00:10:42:1::2"]);
    assert_eq!(leases(lab.data.str(), "kilo").len(), 2);
    lab.call("DEL", &id, &pod.path()).run(&conf).assert_ok();
    assert!(leases(lab.data.str(), "kilo").is_empty());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    #[test]
    fn random_config_never_panics(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..256), cmd in 0usize..6) {
        let cmds = ["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS"];
        let call = Call { plugin: KILO, node: None, command: Some(cmds[cmd]), container: "c1", netns: "/var/run/netns/kcni-none", ifname: "eth0" };
        let out = call.run_raw(&raw);
        let v: Value = serde_json::from_str(&out.stdout).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}: {:?}", out.stdout)))?;
        proptest::prop_assert!(out.ok || v["code"].is_u64(), "{}", out.stdout);
        proptest::prop_assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}
