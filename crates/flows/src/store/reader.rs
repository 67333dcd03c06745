//! Reading the edge table, wherever it is: [`EdgeReader`], implemented by every
//! [`EdgeStore`] (a database connection of our own) and by [`PodReader`] (the store's
//! queries as psql scripts run inside the CNPG primary pod through the Kubernetes exec
//! API, [`homelab_k8s::PsqlExec`]). [`open_reader`] picks one from `homelab edges`'
//! source options.

use std::future::Future;
use std::path::PathBuf;

use homelab_core::flows::EdgeRow;
use homelab_core::flows::query::{EdgeQuery, PeerRow, PeersQuery};
use homelab_k8s::{K8sError, KubeconfigOptions, PsqlExec, PsqlTarget};
use thiserror::Error;

use super::psql::{self, PsqlOutputError};
use super::{AnyStore, EdgeStore, StoreError};

/// A read of the edge table failed.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The exec into the CNPG pod (or psql in it) failed.
    #[error(transparent)]
    Pod(#[from] K8sError),
    #[error(transparent)]
    Output(#[from] PsqlOutputError),
}

/// The read side of the edge table (what `homelab edges` and the digest need). The
/// semantics are [`EdgeStore`]'s, for every implementation.
pub trait EdgeReader: Send + Sync {
    /// See [`EdgeStore::edges`].
    fn edges(&self, q: &EdgeQuery) -> impl Future<Output = Result<Vec<EdgeRow>, ReadError>> + Send;
    /// See [`EdgeStore::peers`].
    fn peers(&self, q: &PeersQuery) -> impl Future<Output = Result<Vec<PeerRow>, ReadError>> + Send;
    /// See [`EdgeStore::new_edges`].
    fn new_edges(&self, since: i64, limit: u32) -> impl Future<Output = Result<Vec<EdgeRow>, ReadError>> + Send;
    /// See [`EdgeStore::observed_since`].
    fn observed_since(&self) -> impl Future<Output = Result<Option<i64>, ReadError>> + Send;
}

impl<S: EdgeStore> EdgeReader for S {
    async fn edges(&self, q: &EdgeQuery) -> Result<Vec<EdgeRow>, ReadError> {
        Ok(EdgeStore::edges(self, q).await?)
    }

    async fn peers(&self, q: &PeersQuery) -> Result<Vec<PeerRow>, ReadError> {
        Ok(EdgeStore::peers(self, q).await?)
    }

    async fn new_edges(&self, since: i64, limit: u32) -> Result<Vec<EdgeRow>, ReadError> {
        Ok(EdgeStore::new_edges(self, since, limit).await?)
    }

    async fn observed_since(&self) -> Result<Option<i64>, ReadError> {
        Ok(EdgeStore::observed_since(self).await?)
    }
}

/// The edge table read through the CNPG primary pod: each query is a psql script
/// ([`psql`]) on the exec's stdin, its one JSON value parsed back.
#[derive(Debug)]
pub struct PodReader {
    exec: PsqlExec,
}

impl PodReader {
    pub fn new(exec: PsqlExec) -> Self {
        Self { exec }
    }
}

impl EdgeReader for PodReader {
    async fn edges(&self, q: &EdgeQuery) -> Result<Vec<EdgeRow>, ReadError> {
        let out = self.exec.run_script(&psql::edges_script(q)).await?;
        Ok(psql::parse_edges(&out)?)
    }

    async fn peers(&self, q: &PeersQuery) -> Result<Vec<PeerRow>, ReadError> {
        let out = self.exec.run_script(&psql::peers_script(q)).await?;
        Ok(psql::parse_peers(&out)?)
    }

    async fn new_edges(&self, since: i64, limit: u32) -> Result<Vec<EdgeRow>, ReadError> {
        let q = EdgeQuery {
            new_since: Some(since),
            limit,
            ..EdgeQuery::default()
        };
        EdgeReader::edges(self, &q).await
    }

    async fn observed_since(&self) -> Result<Option<i64>, ReadError> {
        let out = self.exec.run_script(psql::OBSERVED_SINCE_SCRIPT).await?;
        Ok(psql::parse_optional_i64(&out)?)
    }
}

/// A reader chosen at runtime by [`open_reader`].
#[derive(Debug)]
pub enum AnyReader {
    Store(AnyStore),
    Pod(PodReader),
}

impl EdgeReader for AnyReader {
    async fn edges(&self, q: &EdgeQuery) -> Result<Vec<EdgeRow>, ReadError> {
        match self {
            AnyReader::Store(s) => EdgeReader::edges(s, q).await,
            AnyReader::Pod(p) => p.edges(q).await,
        }
    }

    async fn peers(&self, q: &PeersQuery) -> Result<Vec<PeerRow>, ReadError> {
        match self {
            AnyReader::Store(s) => EdgeReader::peers(s, q).await,
            AnyReader::Pod(p) => p.peers(q).await,
        }
    }

    async fn new_edges(&self, since: i64, limit: u32) -> Result<Vec<EdgeRow>, ReadError> {
        match self {
            AnyReader::Store(s) => EdgeReader::new_edges(s, since, limit).await,
            AnyReader::Pod(p) => p.new_edges(since, limit).await,
        }
    }

    async fn observed_since(&self) -> Result<Option<i64>, ReadError> {
        match self {
            AnyReader::Store(s) => EdgeReader::observed_since(s).await,
            AnyReader::Pod(p) => p.observed_since().await,
        }
    }
}

/// Where `homelab edges` reads (its `--database-url`, `--kubeconfig`, `--context`,
/// `--cnpg-namespace`, `--cnpg-selector`, `--database` options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderOptions {
    /// A database URL (see [`super::connect`]); unset or blank = through the pod.
    pub database_url: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Namespace of the CNPG cluster.
    pub cnpg_namespace: String,
    /// Label selector of the primary pod.
    pub cnpg_selector: String,
    /// Database holding the edge table.
    pub database: String,
}

/// [`open_reader`] failed. The messages name the `homelab edges` options.
#[derive(Debug, Error)]
pub enum OpenError {
    #[error("--database-url")]
    DatabaseUrl(#[source] StoreError),
    #[error("--cnpg-namespace {0:?} is not a valid namespace name")]
    CnpgNamespace(String),
    #[error(transparent)]
    Kube(#[from] K8sError),
}

/// Opens the edge table: the database URL when one is given (connected and checked),
/// else the CNPG primary pod (`postgres` container) through the kubeconfig.
pub async fn open_reader(o: &ReaderOptions) -> Result<AnyReader, OpenError> {
    if let Some(url) = o.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
        return super::connect(url)
            .await
            .map(AnyReader::Store)
            .map_err(OpenError::DatabaseUrl);
    }
    // The database name is validated by PsqlExec; the namespace goes into an API path.
    if !homelab_core::flows::is_valid_namespace(&o.cnpg_namespace) {
        return Err(OpenError::CnpgNamespace(o.cnpg_namespace.clone()));
    }
    let connection = homelab_k8s::connect_with_details(&KubeconfigOptions {
        kubeconfig: o.kubeconfig.clone(),
        context: o.context.clone(),
    })
    .await?;
    Ok(AnyReader::Pod(PodReader::new(PsqlExec::new(
        &connection,
        PsqlTarget {
            namespace: o.cnpg_namespace.clone(),
            selector: o.cnpg_selector.clone(),
            container: "postgres".into(),
            database: o.database.clone(),
        },
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_opens_a_store_and_a_bad_namespace_is_refused_before_any_connection() {
        let o = ReaderOptions {
            database_url: Some("sqlite::memory:".into()),
            ..ReaderOptions::default()
        };
        let r = open_reader(&o).await.unwrap();
        assert!(matches!(r, AnyReader::Store(_)));
        if let AnyReader::Store(s) = &r {
            s.migrate().await.unwrap();
        }
        assert_eq!(r.observed_since().await.unwrap(), None);
        assert_eq!(r.new_edges(0, 10).await.unwrap(), vec![]);
        let o = ReaderOptions {
            database_url: Some("  ".into()),
            cnpg_namespace: "Bad_NS".into(),
            ..ReaderOptions::default()
        };
        let e = open_reader(&o).await.unwrap_err().to_string();
        assert_eq!(e, "--cnpg-namespace \"Bad_NS\" is not a valid namespace name");
        let o = ReaderOptions {
            database_url: Some("mysql://x".into()),
            ..ReaderOptions::default()
        };
        let e = open_reader(&o).await.unwrap_err();
        assert_eq!(e.to_string(), "--database-url");
        assert!(std::error::Error::source(&e).is_some());
    }
}
