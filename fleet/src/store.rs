//! The store client: object_store's S3 client set up from [`StoreSettings`],
//! with the few operations sshlog needs. Every upload carries a SHA-256
//! checksum the server verifies (a corrupted upload is refused, never
//! stored) and is checked by size afterwards; files over
//! [`MULTIPART_ABOVE`] go up in parts, so memory stays bounded.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, Checksum};
use object_store::path::Path as Key;
use object_store::{
    Certificate, ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt, RetryConfig,
    WriteMultipart,
};
use tokio::io::AsyncReadExt;

use crate::config::{Credentials, StoreSettings};
use crate::keys::Layout;
use crate::FleetError;

/// Files larger than this are uploaded in parts of this size.
pub const MULTIPART_ABOVE: u64 = 16 << 20;

/// A connection to the store (cheap to clone).
#[derive(Clone, Debug)]
pub struct FleetStore {
    s3: Arc<dyn ObjectStore>,
    pub layout: Layout,
    /// `s3://bucket/prefix at endpoint`, for messages.
    pub name: String,
}

impl FleetStore {
    pub fn connect(
        settings: &StoreSettings,
        creds: &Credentials,
    ) -> Result<FleetStore, FleetError> {
        let mut options = ClientOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(120));
        if let Some(ca) = &settings.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| FleetError::Config(format!("ca_file {}: {e}", ca.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| FleetError::Config(format!("ca_file {}: {e}", ca.display())))?;
            options = options.with_root_certificate(cert);
        }
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&creds.access_key_id)
            .with_secret_access_key(&creds.secret_access_key)
            .with_checksum_algorithm(Checksum::SHA256)
            // The uploader retries with its own backoff; a request fails fast.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(15),
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &settings.endpoint {
            options = options.with_allow_http(endpoint.starts_with("http://"));
            b = b
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let s3 = b
            .with_client_options(options)
            .build()
            .map_err(|e| FleetError::Config(format!("{}: {e}", settings.describe())))?;
        Ok(FleetStore {
            s3: Arc::new(s3),
            layout: Layout::new(&settings.prefix),
            name: settings.describe(),
        })
    }

    fn err(&self, what: &str, key: &Key, e: impl std::fmt::Display) -> FleetError {
        FleetError::Store(format!("{} {what} {key}: {e}", self.name))
    }

    /// Uploads `local` to `key` (checksummed, then its size checked).
    /// Returns the size.
    pub async fn put_file(&self, local: &Path, key: &Key) -> Result<u64, FleetError> {
        let local_err = |e: std::io::Error| FleetError::Local(format!("{}: {e}", local.display()));
        let mut file = tokio::fs::File::open(local).await.map_err(local_err)?;
        let size = file.metadata().await.map_err(local_err)?.len();
        if size <= MULTIPART_ABOVE {
            let mut buf = Vec::with_capacity(size as usize);
            file.read_to_end(&mut buf).await.map_err(local_err)?;
            self.s3
                .put(key, Bytes::from(buf).into())
                .await
                .map_err(|e| self.err("put", key, e))?;
        } else {
            let upload = self
                .s3
                .put_multipart(key)
                .await
                .map_err(|e| self.err("put", key, e))?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, MULTIPART_ABOVE as usize);
            let mut chunk = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut chunk).await.map_err(local_err)?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(4)
                    .await
                    .map_err(|e| self.err("put", key, e))?;
                w.write(&chunk[..n]);
            }
            w.finish().await.map_err(|e| self.err("put", key, e))?;
        }
        let meta = self.head(key).await?;
        if meta.size != size {
            return Err(self.err(
                "check",
                key,
                format!("the store holds {} bytes, {size} were sent", meta.size),
            ));
        }
        Ok(size)
    }

    pub async fn put_bytes(&self, key: &Key, bytes: Vec<u8>) -> Result<(), FleetError> {
        self.s3
            .put(key, Bytes::from(bytes).into())
            .await
            .map(|_| ())
            .map_err(|e| self.err("put", key, e))
    }

    pub async fn head(&self, key: &Key) -> Result<ObjectMeta, FleetError> {
        self.s3
            .head(key)
            .await
            .map_err(|e| self.err("head", key, e))
    }

    pub async fn get(&self, key: &Key) -> Result<Bytes, FleetError> {
        let r = self
            .s3
            .get(key)
            .await
            .map_err(|e| self.err("get", key, e))?;
        r.bytes().await.map_err(|e| self.err("get", key, e))
    }

    /// `key`'s bytes, or `None` when there is no such object.
    pub async fn get_if_any(&self, key: &Key) -> Result<Option<Bytes>, FleetError> {
        match self.s3.get(key).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(|e| self.err("get", key, e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("get", key, e)),
        }
    }

    /// Deletes `key` (no error when it is already gone).
    pub async fn delete(&self, key: &Key) -> Result<(), FleetError> {
        match self.s3.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("delete", key, e)),
        }
    }

    /// Bytes `range` of `key` (a range request).
    pub async fn get_range(
        &self,
        key: &Key,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes, FleetError> {
        self.s3
            .get_range(key, range)
            .await
            .map_err(|e| self.err("get", key, e))
    }

    /// The "directories" right under `prefix`.
    pub async fn dirs(&self, prefix: &Key) -> Result<Vec<Key>, FleetError> {
        Ok(self.children(prefix).await?.0)
    }

    /// What is right under `prefix`: its "directories" and its objects.
    pub async fn children(&self, prefix: &Key) -> Result<(Vec<Key>, Vec<ObjectMeta>), FleetError> {
        let r = self
            .s3
            .list_with_delimiter(Some(prefix))
            .await
            .map_err(|e| self.err("list", prefix, e))?;
        Ok((r.common_prefixes, r.objects))
    }

    /// Every object under `prefix`.
    pub async fn list(&self, prefix: &Key) -> Result<Vec<ObjectMeta>, FleetError> {
        self.s3
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(|e| self.err("list", prefix, e))
    }
}
