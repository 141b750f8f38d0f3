//! `kgctl connect NAME`: joins this host to the mesh as the Peer NAME. It creates the Peer when
//! it does not exist, then on every resync programs the WireGuard device (one peer per segment
//! and per other Peer) and its address and routes, until SIGINT/SIGTERM; with `--clean-up` it
//! then removes its routes and address and the Peer it created. Does I/O: the API server, the
//! WireGuard device, netlink.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{ArgAction, Args};
use ipnet::IpNet;
use kilo_k8s::peer::{Peer, PeerSpec};
use kilo_mesh::flags::{DEFAULT_INTERFACE, DEFAULT_PORT, DEFAULT_SUBNET};
use kilo_mesh::local::DEFAULT_MTU;
use kilo_mesh::plan::network::LinkNames;
use kilo_mesh::types::{TunnelKind, WgKey, WireGuardBackend, parse_duration};
use kilo_mesh::views::connect::{ConnectSettings, connect_plan};
use kilo_netlink::{Network as _, RtNetlink};
use kilo_wireguard::{PrivateKey, WireGuard};

use crate::source::{SourceArgs, fetch_with};

/// Arguments of `kgctl connect`.
#[derive(Args)]
pub struct ConnectArgs {
    /// The Peer's name.
    name: String,
    /// This host's address in the mesh; the Peer's AllowedIPs when kgctl creates it.
    #[arg(short = 'a', long = "allowed-ip", default_value = "10.10.10.10/32")]
    allowed_ip: IpNet,
    /// More of the cluster's CIDRs to route into the mesh, e.g. the service CIDR
    /// (comma-separated or repeated): as in Kilo, they reach the mesh through the first node by
    /// name, as if it were an allowed-location IP of it.
    #[arg(long = "allowed-ips", value_delimiter = ',')]
    allowed_ips: Vec<IpNet>,
    /// The WireGuard private key file (created 0600 when absent).
    #[arg(long, default_value = "/var/lib/kilo/connect.key")]
    private_key: PathBuf,
    /// The WireGuard interface.
    #[arg(short = 'i', long, default_value = DEFAULT_INTERFACE)]
    interface: String,
    /// Its listen port.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Kernel WireGuard (kgctl creates the interface) or a userspace implementation's UAPI
    /// socket (the interface must exist).
    #[arg(long, value_enum, default_value = "kernel")]
    wireguard_backend: WireGuardBackend,
    /// Where userspace WireGuard puts its sockets.
    #[arg(long, default_value = kilo_wireguard::DEFAULT_SOCKET_DIR)]
    wireguard_socket_dir: PathBuf,
    /// Keepalive of the Peer kgctl creates, in seconds (keeps NAT mappings open).
    #[arg(long, default_value_t = 10)]
    persistent_keepalive: u16,
    /// How often to re-read the cluster and re-apply.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    resync_period: Duration,
    /// On exit, remove the routes and address kgctl added and the Peer it created.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    clean_up: bool,
    /// The interface's MTU.
    #[arg(long, default_value_t = DEFAULT_MTU)]
    mtu: u32,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Adds `cidrs` to the allowed-location IPs of the first node by name (Kilo's
/// `kgctl connect --allowed-ips`), so that the Peer routes them through that node's segment.
pub fn add_cluster_cidrs(snapshot: &mut kilo_mesh::Snapshot, cidrs: &[IpNet]) {
    if cidrs.is_empty() {
        return;
    }
    if let Some(first) = snapshot.nodes.iter_mut().min_by(|a, b| a.name.cmp(&b.name)) {
        for c in cidrs {
            let c = c.trunc();
            if !first.allowed_location_ips.contains(&c) {
                first.allowed_location_ips.push(c);
            }
        }
    }
}

/// Runs `kgctl connect` until SIGINT/SIGTERM.
pub fn run(a: &ConnectArgs) -> Result<String> {
    if a.source.uses_files() {
        bail!("kgctl connect needs the API server: drop -f");
    }
    let key = kilo_wireguard::load_or_create(&a.private_key)
        .with_context(|| format!("loading the WireGuard key {}", a.private_key.display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(connect(a, &key))?;
    Ok(String::new())
}

async fn connect(a: &ConnectArgs, key: &PrivateKey) -> Result<()> {
    let stop = stop_signal()?;
    let client = a.source.client().await?;
    let created = ensure_peer(&client, a, key.public_key()).await?;
    let create = a.wireguard_backend == WireGuardBackend::Kernel;
    let mut wg = kilo_wireguard::driver(a.wireguard_backend, &a.wireguard_socket_dir, create);
    let mut net = RtNetlink::new().context("opening netlink")?;
    Session {
        a,
        client: &client,
        key,
        wg: wg.as_mut(),
        net: &mut net,
    }
    .serve(stop)
    .await;
    if a.clean_up {
        let links = LinkNames {
            wireguard: a.interface.parse().context("--interface")?,
            private: None,
            tunnel: TunnelKind::Ipip.device(),
        };
        net.clean_up(&links)
            .await
            .context("removing kgctl's routes and address")?;
        if create {
            net.delete_link(&a.interface)
                .await
                .context("deleting the interface")?;
        }
        if created {
            kube::Api::<Peer>::all(client)
                .delete(&a.name, &kube::api::DeleteParams::default())
                .await
                .with_context(|| format!("deleting Peer {}", a.name))?;
            eprintln!("kgctl: deleted Peer {}", a.name);
        }
    }
    Ok(())
}

fn settings(a: &ConnectArgs) -> Result<ConnectSettings> {
    Ok(ConnectSettings {
        name: a.name.clone(),
        interface: a.interface.parse().context("--interface")?,
        port: a.port,
        address: a.allowed_ip,
        mtu: a.mtu,
        granularity: kilo_mesh::Granularity::Location,
        subnet: DEFAULT_SUBNET.parse()?,
    })
}

/// Creates the Peer unless it exists; `true` when kgctl created it. An existing Peer with
/// another public key is an error (two hosts cannot share one Peer).
async fn ensure_peer(client: &kube::Client, a: &ConnectArgs, public: WgKey) -> Result<bool> {
    let api = kube::Api::<Peer>::all(client.clone());
    let key = public.to_base64();
    if let Some(existing) = api.get_opt(&a.name).await.context("reading the Peer")? {
        if existing.spec.public_key != key {
            bail!(
                "Peer {} exists with another public key; use its private key (--private-key) or another name",
                a.name
            );
        }
        return Ok(false);
    }
    let peer = Peer::new(
        &a.name,
        PeerSpec {
            allowed_ips: vec![a.allowed_ip.to_string()],
            endpoint: None,
            persistent_keepalive: Some(i64::from(a.persistent_keepalive)),
            preshared_key: None,
            public_key: key,
        },
    );
    api.create(&kube::api::PostParams::default(), &peer)
        .await
        .with_context(|| format!("creating Peer {}", a.name))?;
    eprintln!("kgctl: created Peer {} ({})", a.name, a.allowed_ip);
    Ok(true)
}

/// What one run of `kgctl connect` works with.
struct Session<'a> {
    a: &'a ConnectArgs,
    client: &'a kube::Client,
    key: &'a PrivateKey,
    wg: &'a mut (dyn WireGuard + Send),
    net: &'a mut RtNetlink,
}

impl Session<'_> {
    /// Applies the plan now and every resync period until `stop` completes.
    async fn serve(&mut self, stop: impl std::future::Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        loop {
            if let Err(e) = self.apply_once().await {
                eprintln!("kgctl: {e:#}");
            }
            tokio::select! {
                biased;
                () = &mut stop => return,
                () = tokio::time::sleep(self.a.resync_period) => {}
            }
        }
    }

    async fn apply_once(&mut self) -> Result<()> {
        let a = self.a;
        let mut cluster = a.source.cluster(&fetch_with(self.client).await?)?;
        add_cluster_cidrs(&mut cluster.snapshot, &a.allowed_ips);
        let mut s = settings(a)?;
        s.granularity = cluster.granularity;
        s.subnet = cluster.subnet;
        let (device, network) = connect_plan(&cluster.snapshot, &s)?;
        let w = self
            .wg
            .apply(&device, self.key)
            .context("configuring WireGuard")?;
        let n = self
            .net
            .apply(&network)
            .await
            .context("programming the address and routes")?;
        if !w.is_empty() || !n.is_empty() {
            eprintln!(
                "kgctl: {} peers, {} routes through {} applied",
                device.peers.len(),
                network.routes.len(),
                a.interface
            );
        }
        Ok(())
    }
}

/// Installs the SIGTERM/SIGINT handlers now (before anything is created, so that a signal can
/// never skip the clean-up) and returns a future that completes on either.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("watching SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("watching SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
