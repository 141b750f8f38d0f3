//! kg's HTTP endpoints: `/metrics`, `/healthz`, `/readyz` (ready after the first successful
//! apply), `/graph?format=dot|svg` (svg when Graphviz `dot` is installed).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde_json::Value;

/// State shared between the reconcile loop and the HTTP server.
pub struct Shared {
    /// The metrics registry.
    pub registry: Mutex<Registry>,
    /// Set after the first successful apply.
    pub ready: AtomicBool,
    /// The latest topology as DOT.
    pub graph: RwLock<Option<String>>,
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let mut body = String::new();
    let ok = s
        .registry
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

async fn graph(
    State(s): State<Arc<Shared>>,
    Query(q): Query<serde_json::Map<String, Value>>,
) -> Response {
    let Some(dot) = s.graph.read().ok().and_then(|g| g.clone()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no topology yet\n").into_response();
    };
    match q.get("format").and_then(Value::as_str).unwrap_or("dot") {
        "dot" | "gv" => ([(header::CONTENT_TYPE, "text/vnd.graphviz")], dot).into_response(),
        "svg" => match render_svg(dot).await {
            Ok(svg) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
            Err(e) => (
                StatusCode::NOT_IMPLEMENTED,
                format!("svg needs Graphviz dot: {e}\n"),
            )
                .into_response(),
        },
        other => (
            StatusCode::BAD_REQUEST,
            format!("unsupported format {other:?}; use dot or svg\n"),
        )
            .into_response(),
    }
}

async fn render_svg(dot: String) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new("dot")
        .arg("-Tsvg")
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

/// Serves until the process exits; `extra` holds the routes other modules own (mesh health).
pub async fn serve(addr: SocketAddr, shared: Arc<Shared>, extra: Router) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/graph", get(graph))
        .with_state(shared)
        .merge(extra);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz, /graph");
    axum::serve(listener, app).await
}
