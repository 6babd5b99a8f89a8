//! The store as an off-host witness of a host's seal chain: every chain
//! head sshlogd sends goes to `hosts/<h>/witness/<number>.json`, and its
//! tombstones file to `hosts/<h>/tombstones.jsonl`. `sshlog verify` reads
//! them back (`--witness URL`, and always with `--store`).

use crate::catalog::CONCURRENT_GETS;
use crate::{FleetError, FleetStore};
use futures::{StreamExt, TryStreamExt};
use std::path::Path;

impl FleetStore {
    /// Stores one head (JSON) of seal number `sequence`; a newer head of
    /// the same number (a heartbeat) replaces it.
    pub async fn put_witness(
        &self,
        host: &str,
        sequence: u64,
        head_json: Vec<u8>,
    ) -> Result<(), FleetError> {
        self.put_bytes(&self.layout.witness_head(host, sequence), head_json)
            .await
    }

    /// Every head stored for `host`, one JSON text per line.
    pub async fn witness_text(&self, host: &str) -> Result<String, FleetError> {
        let listed = self.list(&self.layout.witness_dir(host)).await?;
        let texts: Vec<String> = futures::stream::iter(listed)
            .map(|m| async move {
                let bytes = self.get(&m.location).await?;
                Ok::<_, FleetError>(String::from_utf8_lossy(&bytes).trim().to_string())
            })
            .buffer_unordered(CONCURRENT_GETS)
            .try_collect()
            .await?;
        Ok(texts.join("\n"))
    }

    /// Sends the host's tombstones file (whole: it is small and only grows).
    pub async fn put_tombstones(&self, host: &str, file: &Path) -> Result<(), FleetError> {
        self.put_file(file, &self.layout.tombstones(host))
            .await
            .map(drop)
    }

    /// Writes the host's tombstones into `log_dir` (none: nothing written).
    pub async fn fetch_tombstones(&self, host: &str, log_dir: &Path) -> Result<(), FleetError> {
        if let Some(bytes) = self.get_if_any(&self.layout.tombstones(host)).await? {
            let path = log_dir.join(sshlog_format::seal::TOMBSTONES);
            std::fs::write(&path, &bytes)
                .map_err(|e| FleetError::Local(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }
}
