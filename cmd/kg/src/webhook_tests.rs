//! Unit tests of `webhook`: the HTTPS server with a throwaway CA, answering real
//! `AdmissionReview` JSON over TLS, refusing what is not one, and counting in Kilo's metrics.

use super::*;

use std::net::SocketAddr;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};

use crate::test_http::{Reply, get, request};

const KEY: &str = "GVqKNJwBMmFwvI2rGzr3wRALBB5zUB4MT6kpBFKZg1o=";

/// A CA (PEM) and a serving certificate and key for `localhost`, written into `dir`.
fn identity(dir: &Path) -> String {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    ca.pem()
}

struct Server {
    https: SocketAddr,
    metrics: SocketAddr,
    ca_pem: String,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let ca_pem = identity(dir.path());
    let tls = tls_config(&dir.path().join("tls.crt"), &dir.path().join("tls.key")).unwrap();
    let w = Arc::new(Webhook::new());
    let any = Listen::Addr(SocketAddr::from(([127, 0, 0, 1], 0)));
    let (https, http) = (
        crate::listen::bind(any).unwrap(),
        crate::listen::bind(any).unwrap(),
    );
    let (https_addr, metrics_addr) = (https.local_addr().unwrap(), http.local_addr().unwrap());
    let webhook = webhook_router(w.clone());
    tokio::spawn(async move { axum::serve(TlsListener::new(https, tls), webhook).await });
    tokio::spawn(async move { axum::serve(http, metrics_router(w)).await });
    Server {
        https: https_addr,
        metrics: metrics_addr,
        ca_pem,
        _dir: dir,
    }
}

async fn post(s: &Server, content_type: Option<&str>, body: &[u8]) -> Reply {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(s.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(s.https).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    request(tls, "POST", "/validate", content_type, body).await
}

fn review_of(operation: &str, spec: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "operation": operation,
            "object": {"apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer",
                       "metadata": {"name": "laptop"}, "spec": spec},
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn answers_admission_reviews_over_tls() {
    let s = start().await;
    let ok = review_of(
        "CREATE",
        &json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY}),
    );
    let r = post(&s, Some("application/json"), &ok).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "application/json")
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "response": {"uid": "u-1", "allowed": true}})
    );
    let bad = review_of(
        "UPDATE",
        &json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": "AAAA"}),
    );
    let r = post(&s, Some("application/json"), &bad).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "response": {"uid": "u-1", "allowed": false, "status": {"message":
                   "peer laptop: spec.publicKey: invalid WireGuard key: must decode to exactly 32 bytes"}}})
    );
    let r = post(&s, Some("text/plain"), &ok).await;
    assert_eq!(
        (r.status, r.text()),
        (
            400,
            "received Content-Type=text/plain, expected application/json\n"
        )
    );
    let r = post(&s, None, &ok).await;
    assert_eq!(
        (r.status, r.text()),
        (400, "received Content-Type=, expected application/json\n")
    );
    let r = post(
        &s,
        Some("application/json"),
        br#"{"apiVersion":"v1","kind":"Pod"}"#,
    )
    .await;
    assert_eq!((r.status, r.text()), (400, "only API v1 is supported\n"));

    let m = get(s.metrics, "/metrics").await;
    assert_eq!(m.status, 200);
    let mut samples: Vec<&str> = m
        .text()
        .lines()
        .filter(|l| {
            [
                "admission_requests_total",
                "http_requests_total",
                "errors_total",
            ]
            .iter()
            .any(|n| l.starts_with(n))
        })
        .collect();
    samples.sort_unstable();
    assert_eq!(
        samples,
        [
            "admission_requests_total{operation=\"CREATE\",response=\"allowed\"} 1",
            "admission_requests_total{operation=\"UPDATE\",response=\"denied\"} 1",
            "errors_total 3",
            "http_requests_total{handler=\"/validate\",method=\"POST\"} 5",
        ],
        "{}",
        m.text()
    );
    assert!(m.text().contains("\nprocess_open_fds "), "{}", m.text());
}

#[tokio::test]
async fn plain_http_gets_no_answer_and_the_server_keeps_serving() {
    let s = start().await;
    let r = tokio::time::timeout(Duration::from_secs(20), async {
        let mut tcp = tokio::net::TcpStream::connect(s.https).await.unwrap();
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        tcp.write_all(b"POST /validate HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = tcp.read_to_end(&mut buf).await;
        buf
    })
    .await
    .unwrap();
    assert!(
        !r.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    let ok = review_of(
        "CREATE",
        &json!({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY}),
    );
    assert_eq!(post(&s, Some("application/json"), &ok).await.status, 200);
}

#[test]
fn tls_config_names_the_file_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, "not a certificate\n").unwrap();
    std::fs::write(&key, "not a key\n").unwrap();
    let e = format!("{:#}", tls_config(&cert, &key).unwrap_err());
    assert_eq!(e, format!("{} holds no certificate", cert.display()));
    identity(dir.path());
    std::fs::write(&key, "not a key\n").unwrap();
    let e = format!("{:#}", tls_config(&cert, &key).unwrap_err());
    assert!(
        e.starts_with(&format!("reading a private key from {}: ", key.display())),
        "{e}"
    );
}
