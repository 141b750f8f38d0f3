//! kg's HTTP endpoints: `/metrics`, `/health` (Kilo's), `/healthz`, `/readyz` (ready after the
//! first successful apply), `/graph?format=&layout=` (Kilo's formats and layouts, rendered by
//! Graphviz `dot`). Does I/O (the listener, `dot`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;

use crate::listen::Listen;

/// State shared between the reconcile loop and the HTTP server.
pub struct Shared {
    /// The metrics registry.
    pub registry: Mutex<Registry>,
    /// Set after the first successful apply.
    pub ready: AtomicBool,
    /// The latest topology as DOT.
    pub graph: RwLock<Option<String>>,
}

impl Shared {
    /// Not ready, no topology yet.
    pub fn new(registry: Registry) -> Self {
        Self {
            registry: Mutex::new(registry),
            ready: AtomicBool::new(false),
            graph: RwLock::new(None),
        }
    }
}

/// `registry` as OpenMetrics text (kg's `/metrics`, and `kg webhook`'s).
pub fn encode_metrics(registry: &Mutex<Registry>) -> Response {
    let mut body = String::new();
    let ok = registry
        .lock()
        .map(|r| prometheus_client::encoding::text::encode(&mut body, &r).is_ok())
        .unwrap_or(false);
    if !ok {
        return (StatusCode::INTERNAL_SERVER_ERROR, "encoding metrics failed").into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    encode_metrics(&s.registry)
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no successful apply yet\n",
        )
            .into_response()
    }
}

/// Graphviz output formats `/graph?format=` accepts besides `dot`/`gv` (Kilo's list), with the
/// content type of each.
const GRAPH_FORMATS: [(&str, &str); 7] = [
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("bmp", "image/bmp"),
    ("fig", "application/x-xfig"),
    ("gif", "image/gif"),
    ("json", "application/json"),
    ("ps", "application/postscript"),
];

/// Graphviz layout engines `/graph?layout=` accepts (Kilo's list).
const GRAPH_LAYOUTS: [&str; 5] = ["circo", "dot", "neato", "twopi", "fdp"];

/// An error the way Go's `http.Error` writes it: plain text ending in a newline.
fn plain_error(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{msg}\n"),
    )
        .into_response()
}

/// The first value of query parameter `key`, empty when absent (Go's `Query().Get`).
fn first<'q>(q: &'q [(String, String)], key: &str) -> &'q str {
    q.iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// `/graph` as Kilo serves it: `format` `dot`/`gv` (the DOT text) or a Graphviz format rendered
/// by `dot` (default `svg`), `layout` one of [`GRAPH_LAYOUTS`] (default `circo`); anything else is
/// a 500 "unsupported format"/"unsupported layout", as in Kilo.
async fn graph(State(s): State<Arc<Shared>>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some(dot) = s.graph.read().ok().and_then(|g| g.clone()) else {
        return plain_error(StatusCode::SERVICE_UNAVAILABLE, "no topology yet");
    };
    let format = match first(&q, "format") {
        "" => "svg",
        "dot" | "gv" => {
            return ([(header::CONTENT_TYPE, "text/vnd.graphviz")], dot).into_response();
        }
        f => f,
    };
    let Some((format, mime)) = GRAPH_FORMATS.into_iter().find(|(f, _)| *f == format) else {
        return plain_error(StatusCode::INTERNAL_SERVER_ERROR, "unsupported format");
    };
    let layout = match first(&q, "layout") {
        "" => "circo",
        l => l,
    };
    let Some(layout) = GRAPH_LAYOUTS.into_iter().find(|l| *l == layout) else {
        return plain_error(StatusCode::INTERNAL_SERVER_ERROR, "unsupported layout");
    };
    match render(dot, layout, format).await {
        Ok(out) => ([(header::CONTENT_TYPE, mime)], out).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, format, layout, "rendering the graph with dot failed");
            plain_error(StatusCode::INTERNAL_SERVER_ERROR, "unable to render graph")
        }
    }
}

/// Runs `dot -K<layout> -T<format>` on `dot` (both from the allow-lists above).
async fn render(dot: String, layout: &str, format: &str) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new("dot")
        .arg(format!("-K{layout}"))
        .arg(format!("-T{format}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(dot.as_bytes()).await?;
    }
    let out = child.wait_with_output().await?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(std::io::Error::other(format!(
            "dot exited with {}",
            out.status
        )))
    }
}

/// kg's routes. `/health` answers 200 with an empty body, as Kilo's does.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/graph", get(graph))
        .with_state(shared)
}

/// Serves until the process exits; `extra` holds the routes other modules own (mesh health).
pub async fn serve(listen: Listen, shared: Arc<Shared>, extra: Router) -> std::io::Result<()> {
    let listener = crate::listen::bind(listen)?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving /metrics, /health, /healthz, /readyz, /graph, /identity, /mesh-health");
    axum::serve(listener, router(shared).merge(extra)).await
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
