//! Unit tests of `http`: Kilo's `/health` and `/graph` contracts, served on a real dual-stack
//! listener and read back over 127.0.0.1 and ::1 with a plain HTTP/1.1 client.

use super::*;

use std::net::SocketAddr;

use crate::test_http::get;

const DOT: &str = "digraph kilo {\n  \"n1\" -> \"n2\";\n}\n";

/// Serves kg's routes on `[::]:<free port>` and returns the port.
async fn serve_with(graph: Option<&str>) -> u16 {
    let shared = Arc::new(Shared::new(Registry::default()));
    *shared.graph.write().unwrap() = graph.map(str::to_owned);
    let listener = crate::listen::bind(Listen::Any(0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router(shared)).await });
    port
}

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn require_dot() {
    assert!(
        std::process::Command::new("dot").arg("-V").output().is_ok(),
        "this test needs Graphviz `dot` (apt-get install graphviz; e2e/lib/deps.sh installs it)"
    );
}

#[tokio::test]
async fn health_is_200_with_an_empty_body_over_ipv4_and_ipv6() {
    let port = serve_with(None).await;
    for addr in [
        v4(port),
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
    ] {
        let r = get(addr, "/health").await;
        assert_eq!((r.status, r.text()), (200, ""), "over {addr}");
        let r = get(addr, "/healthz").await;
        assert_eq!((r.status, r.text()), (200, "ok\n"), "over {addr}");
    }
}

#[tokio::test]
async fn graph_before_the_first_topology_is_503() {
    let r = get(v4(serve_with(None).await), "/graph?format=dot").await;
    assert_eq!((r.status, r.text()), (503, "no topology yet\n"));
}

#[tokio::test]
async fn graph_dot_and_gv_are_the_dot_text_whatever_the_layout() {
    let port = serve_with(Some(DOT)).await;
    for q in [
        "format=dot",
        "format=gv",
        "format=dot&layout=bogus",
        "format=dot&format=svg",
    ] {
        let r = get(v4(port), &format!("/graph?{q}")).await;
        assert_eq!(r.status, 200, "{q}");
        assert_eq!(r.content_type, "text/vnd.graphviz", "{q}");
        assert_eq!(r.text(), DOT, "{q}");
    }
}

#[tokio::test]
async fn graph_refuses_formats_and_layouts_kilo_refuses() {
    let port = serve_with(Some(DOT)).await;
    let cases = [
        ("format=jpeg", "unsupported format\n"),
        ("format=SVG", "unsupported format\n"),
        ("format=svg%20-o%2Ftmp%2Fx", "unsupported format\n"),
        ("format=-Tpng", "unsupported format\n"),
        ("format=png&layout=spring", "unsupported layout\n"),
        ("layout=circo%20-Tpng", "unsupported layout\n"),
        ("layout=Dot", "unsupported layout\n"),
        ("format=jpeg&layout=bogus", "unsupported format\n"),
    ];
    for (q, want) in cases {
        let r = get(v4(port), &format!("/graph?{q}")).await;
        assert_eq!((r.status, r.text()), (500, want), "{q}");
        assert_eq!(r.content_type, "text/plain; charset=utf-8", "{q}");
    }
}

#[tokio::test]
async fn graph_renders_svg_by_default_and_other_formats_with_dot() {
    require_dot();
    let port = serve_with(Some(DOT)).await;
    let r = get(v4(port), "/graph").await;
    assert_eq!((r.status, r.content_type.as_str()), (200, "image/svg+xml"));
    assert!(r.text().contains("<svg"), "{}", r.text());
    assert!(r.text().contains("<title>n1</title>"), "{}", r.text());
    let r = get(v4(port), "/graph?format=png&layout=neato").await;
    assert_eq!((r.status, r.content_type.as_str()), (200, "image/png"));
    assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n");
    let r = get(v4(port), "/graph?format=json&layout=dot").await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "application/json")
    );
    let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(json["name"], "kilo");
    for layout in ["circo", "dot", "neato", "twopi", "fdp"] {
        let r = get(v4(port), &format!("/graph?format=svg&layout={layout}")).await;
        assert_eq!(r.status, 200, "{layout}");
    }
}
