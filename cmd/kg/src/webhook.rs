//! `kg webhook`: Kilo's validating admission webhook for Peers. Serves `POST /validate` over
//! HTTPS (the certificate and key from `--cert-file`/`--key-file`) and its metrics over HTTP on
//! `--listen-metrics`, with Kilo's metric names (`admission_requests_total{operation,response}`,
//! `http_requests_total{handler,method}`, `errors_total`). Does I/O (files, sockets).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::admission;
use crate::listen::{Listen, parse_listen};

/// `kg webhook`'s flags (Kilo's names and defaults).
#[derive(clap::Args, Debug)]
pub struct WebhookArgs {
    /// The serving certificate (PEM, the chain from the leaf).
    #[arg(long, env = "KILO_WEBHOOK_CERT_FILE")]
    pub cert_file: PathBuf,
    /// The serving certificate's private key (PEM).
    #[arg(long, env = "KILO_WEBHOOK_KEY_FILE")]
    pub key_file: PathBuf,
    /// Address of the HTTPS webhook server (`:PORT`: IPv6 and IPv4).
    #[arg(long, env = "KILO_WEBHOOK_LISTEN", default_value = ":8443")]
    pub listen: String,
    /// Address of the HTTP metrics server (`/metrics`).
    #[arg(long, env = "KILO_WEBHOOK_LISTEN_METRICS", default_value = ":1107")]
    pub listen_metrics: String,
}

/// `operation` and `response` labels of `admission_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdmissionLabels {
    /// `request.operation` of the review.
    pub operation: String,
    /// `allowed` or `denied`.
    pub response: &'static str,
}

/// `handler` and `method` labels of `http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The path.
    pub handler: &'static str,
    /// The HTTP method.
    pub method: String,
}

/// The webhook's state: its metrics.
pub struct Webhook {
    admissions: Family<AdmissionLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    errors: Counter,
    registry: Mutex<Registry>,
}

impl Webhook {
    /// Creates the metrics in a registry of their own (with the process metrics).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let admissions = Family::<AdmissionLabels, Counter>::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let errors = Counter::default();
        registry.register(
            "admission_requests",
            "The number of received admission reviews requests",
            admissions.clone(),
        );
        registry.register(
            "http_requests",
            "The number of received http requests",
            requests.clone(),
        );
        registry.register("errors", "The total number of errors", errors.clone());
        crate::process_metrics::register(&mut registry);
        Self {
            admissions,
            requests,
            errors,
            registry: Mutex::new(registry),
        }
    }

    fn bad_request(&self, msg: String) -> Response {
        self.errors.inc();
        tracing::warn!(error = %msg, "refusing an admission request");
        (StatusCode::BAD_REQUEST, format!("{msg}\n")).into_response()
    }
}

async fn validate(
    State(w): State<Arc<Webhook>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    w.requests
        .get_or_create(&RequestLabels {
            handler: "/validate",
            method: method.to_string(),
        })
        .inc();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !admission::is_json(content_type) {
        let got = content_type.unwrap_or_default();
        return w.bad_request(format!(
            "received Content-Type={got}, expected application/json"
        ));
    }
    let decision = match admission::review(&body) {
        Ok(d) => d,
        Err(admission::BadRequest(msg)) => return w.bad_request(msg),
    };
    let response = if decision.refusal.is_some() {
        "denied"
    } else {
        "allowed"
    };
    tracing::debug!(operation = %decision.operation, response, refusal = ?decision.refusal, "reviewed a Peer");
    w.admissions
        .get_or_create(&AdmissionLabels {
            operation: decision.operation,
            response,
        })
        .inc();
    (
        [(header::CONTENT_TYPE, "application/json")],
        decision.review.to_string(),
    )
        .into_response()
}

async fn metrics(State(w): State<Arc<Webhook>>) -> Response {
    crate::http::encode_metrics(&w.registry)
}

/// The HTTPS routes: `POST /validate`.
pub fn webhook_router(w: Arc<Webhook>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .with_state(w)
}

/// The HTTP routes: `GET /metrics`.
pub fn metrics_router(w: Arc<Webhook>) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(w)
}

/// A rustls server configuration from PEM files (HTTP/1.1).
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("reading certificates from {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading a private key from {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not make a TLS identity")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// TCP connections that completed a TLS handshake, for `axum::serve`.
pub struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
}

impl TlsListener {
    /// Wraps a bound listener.
    pub fn new(tcp: tokio::net::TcpListener, tls: Arc<rustls::ServerConfig>) -> Self {
        Self {
            tcp,
            acceptor: TlsAcceptor::from(tls),
        }
    }
}

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, peer) = axum::serve::Listener::accept(&mut self.tcp).await;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => return (tls, peer),
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn serve(args: &WebhookArgs) -> Result<()> {
    let listen: Listen = parse_listen("--listen", &args.listen)?;
    let listen_metrics: Listen = parse_listen("--listen-metrics", &args.listen_metrics)?;
    let tls = tls_config(&args.cert_file, &args.key_file)?;
    let w = Arc::new(Webhook::new());
    let https = crate::listen::bind(listen).with_context(|| format!("listening on {listen}"))?;
    let http = crate::listen::bind(listen_metrics)
        .with_context(|| format!("listening on {listen_metrics}"))?;
    tracing::info!(address = %https.local_addr()?, "serving the Peer validating webhook");
    tracing::info!(address = %http.local_addr()?, "serving the webhook's metrics");
    let webhook = axum::serve(TlsListener::new(https, tls), webhook_router(w.clone()));
    let metrics = axum::serve(http, metrics_router(w));
    let shutdown = crate::shutdown_signal()?;
    tokio::select! {
        r = webhook.into_future() => r.context("the webhook server")?,
        r = metrics.into_future() => r.context("the metrics server")?,
        () = shutdown => {}
    }
    Ok(())
}

/// Runs `kg webhook` until SIGTERM/SIGINT.
pub fn run(args: &WebhookArgs) -> Result<()> {
    crate::runtime()?.block_on(serve(args))
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
