//! Authentication: bearer tokens signed by the server (HMAC-SHA256 with a key from
//! `--token-key-file`), issued for ServiceAccounts as TokenRequest does (optionally bound to a
//! Node, which puts `authentication.kubernetes.io/node-name` in the user's extra) and for the
//! admin kubeconfig (group `system:masters`). Reads and writes the key file at start-up.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::{Deserialize, Serialize};

/// Prefix of every token this server issues.
const PREFIX: &str = "kts1";

/// The extra key of the Node a bound ServiceAccount token belongs to.
pub const NODE_NAME: &str = "authentication.kubernetes.io/node-name";
/// The extra key of that Node's uid.
pub const NODE_UID: &str = "authentication.kubernetes.io/node-uid";

/// Who makes a request (Kubernetes' `user.Info`), also a token's signed claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user name, e.g. `system:serviceaccount:kube-system:kilo`.
    pub name: String,
    /// The uid (a ServiceAccount's).
    #[serde(default)]
    pub uid: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Extra information (the bound Node).
    #[serde(default)]
    pub extra: BTreeMap<String, Vec<String>>,
    /// Unix seconds after which the token is refused (0: never).
    #[serde(default)]
    pub exp: i64,
}

impl User {
    /// The anonymous user of a request without credentials.
    pub fn anonymous() -> Self {
        Self {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
            extra: BTreeMap::new(),
            exp: 0,
        }
    }

    /// The operator: `system:masters` may do anything.
    pub fn admin() -> Self {
        Self {
            name: "kilo-test-admin".into(),
            uid: String::new(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            extra: BTreeMap::new(),
            exp: 0,
        }
    }

    /// A ServiceAccount's user, as the token authenticator builds it.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> Self {
        Self {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            uid: uid.to_string(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
            extra: BTreeMap::new(),
            exp: 0,
        }
    }

    /// The ServiceAccount (namespace, name) this user is, if it is one.
    pub fn service_account_of(&self) -> Option<(&str, &str)> {
        self.name
            .strip_prefix("system:serviceaccount:")?
            .split_once(':')
    }

    /// Whether this user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// Loading or creating the key failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("token key file {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a key.
    #[error("token key file {0}: not 64 hex digits")]
    Malformed(String),
    /// The system's random source failed.
    #[error("drawing a random token key")]
    Random,
}

/// Signs and checks tokens.
pub struct Signer {
    key: hmac::Key,
}

fn random_key() -> Result<[u8; 32], KeyError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| KeyError::Random)?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Signer {
    /// A signer with a fresh random key (tokens die with the process).
    pub fn random() -> Result<Self, KeyError> {
        Ok(Self::from_bytes(&random_key()?))
    }

    /// The key kept in `path` (64 hex digits), created there when the file does not exist, so
    /// tokens survive restarts.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes =
                    unhex(&text).ok_or_else(|| KeyError::Malformed(path.display().to_string()))?;
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = random_key()?;
                std::fs::write(path, format!("{}\n", hex(&bytes))).map_err(io)?;
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) => Err(io(e)),
        }
    }

    fn from_bytes(bytes: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        }
    }

    /// A token carrying `user`.
    pub fn issue(&self, user: &User) -> String {
        let claims = B64.encode(serde_json::to_vec(user).unwrap_or_default());
        let tag = hmac::sign(&self.key, claims.as_bytes());
        format!("{PREFIX}.{claims}.{}", B64.encode(tag.as_ref()))
    }

    /// The user a token was issued for, if this server signed it and it has not expired.
    pub fn verify(&self, token: &str, now: i64) -> Option<User> {
        let rest = token.strip_prefix(PREFIX)?.strip_prefix('.')?;
        let (claims, tag) = rest.split_once('.')?;
        let tag = B64.decode(tag).ok()?;
        hmac::verify(&self.key, claims.as_bytes(), &tag).ok()?;
        let user: User = serde_json::from_slice(&B64.decode(claims).ok()?).ok()?;
        (user.exp == 0 || now < user.exp).then_some(user)
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
