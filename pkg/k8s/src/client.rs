//! Builds the kube-rs client kg and kgctl use: an explicit kubeconfig, else the usual search
//! (`KUBECONFIG`, `~/.kube/config`, in-cluster), optionally pointed at another API server URL.
//! Reads files; no network traffic until the client is used.

use std::path::{Path, PathBuf};

use kube::config::{InferConfigError, KubeConfigOptions, Kubeconfig, KubeconfigError};

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig file could not be read or used.
    #[error("loading kubeconfig {}", path.display())]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: KubeconfigError,
    },
    /// No kubeconfig and no in-cluster configuration.
    #[error("finding a kubeconfig or in-cluster config")]
    Infer(#[source] InferConfigError),
    /// The API server URL override does not parse.
    #[error("API server URL {url:?}: {reason}")]
    Master {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// kube-rs refused the configuration (TLS set-up, for example).
    #[error("creating the Kubernetes client")]
    Client(#[source] kube::Error),
}

/// A client from `kubeconfig` (or the usual search when `None`), talking to `master` when given.
///
/// # Errors
/// See [`ClientError`].
pub async fn client(
    kubeconfig: Option<&Path>,
    master: Option<&str>,
) -> Result<kube::Client, ClientError> {
    let mut config = match kubeconfig {
        Some(path) => {
            let err = |source| ClientError::Kubeconfig {
                path: path.to_path_buf(),
                source,
            };
            let kc = Kubeconfig::read_from(path).map_err(err)?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(err)?
        }
        None => kube::Config::infer().await.map_err(ClientError::Infer)?,
    };
    if let Some(url) = master {
        config.cluster_url = url.parse().map_err(|e| ClientError::Master {
            url: url.to_owned(),
            reason: format!("{e}"),
        })?;
    }
    kube::Client::try_from(config).map_err(ClientError::Client)
}
