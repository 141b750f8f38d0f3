//! kilo-test-apiserver: a minimal in-memory Kubernetes API server (plain HTTP, no auth) for
//! kilo-rs tests and the netns lab. Binds a socket, writes its address and a kubeconfig.

mod crd;
mod discovery;
mod error;
mod events;
mod fielderr;
mod fields;
mod http;
mod meta;
mod patch;
mod persist;
mod resources;
mod schema;
mod schemaerr;
mod select;
mod store;
mod table;
mod watch;
mod write;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "A minimal Kubernetes API server for kilo-rs tests (plain HTTP, in memory or --state-file)"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(
        long,
        env = "KILO_TEST_APISERVER_LISTEN",
        default_value = "127.0.0.1:0"
    )]
    listen: SocketAddr,
    /// Also write the bound `host:port` to this file.
    #[arg(long, env = "KILO_TEST_APISERVER_ADDR_FILE")]
    addr_file: Option<PathBuf>,
    /// Write a kubeconfig pointing at this server to this file.
    #[arg(long, env = "KILO_TEST_APISERVER_KUBECONFIG_OUT")]
    kubeconfig_out: Option<PathBuf>,
    /// Changes kept for watches resuming from a resourceVersion; older ones get 410 Gone.
    #[arg(long, env = "KILO_TEST_APISERVER_HISTORY", default_value_t = 10_000)]
    history: usize,
    /// Seconds between BOOKMARK events on watches that allow them.
    #[arg(
        long,
        env = "KILO_TEST_APISERVER_BOOKMARK_SECONDS",
        default_value_t = 30
    )]
    bookmark_seconds: u64,
    /// Keep every object and the resourceVersion counter in this JSON file: loaded at start-up
    /// when it exists, rewritten atomically after every write (watch history is not kept).
    #[arg(long, env = "KILO_TEST_APISERVER_STATE_FILE")]
    state_file: Option<PathBuf>,
    /// Log filter (tracing env-filter syntax).
    #[arg(long, env = "KILO_TEST_APISERVER_LOG", default_value = "info")]
    log_level: String,
}

fn kubeconfig(address: &SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kilo-test\n  cluster:\n    server: http://{address}\n\
         contexts:\n- name: kilo-test\n  context:\n    cluster: kilo-test\n    user: kilo-test\n    namespace: default\n\
         current-context: kilo-test\nusers:\n- name: kilo-test\n  user: {{}}\n"
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log_level)
                .context("parsing --log-level")?,
        )
        .init();
    if let Err(e) = run(args).await {
        tracing::error!("{e:#}");
        return Err(e);
    }
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Before binding, so a bad state file fails the start-up before the address is printed.
    let store = match &args.state_file {
        Some(path) => {
            let store = store::Store::open(args.history, path)?;
            tracing::info!(path = %path.display(), "keeping the state in a file");
            store
        }
        None => store::Store::new(args.history),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    if let Some(path) = &args.kubeconfig_out {
        std::fs::write(path, kubeconfig(&address))
            .with_context(|| format!("writing kubeconfig {}", path.display()))?;
    }
    if let Some(path) = &args.addr_file {
        std::fs::write(path, format!("{address}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    writeln!(std::io::stdout().lock(), "{address}").context("printing the address")?;
    tracing::info!(%address, "serving the Kubernetes API over plain HTTP");
    let state = Arc::new(http::AppState {
        store,
        bookmark_every: Duration::from_secs(args.bookmark_seconds.max(1)),
        address: address.to_string(),
    });
    let server = axum::serve(listener, http::router(state));
    tokio::select! {
        served = server => served.context("serving HTTP"),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
