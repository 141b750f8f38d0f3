//! kg: the kilo-rs node daemon. Parses flags, connects the adapters and runs the reconcile loop
//! and the HTTP server until SIGTERM/SIGINT; `kg webhook` serves the Peer validating webhook.

mod admission;
mod backend_override;
mod change_log;
mod dataplane;
mod flags;
mod health;
mod http;
mod listen;
mod logging;
mod metrics;
mod node_dataplane;
mod process_metrics;
mod reconcile;
#[cfg(test)]
mod test_http;
mod webhook;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Parser as _;
use kilo_k8s::kube_cluster::KubeCluster;
use prometheus_client::registry::Registry;

use crate::flags::{Config, Flags, KgCommand};

/// jemalloc rather than glibc's malloc: each reconcile's temporaries (the view, the plan, the
/// netlink dumps) are freed on whichever thread ran them, and glibc kept most of that in its
/// per-thread arenas, so kg's resident memory grew to about twice its live heap across a quiet
/// minute. Configured by [`JEMALLOC_CONF`] (docs/kg.md, "Memory"; docs/dependencies.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at its start: one arena for kg's few threads (no memory
/// stranded in another thread's arena), freed pages returned to the OS at once (no decay), and
/// jemalloc's background thread for the rest of its upkeep. This symbol is tikv-jemalloc-sys's
/// documented way to set them from the program; `_RJEM_MALLOC_CONF` in the environment still
/// overrides them.
#[allow(unsafe_code)] // jemalloc looks this C symbol up by name: nothing else is unsafe here
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static JEMALLOC_CONF: &[u8] =
    b"narenas:1,background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0\0";

async fn kube_client(cfg: &Config) -> Result<kube::Client> {
    Ok(
        kilo_k8s::client::client(cfg.flags.kubeconfig.as_deref(), cfg.flags.master.as_deref())
            .await?,
    )
}

/// Installs the SIGTERM/SIGINT handlers now and returns a future that completes on either.
/// Installing them up front matters: until a handler exists a SIGTERM kills kg outright (no
/// clean-up), and a future's body only runs when it is first polled, which `select!` may
/// postpone past the first apply.
pub(crate) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("watching SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("watching SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
    })
}

async fn run(cfg: Config) -> Result<()> {
    let mut shutdown = Box::pin(shutdown_signal()?);
    let cfg = Arc::new(cfg);
    let mut registry = Registry::default();
    let metrics = metrics::Metrics::register(&mut registry);
    process_metrics::register(&mut registry);
    let mut dp = node_dataplane::NodeDataplane::new(&cfg, &mut registry).await?;
    let health = health::parts(
        &cfg.hostname,
        &cfg.flags.health,
        cfg.listen.port(),
        &mut registry,
    );
    let shared = Arc::new(http::Shared::new(registry));
    let server = tokio::spawn(http::serve(cfg.listen, shared.clone(), health.routes));
    let prober = tokio::spawn(health.health.run());
    let client = kube_client(&cfg).await?;
    let cluster = KubeCluster::start(
        client,
        cfg.flags.mesh.topology_label.clone(),
        cfg.hostname.as_str(),
    );
    tokio::select! {
        () = cluster.wait_ready() => {}
        () = &mut shutdown => {
            // The API server never answered: nothing was planned. As with a later SIGTERM the
            // node is cleaned up when asked; the annotations stay (no API to remove them).
            tracing::info!("shutting down before the first Node list from the API server");
            prober.abort();
            server.abort();
            if cfg.flags.clean_up {
                reconcile::clean_up_node(&cfg, &mut dp).await?;
            }
            return Ok(());
        }
    }
    tracing::info!(node = %cfg.hostname, "kg started");
    let result = reconcile::Reconciler::new(cfg, cluster, dp, shared, metrics)
        .with_health(health.feed)
        .run(shutdown)
        .await;
    prober.abort();
    server.abort();
    result
}

fn main() -> ExitCode {
    let mut flags = Flags::parse();
    logging::init(flags.log_level, flags.log_format);
    let result = match flags.command.take() {
        Some(KgCommand::Webhook(args)) => webhook::run(&args),
        None => daemon(flags),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // one line on stderr, whatever the log level or format
            eprintln!("kg: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// kg's tokio runtime: two worker threads.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// Runs the node daemon until SIGTERM/SIGINT.
fn daemon(flags: Flags) -> Result<()> {
    flags
        .into_config()
        .and_then(|cfg| runtime()?.block_on(run(cfg)))
}
