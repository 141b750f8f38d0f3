//! The node's private key: generation, the key file (`/var/lib/kilo/key`, mode 0600) and the
//! derived public key. The key bytes are zeroized on drop and never formatted. Does file I/O.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kilo_mesh::types::WgKey;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::error::WgError;

/// Where kg keeps its private key by default.
pub const DEFAULT_KEY_PATH: &str = "/var/lib/kilo/key";

/// A WireGuard private key. `Debug` prints only the public key's fingerprint; there is no
/// `Display`, no `Clone` and no serialization. The bytes are zeroized on drop.
pub struct PrivateKey(Box<StaticSecret>);

impl PrivateKey {
    /// A fresh random key from the operating system's RNG.
    #[must_use]
    pub fn generate() -> Self {
        Self(Box::new(StaticSecret::random_from_rng(rand_core::OsRng)))
    }

    /// Wraps raw key bytes (clamped by x25519 when used). The caller should zeroize its copy.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Box::new(StaticSecret::from(bytes)))
    }

    /// Parses the `wg genkey` format (base64 of 32 bytes, surrounding whitespace ignored).
    /// Returns `None` rather than an error so that no caller can echo the input.
    #[must_use]
    pub fn from_base64(text: &str) -> Option<Self> {
        let bytes = Zeroizing::new(B64.decode(text.trim()).ok()?);
        let arr: &[u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(Self::from_bytes(*arr))
    }

    /// The public key peers know this node by.
    #[must_use]
    pub fn public_key(&self) -> WgKey {
        WgKey::from_bytes(PublicKey::from(self.0.as_ref()).to_bytes())
    }

    /// The raw bytes, for a backend that must configure them.
    pub(crate) fn expose_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// Lowercase hex (UAPI form), zeroized on drop.
    pub(crate) fn expose_hex(&self) -> Zeroizing<String> {
        let bytes = self.expose_bytes();
        let mut out = Zeroizing::new(String::with_capacity(64));
        for b in bytes.iter() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }

    fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(B64.encode(self.expose_bytes().as_ref()))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl PartialEq for PrivateKey {
    /// Compares the derived public keys (equal exactly when the clamped secrets are equal).
    fn eq(&self, other: &Self) -> bool {
        self.public_key() == other.public_key()
    }
}

impl Eq for PrivateKey {}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey(public {})", self.public_key().fingerprint())
    }
}

/// Loads the private key from `path`, or creates one there (mode 0600, parent directories
/// created) when the file does not exist. A key file readable by group or others has its mode
/// fixed to 0600 with a warning.
pub fn load_or_create(path: &Path) -> Result<PrivateKey, WgError> {
    let err = |what: &'static str| {
        let path = path.to_path_buf();
        move |source| WgError::KeyFile { what, path, source }
    };
    match fs::symlink_metadata(path) {
        Ok(meta) => {
            if !meta.is_file() {
                return Err(WgError::KeyNotFile {
                    path: path.to_path_buf(),
                });
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{mode:04o}"),
                    "private key file is readable by others; setting its mode to 0600"
                );
                fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                    .map_err(err("fixing the mode of private key file"))?;
            }
            load(path)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = PrivateKey::generate();
            store(path, &key)?;
            tracing::info!(path = %path.display(), public_key = %key.public_key().fingerprint(),
                "created a new WireGuard private key");
            Ok(key)
        }
        Err(e) => Err(err("inspecting private key file")(e)),
    }
}

fn load(path: &Path) -> Result<PrivateKey, WgError> {
    let mut text = Zeroizing::new(String::new());
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|source| WgError::KeyFile {
            what: "reading private key file",
            path: path.to_path_buf(),
            source,
        })?;
    PrivateKey::from_base64(&text).ok_or_else(|| WgError::KeyFormat {
        path: path.to_path_buf(),
    })
}

/// Writes the key atomically: a 0600 temporary file in the same directory, renamed into place.
fn store(path: &Path, key: &PrivateKey) -> Result<(), WgError> {
    let err = |what: &'static str, p: PathBuf| {
        move |source| WgError::KeyFile {
            what,
            path: p,
            source,
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(err("creating the directory of", path.to_path_buf()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let text = key.to_base64();
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(err("writing private key file", tmp)(e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        err("installing private key file", path.to_path_buf())(e)
    })
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
