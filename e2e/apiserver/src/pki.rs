//! The server's TLS identity: a CA and a serving certificate for the listen address, generated
//! with rcgen and kept in `--pki-dir` (ca.crt, tls.crt, tls.key) so that a restarted server is
//! the one clients trust. TLS is needed for tokens: kubectl sends credentials only over TLS.
//! File I/O at start-up.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};

/// Loading, generating or saving the TLS identity failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Generating a key or certificate failed.
    #[error("generating the TLS certificates")]
    Generate(#[from] rcgen::Error),
    /// The files do not hold a usable certificate and key.
    #[error("the TLS certificate or key is not usable")]
    Tls(#[from] rustls::Error),
    /// A PEM file does not parse.
    #[error("parsing PEM from {0}")]
    Pem(String),
}

/// The PEM texts.
struct Files {
    ca: String,
    cert: String,
    key: String,
}

/// The TLS identity.
pub struct Pki {
    /// The CA certificate (PEM) clients trust (`certificate-authority-data`).
    pub ca_pem: String,
    /// The rustls configuration to serve with.
    pub server_config: Arc<rustls::ServerConfig>,
}

fn generate(ip: IpAddr) -> Result<Files, PkiError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kilo-test-apiserver CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    params.subject_alt_names.push(SanType::IpAddress(ip));
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca)?;
    Ok(Files {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

fn read_or_none(path: &Path) -> Result<Option<String>, PkiError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn load_or_create(dir: &Path, ip: IpAddr) -> Result<Files, PkiError> {
    let paths = [dir.join("ca.crt"), dir.join("tls.crt"), dir.join("tls.key")];
    let texts = paths
        .iter()
        .map(|p| read_or_none(p))
        .collect::<Result<Vec<_>, _>>()?;
    if let [Some(ca), Some(cert), Some(key)] = texts.as_slice() {
        return Ok(Files {
            ca: ca.clone(),
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    let files = generate(ip)?;
    for (path, text) in paths.iter().zip([&files.ca, &files.cert, &files.key]) {
        std::fs::write(path, text).map_err(|source| PkiError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(files)
}

impl Pki {
    /// The identity kept in `dir` (generated there when missing), else a fresh one; the serving
    /// certificate names `ip` and `localhost`.
    pub fn new(dir: Option<&Path>, ip: IpAddr) -> Result<Self, PkiError> {
        let files = match dir {
            Some(dir) => load_or_create(dir, ip)?,
            None => generate(ip)?,
        };
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(files.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| PkiError::Pem("tls.crt".into()))?;
        let key = PrivateKeyDer::from_pem_slice(files.key.as_bytes())
            .map_err(|_| PkiError::Pem("tls.key".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            ca_pem: files.ca,
            server_config: Arc::new(config),
        })
    }
}
