//! Unit tests of `listen`: Kilo's `--listen` forms, and a dual-stack listener reached over
//! 127.0.0.1 and ::1.

use super::*;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[test]
fn parses_kilo_forms() {
    let cases = [
        (":1107", "Any(1107)"),
        ("[::]:1107", "Any(1107)"),
        ("0.0.0.0:1107", "Addr(0.0.0.0:1107)"),
        ("127.0.0.1:9000", "Addr(127.0.0.1:9000)"),
        ("[::1]:9000", "Addr([::1]:9000)"),
        ("[fd00::1]:1107", "Addr([fd00::1]:1107)"),
    ];
    for (s, want) in cases {
        assert_eq!(
            format!("{:?}", parse_listen("--listen", s).unwrap()),
            want,
            "{s}"
        );
    }
    assert_eq!(
        parse_listen("--listen", ":1107").unwrap().to_string(),
        ":1107"
    );
}

#[test]
fn refuses_malformed_addresses() {
    for s in [
        "",
        ":",
        "1107",
        ":-1",
        ":65536",
        ":http",
        "localhost:1107",
        "::1:1107",
        "[::1]",
        "1.2.3.4",
        "0.0.0.0:1107 ",
        " :1107",
        ":1107/tcp",
    ] {
        let e = parse_listen("--listen", s).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            format!("--listen {s:?}: want :PORT, IP:PORT or [IPv6]:PORT"),
        );
    }
}

#[test]
fn falls_back_only_when_the_host_lacks_ipv6() {
    let errno = |e: nix::errno::Errno| std::io::Error::from_raw_os_error(e as i32);
    assert!(lacks_ipv6(&errno(nix::errno::Errno::EAFNOSUPPORT)));
    assert!(lacks_ipv6(&errno(nix::errno::Errno::EADDRNOTAVAIL)));
    assert!(lacks_ipv6(&errno(nix::errno::Errno::EPROTONOSUPPORT)));
    assert!(!lacks_ipv6(&errno(nix::errno::Errno::EADDRINUSE)));
    assert!(!lacks_ipv6(&errno(nix::errno::Errno::EACCES)));
    assert!(!lacks_ipv6(&std::io::Error::other("no errno")));
}

/// Accepts one connection, answers `hello` and closes.
async fn answer_once(l: &tokio::net::TcpListener) {
    let (mut s, _) = l.accept().await.unwrap();
    s.write_all(b"hello").await.unwrap();
}

async fn read_from(addr: SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn any_listens_on_ipv4_and_ipv6_at_once() {
    let l = bind(Listen::Any(0)).unwrap();
    let local = l.local_addr().unwrap();
    assert!(local.is_ipv6(), "bound {local}, want [::]");
    let port = local.port();
    for addr in ["127.0.0.1", "::1"] {
        let addr = SocketAddr::new(addr.parse().unwrap(), port);
        let (_, got) = tokio::join!(answer_once(&l), read_from(addr));
        assert_eq!(got, "hello", "over {addr}");
    }
}

#[tokio::test]
async fn an_ipv4_address_listens_on_ipv4_only() {
    let l = bind(parse_listen("--listen", "127.0.0.1:0").unwrap()).unwrap();
    let port = l.local_addr().unwrap().port();
    let (_, got) = tokio::join!(
        answer_once(&l),
        read_from(SocketAddr::from(([127, 0, 0, 1], port)))
    );
    assert_eq!(got, "hello");
    let refused =
        tokio::net::TcpStream::connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await;
    assert_eq!(
        refused.map(|_| ()).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused)
    );
}

#[tokio::test]
async fn a_port_in_use_is_an_error_not_a_fallback() {
    let first = bind(Listen::Any(0)).unwrap();
    let port = first.local_addr().unwrap().port();
    let e = bind(Listen::Any(port)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
}
