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
    /// The kubeconfig found by the usual search has no such context, or cannot be used.
    #[error("loading context {context:?} of the kubeconfig ($KUBECONFIG or ~/.kube/config)")]
    Context {
        /// The context asked for.
        context: String,
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
    client_for(kubeconfig, None, master).await
}

/// Like [`client`], with the kubeconfig's `context` instead of its current one (kubectl's
/// `--context`).
///
/// # Errors
/// See [`ClientError`].
pub async fn client_for(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    master: Option<&str>,
) -> Result<kube::Client, ClientError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let mut config = match (kubeconfig, context) {
        (Some(path), _) => {
            let err = |source| ClientError::Kubeconfig {
                path: path.to_path_buf(),
                source,
            };
            let kc = Kubeconfig::read_from(path).map_err(err)?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(err)?
        }
        (None, Some(context)) => {
            kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|source| ClientError::Context {
                    context: context.to_owned(),
                    source,
                })?
        }
        (None, None) => kube::Config::infer().await.map_err(ClientError::Infer)?,
    };
    if let Some(url) = master {
        config.cluster_url = url.parse().map_err(|e| ClientError::Master {
            url: url.to_owned(),
            reason: format!("{e}"),
        })?;
    }
    kube::Client::try_from(config).map_err(ClientError::Client)
}
