//! kilo-test-apiserver: a minimal in-memory Kubernetes API server (HTTPS, bearer tokens, RBAC)
//! for kilo-rs tests and the netns lab. Binds a socket, writes its address and a kubeconfig.

mod auth;
mod builtin;
mod crd;
mod discovery;
mod error;
mod events;
mod fielderr;
mod fields;
mod gate;
mod http;
mod meta;
mod page;
mod patch;
mod persist;
mod pki;
mod policy;
mod rbac;
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
    about = "A minimal Kubernetes API server for kilo-rs tests (HTTPS, tokens, RBAC, in memory or --state-file)"
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
    /// Keep the TLS CA, serving certificate and key (ca.crt, tls.crt, tls.key) and the key that
    /// signs bearer tokens (token.key) in this directory, created when missing, so that clients
    /// and tokens survive restarts; without it each process makes new ones.
    #[arg(long, env = "KILO_TEST_APISERVER_PKI_DIR")]
    pki_dir: Option<PathBuf>,
    /// Log filter (tracing env-filter syntax).
    #[arg(long, env = "KILO_TEST_APISERVER_LOG", default_value = "info")]
    log_level: String,
}

/// The admin kubeconfig: the server's CA and the operator's token (group system:masters).
fn kubeconfig(address: &SocketAddr, ca_pem: &str, token: &str) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kilo-test\n  cluster:\n    server: https://{address}\n    certificate-authority-data: {ca}\n\
         contexts:\n- name: kilo-test\n  context:\n    cluster: kilo-test\n    user: kilo-test-admin\n    namespace: default\n\
         current-context: kilo-test\nusers:\n- name: kilo-test-admin\n  user:\n    token: {token}\n"
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
    if let Some(dir) = &args.pki_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let signer = match &args.pki_dir {
        Some(dir) => auth::Signer::from_file(&dir.join("token.key"))?,
        None => auth::Signer::random()?,
    };
    let ip = match args.listen.ip() {
        ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip => ip,
    };
    let pki = pki::Pki::new(args.pki_dir.as_deref(), ip)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    if let Some(path) = &args.kubeconfig_out {
        let token = signer.issue(&auth::User::admin());
        std::fs::write(path, kubeconfig(&address, &pki.ca_pem, &token))
            .with_context(|| format!("writing kubeconfig {}", path.display()))?;
    }
    if let Some(path) = &args.addr_file {
        std::fs::write(path, format!("{address}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    writeln!(std::io::stdout().lock(), "{address}").context("printing the address")?;
    tracing::info!(%address, "serving the Kubernetes API over HTTPS");
    let state = Arc::new(http::AppState {
        store,
        bookmark_every: Duration::from_secs(args.bookmark_seconds.max(1)),
        address: address.to_string(),
        signer,
    });
    let server = serve_tls(listener, http::router(state), pki.server_config);
    tokio::select! {
        served = server => served,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// Accepts TLS connections and serves HTTP/1.1 on each (a failed handshake ends only that one).
async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Arc<rustls::ServerConfig>,
) -> anyhow::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}
