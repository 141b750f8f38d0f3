//! A plain HTTP/1.1 client for kg's unit tests: writes one request on any stream (TCP or TLS)
//! and parses the response. Test-only.

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Status code, `content-type` (empty when absent) and body of one response.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The `content-type` header.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Sends `method path` with `body` (and `content_type`, when given) and reads the response to
/// the end (the request asks the server to close).
pub async fn request<S>(
    mut s: S,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Reply
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(c) = content_type {
        req.push_str(&format!("Content-Type: {c}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    // a TLS peer may close without close_notify once the response is complete
    let _ = s.read_to_end(&mut raw).await;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = std::str::from_utf8(&raw[..split]).unwrap().to_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let content_type = lines
        .filter_map(|l| l.split_once(": "))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: raw[split + 4..].to_vec(),
    }
}

/// `GET path` over a new TCP connection to `addr`.
pub async fn get(addr: std::net::SocketAddr, path: &str) -> Reply {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    request(s, "GET", path, None, b"").await
}
