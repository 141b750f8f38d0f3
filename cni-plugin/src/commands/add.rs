//! ADD: IPAM (built-in or delegated), bridge, veth pair into the pod netns, addresses and
//! routes. A failed ADD releases its own leases and deletes only the links it created; an
//! interface name already taken in the pod is refused before anything is allocated. Does
//! netlink, file and procfs I/O.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::Path;

use ipnet::IpNet;
use nix::errno::Errno;
use serde_json::Value;

use crate::commands::{del, host_veth_name, nl_err, prev_result};
use crate::config::NetConf;
use crate::env::Env;
use crate::error::{CniError, CniResult, Code};
use crate::ipam::{Ipam, delegate};
use crate::netlink::{Link, Netlink, VethSpec, fmt_mac};
use crate::netns;
use crate::result::{CniResult as Res, Interface, IpConfig, Route};

/// Runs ADD and returns the result for the requested version.
pub fn run(env: &Env, conf: &NetConf, raw: &[u8]) -> CniResult<Value> {
    let (ns, mut pod) = netns::open_with(&env.netns, del::pod_socket)?;
    refuse_taken_ifname(env, &mut pod)?;
    let ipam = ipam_add(env, conf, raw)?;
    let mut created = false;
    match plumb(env, conf, (&ns, &mut pod), &ipam, &mut created) {
        Ok(mut res) => {
            if let Some(mut prev) = prev_result(conf)? {
                prev.merge(res);
                res = prev;
            }
            Ok(res.to_json(&conf.cni_version))
        }
        Err(e) => {
            undo_failed(env, conf, raw, &mut pod, created);
            Err(e)
        }
    }
}

/// Undoes a failed ADD: its leases always, the veth pair only when this ADD created it (a
/// name that already existed belongs to another attachment).
fn undo_failed(env: &Env, conf: &NetConf, raw: &[u8], pod: &mut Netlink, created: bool) {
    let links = if created {
        del::delete_links(env, Some(pod))
    } else {
        Ok(())
    };
    for step in [links, del::release(env, conf, raw)] {
        if let Err(undo) = step {
            eprintln!("kilo-cni: undoing failed ADD: {undo}");
        }
    }
}

/// Refuses an ADD whose `CNI_IFNAME` already exists in the pod, as the reference bridge
/// plugin does, before any lease is taken. `pod` is a socket in the pod's netns.
fn refuse_taken_ifname(env: &Env, pod: &mut Netlink) -> CniResult<()> {
    let found = pod
        .link(&env.ifname)
        .map_err(nl_err(format!("looking up {}", env.ifname)))?;
    match found {
        Some(_) => Err(CniError::new(
            Code::InterfaceExists,
            format!(
                "interface {} already exists in the container netns",
                env.ifname
            ),
            format!("CNI_NETNS {}", env.netns),
        )),
        None => Ok(()),
    }
}

fn ipam_add(env: &Env, conf: &NetConf, raw: &[u8]) -> CniResult<Res> {
    match conf.ipam_delegate() {
        Some(plugin) => {
            let out = delegate::exec(plugin, &env.path, "ADD", raw)?;
            let res = Res::from_value(&out).map_err(|e| {
                CniError::new(
                    Code::Decode,
                    format!("decoding result of ipam plugin {plugin}"),
                    e.to_string(),
                )
            })?;
            if res.ips.is_empty() {
                return Err(CniError::new(
                    Code::InvalidConfig,
                    format!("ipam plugin {plugin} returned no addresses"),
                    "",
                ));
            }
            Ok(res)
        }
        None => Ipam::new(conf)?.allocate(&env.container_id, &env.ifname),
    }
}

/// Random locally administered unicast MAC.
fn random_mac() -> [u8; 6] {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    let b = h.finish().to_le_bytes();
    [(b[0] & 0xfe) | 0x02, b[1], b[2], b[3], b[4], b[5]]
}

/// Bridge, veth pair, hairpin and the pod side. `pod` is the pod's netns and a socket in it.
fn plumb(
    env: &Env,
    conf: &NetConf,
    pod: (&File, &mut Netlink),
    ipam: &Res,
    created: &mut bool,
) -> CniResult<Res> {
    let (ns, pod_nl) = pod;
    let mut nl = Netlink::new().map_err(nl_err("opening netlink socket"))?;
    let bridge = ensure_bridge(&mut nl, conf)?;
    if conf.gateway_on_bridge() {
        gateway_on_bridge(&mut nl, conf, bridge.index, &ipam.ips)?;
    }
    let host = host_veth_name(env);
    let (host_mac, peer_mac) = (random_mac(), random_mac());
    let spec = VethSpec {
        host: &host,
        peer: &env.ifname,
        host_mac,
        peer_mac,
        mtu: conf.plugin.mtu,
        master: bridge.index,
        netns_fd: ns.as_raw_fd(),
    };
    let (host_index, peer_index) = create_veth(env, (&mut nl, pod_nl), &spec, created)?;
    let routes = pod_routes(conf, ipam)?;
    // Before the pod end comes up: until then the host end has no carrier, so no address.
    let no_ll = Path::new("/proc/sys/net/ipv6").exists();
    nl.set_port(host_index, conf.plugin.hairpin_mode, no_ll)
        .map_err(nl_err(format!("configuring bridge port {host}")))?;
    configure_pod(env, pod_nl, peer_index, &ipam.ips, &routes)?;
    let macs = (bridge.mac, fmt_mac(&host_mac), fmt_mac(&peer_mac));
    Ok(attachment_result(env, conf, host, macs, ipam, routes))
}

/// ADD's result: the bridge, the host veth and the container interface (index 2, which the
/// addresses name), with their MACs.
fn attachment_result(
    env: &Env,
    conf: &NetConf,
    host: String,
    (bridge_mac, host_mac, peer_mac): (String, String, String),
    ipam: &Res,
    routes: Vec<Route>,
) -> Res {
    let mtu = (conf.plugin.mtu > 0).then_some(conf.plugin.mtu);
    let interfaces = vec![
        Interface {
            name: conf.bridge_name().to_owned(),
            mac: bridge_mac,
            ..Default::default()
        },
        Interface {
            name: host,
            mac: host_mac,
            mtu,
            ..Default::default()
        },
        Interface {
            name: env.ifname.clone(),
            mac: peer_mac,
            sandbox: env.netns.clone(),
            mtu,
        },
    ];
    Res {
        interfaces,
        ips: ipam
            .ips
            .iter()
            .map(|ip| IpConfig {
                interface: Some(2),
                ..ip.clone()
            })
            .collect(),
        routes,
        dns: ipam.dns.clone(),
    }
}

/// Creates the veth pair (`created` is set once it exists) and returns the host and peer
/// indexes: from the kernel's echo, or looked up by name (through the node's and the pod's
/// sockets) when the kernel does not echo.
fn create_veth(
    env: &Env,
    (nl, pod_nl): (&mut Netlink, &mut Netlink),
    spec: &VethSpec<'_>,
    created: &mut bool,
) -> CniResult<(u32, u32)> {
    let host = spec.host;
    let echoed = nl.add_veth(spec).map_err(|e| match e.errno() {
        Some(Errno::EEXIST) => CniError::new(
            Code::InvalidConfig,
            format!("creating veth {host}: interface already exists"),
            format!("container {} interface {}", env.container_id, env.ifname),
        ),
        _ => nl_err(format!("creating veth {host} / {}", env.ifname))(e),
    })?;
    *created = true;
    match echoed {
        Some(indexes) => Ok(indexes),
        None => Ok((link_index(nl, host)?, link_index(pod_nl, &env.ifname)?)),
    }
}

/// The index of a link that must exist (this ADD created it).
fn link_index(nl: &mut Netlink, name: &str) -> CniResult<u32> {
    let link = nl
        .link(name)
        .map_err(nl_err(format!("looking up {name}")))?;
    link.map(|l| l.index)
        .ok_or_else(|| CniError::new(Code::Io, format!("{name} vanished"), ""))
}

/// Finds or creates the bridge and makes sure it is up.
fn ensure_bridge(nl: &mut Netlink, conf: &NetConf) -> CniResult<Link> {
    let name = conf.bridge_name();
    let lookup = |nl: &mut Netlink| {
        nl.link(name)
            .map_err(nl_err(format!("looking up bridge {name}")))
    };
    if let Some(br) = lookup(nl)? {
        if !br.up {
            nl.set_up(br.index)
                .map_err(nl_err(format!("setting bridge {name} up")))?;
        }
        return Ok(br);
    }
    match nl.add_bridge(name, conf.plugin.mtu, random_mac()) {
        Ok(()) | Err(crate::netlink::NlError::Kernel(Errno::EEXIST)) => {}
        Err(e) => return Err(nl_err(format!("creating bridge {name}"))(e)),
    }
    let br = lookup(nl)?
        .ok_or_else(|| CniError::new(Code::Io, format!("bridge {name} vanished"), ""))?;
    if !br.up {
        nl.set_up(br.index)
            .map_err(nl_err(format!("setting bridge {name} up")))?;
    }
    Ok(br)
}

/// Gateway addresses on the bridge and forwarding on, for every family in use.
fn gateway_on_bridge(
    nl: &mut Netlink,
    conf: &NetConf,
    index: u32,
    ips: &[IpConfig],
) -> CniResult<()> {
    let name = conf.bridge_name();
    for ip in ips {
        let Some(gw) = ip.gateway else { continue };
        let addr = IpNet::new(gw, ip.address.prefix_len())
            .map_err(|e| CniError::new(Code::InvalidConfig, "gateway prefix", e.to_string()))?;
        match nl.add_addr(index, addr) {
            Ok(()) | Err(crate::netlink::NlError::Kernel(Errno::EEXIST)) => {}
            Err(e) => return Err(nl_err(format!("adding {addr} to bridge {name}"))(e)),
        }
        if gw.is_ipv4() {
            netns::sysctl("net/ipv4/ip_forward", "1")?;
        } else {
            netns::sysctl("net/ipv6/conf/all/forwarding", "1")?;
        }
    }
    Ok(())
}

/// IPAM routes, then a default route per family when `isDefaultGateway` (unless IPAM
/// already has one); routes without a gateway use their family's gateway.
fn pod_routes(conf: &NetConf, ipam: &Res) -> CniResult<Vec<Route>> {
    let mut routes = ipam.routes.clone();
    if !conf.plugin.is_default_gateway {
        return Ok(routes);
    }
    for ip in &ipam.ips {
        let Some(gw) = ip.gateway else { continue };
        let default: IpNet = if gw.is_ipv4() { "0.0.0.0/0" } else { "::/0" }
            .parse()
            .map_err(|_| CniError::new(Code::InvalidConfig, "default route", ""))?;
        match routes.iter().find(|r| r.dst == default) {
            Some(r) if r.gw.is_some_and(|g| g != gw) => {
                return Err(CniError::new(
                    Code::InvalidConfig,
                    format!(
                        "isDefaultGateway: ipam already has a default route via another gateway than {gw}"
                    ),
                    "",
                ));
            }
            Some(_) => {}
            None => routes.push(Route {
                dst: default,
                gw: Some(gw),
            }),
        }
    }
    Ok(routes)
}

/// The gateway used for a route without one: the first gateway of the same family.
pub fn family_gateway(ips: &[IpConfig], dst: &IpNet) -> Option<IpAddr> {
    ips.iter()
        .filter(|ip| ip.address.addr().is_ipv4() == dst.addr().is_ipv4())
        .find_map(|ip| ip.gateway)
}

/// Sets the container interface up, adds its addresses and routes (through `pod`, a socket
/// in the pod's netns).
fn configure_pod(
    env: &Env,
    pod: &mut Netlink,
    index: u32,
    ips: &[IpConfig],
    routes: &[Route],
) -> CniResult<()> {
    let ifname = &env.ifname;
    pod.set_up(index)
        .map_err(nl_err(format!("setting {ifname} up")))?;
    for ip in ips {
        pod.add_addr(index, ip.address)
            .map_err(nl_err(format!("adding {} to {ifname}", ip.address)))?;
    }
    for r in routes {
        let gw = r.gw.or_else(|| family_gateway(ips, &r.dst));
        pod.add_route(index, r.dst, gw)
            .map_err(nl_err(format!("adding route {} on {ifname}", r.dst)))?;
    }
    Ok(())
}
