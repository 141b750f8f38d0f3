//! kg: the kilo-rs node daemon. Parses flags, connects the adapters and runs the reconcile loop
//! and the HTTP server until SIGTERM/SIGINT.

mod backend_override;
mod dataplane;
mod flags;
mod health;
mod http;
mod metrics;
mod node_dataplane;
mod reconcile;

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context as _, Result};
use clap::Parser as _;
use kilo_k8s::kube_cluster::KubeCluster;
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

use crate::dataplane::Dataplane as _;
use crate::flags::{Config, Flags, LogLevel};

fn init_logging(level: LogLevel) {
    let filter = match level {
        LogLevel::All => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
        LogLevel::None => "off",
    };
    let filter = EnvFilter::try_from_env("KILO_LOG").unwrap_or_else(|_| EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

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
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
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
    let mut dp = node_dataplane::NodeDataplane::new(&cfg, &mut registry).await?;
    let health = health::parts(
        &cfg.hostname,
        &cfg.flags.health,
        cfg.listen.port(),
        &mut registry,
    );
    let shared = Arc::new(http::Shared {
        registry: Mutex::new(registry),
        ready: AtomicBool::new(false),
        graph: RwLock::new(None),
    });
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
            // dataplane is cleaned up when asked; the annotations stay (no API to remove them).
            tracing::info!("shutting down before the first Node list from the API server");
            prober.abort();
            server.abort();
            if cfg.flags.clean_up {
                dp.clean_up(cfg.flags.clean_up_interface).await?;
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
    let flags = Flags::parse();
    init_logging(flags.log_level);
    let result = flags.into_config().and_then(|cfg| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the runtime")?
            .block_on(run(cfg))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // one line on stderr, whatever the log level or format
            eprintln!("kg: {e:#}");
            ExitCode::FAILURE
        }
    }
}
