//! Where the fleet store is and how to reach it: the `store:` section of
//! sshlogd.yaml, or a `--store` URL for the CLI; the credentials (never in
//! the world-readable settings: a root-only file or the environment) and the
//! host id that keeps hosts apart in the store.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::FleetError;

/// The `store:` section of sshlogd.yaml.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `http(s)://host:port` of an S3-compatible server (Garage, MinIO);
    /// none for AWS S3 itself.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The region the server expects (Garage: its `s3_region`).
    #[serde(default = "default_region")]
    pub region: String,
    pub bucket: String,
    /// Keys start with this (no leading or trailing `/`); empty by default.
    #[serde(default)]
    pub prefix: String,
    /// A file of `access_key_id = …` and `secret_access_key = …` lines,
    /// readable by root only; else `SSHLOG_STORE_ACCESS_KEY_ID` and
    /// `SSHLOG_STORE_SECRET_ACCESS_KEY` (or `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`) in the environment.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// PEM file of the CA that signed the server's certificate (in addition
    /// to the system's roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// This host's name in the store; default: /etc/machine-id.
    #[serde(default)]
    pub host_id: Option<String>,
    /// Live sessions are uploaded as they are every this many seconds (0:
    /// only when finished), so a host that dies mid-session leaves all but
    /// the last seconds of it in the store.
    #[serde(default = "default_live_upload_seconds")]
    pub live_upload_seconds: u64,
    /// Event records go to the store too, one object per host and hour
    /// (`hosts/<host>/events/…`), so `sshlog events --store` spans hosts.
    #[serde(default)]
    pub events: bool,
}

fn default_live_upload_seconds() -> u64 {
    30
}

fn default_region() -> String {
    "us-east-1".into()
}

impl StoreSettings {
    /// Parses a `--store` URL:
    /// `s3://BUCKET[/PREFIX][?endpoint=URL&region=R&credentials_file=F&ca_file=F]`.
    pub fn from_url(url: &str) -> Result<StoreSettings, FleetError> {
        let bad = |why: &str| FleetError::Config(format!("--store {url}: {why}"));
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("expected s3://BUCKET[/PREFIX][?endpoint=…]"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket"));
        }
        let mut s = StoreSettings {
            endpoint: None,
            region: default_region(),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            credentials_file: None,
            ca_file: None,
            host_id: None,
            live_upload_seconds: default_live_upload_seconds(),
            events: false,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| bad(&format!("{pair}: expected KEY=VALUE")))?;
            match k {
                "endpoint" => s.endpoint = Some(v.to_string()),
                "region" => s.region = v.to_string(),
                "credentials_file" => s.credentials_file = Some(v.into()),
                "ca_file" => s.ca_file = Some(v.into()),
                "host_id" => s.host_id = Some(v.to_string()),
                _ => {
                    return Err(bad(&format!(
                        "unknown parameter {k} (known: endpoint, region, credentials_file, ca_file, host_id)"
                    )))
                }
            }
        }
        Ok(s)
    }

    /// `s3://bucket/prefix` (and the endpoint), for messages.
    pub fn describe(&self) -> String {
        let at = self
            .endpoint
            .as_deref()
            .map(|e| format!(" at {e}"))
            .unwrap_or_default();
        if self.prefix.is_empty() {
            format!("s3://{}{at}", self.bucket)
        } else {
            format!("s3://{}/{}{at}", self.bucket, self.prefix)
        }
    }
}

/// An access key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, secret hidden)", self.access_key_id)
    }
}

impl Credentials {
    /// From `settings.credentials_file`, else from the environment.
    pub fn load(settings: &StoreSettings) -> Result<Credentials, FleetError> {
        match &settings.credentials_file {
            Some(path) => Self::from_file(path),
            None => Self::from_env().ok_or_else(|| {
                FleetError::Config(
                    "no store credentials: set credentials_file (a root-only file) or \
                     SSHLOG_STORE_ACCESS_KEY_ID and SSHLOG_STORE_SECRET_ACCESS_KEY"
                        .into(),
                )
            }),
        }
    }

    fn from_env() -> Option<Credentials> {
        let pair = |id: &str, secret: &str| {
            Some(Credentials {
                access_key_id: std::env::var(id).ok().filter(|v| !v.is_empty())?,
                secret_access_key: std::env::var(secret).ok().filter(|v| !v.is_empty())?,
            })
        };
        pair(
            "SSHLOG_STORE_ACCESS_KEY_ID",
            "SSHLOG_STORE_SECRET_ACCESS_KEY",
        )
        .or_else(|| pair("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
    }

    /// `access_key_id = …` and `secret_access_key = …` lines (`#` comments);
    /// refused when others may read the file.
    pub fn from_file(path: &Path) -> Result<Credentials, FleetError> {
        use std::os::unix::fs::MetadataExt;
        let err = |why: String| FleetError::Config(format!("{}: {why}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.mode() & 0o077 != 0 {
            return Err(err(format!(
                "mode {:o} lets others read the store's secret key; chmod 600 it",
                meta.mode() & 0o777
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let (mut id, mut secret) = (None, None);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| err(format!("line {}: expected KEY = VALUE", n + 1)))?;
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "access_key_id" => id = Some(v),
                "secret_access_key" => secret = Some(v),
                other => {
                    return Err(err(format!(
                        "line {}: unknown key {other} (known: access_key_id, secret_access_key)",
                        n + 1
                    )))
                }
            }
        }
        match (id, secret) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
                access_key_id,
                secret_access_key,
            }),
            _ => Err(err("needs access_key_id and secret_access_key".into())),
        }
    }
}

/// This host's id in the store: the setting, else /etc/machine-id.
pub fn host_id(settings: &StoreSettings) -> Result<String, FleetError> {
    let id = match &settings.host_id {
        Some(id) => id.clone(),
        None => std::fs::read_to_string("/etc/machine-id")
            .map(|s| s.trim().to_string())
            .map_err(|e| {
                FleetError::Config(format!(
                    "no host_id set and /etc/machine-id unreadable ({e}); set store.host_id"
                ))
            })?,
    };
    check_host_id(&id)?;
    Ok(id)
}

/// A host id is 1-64 of `A-Z a-z 0-9 . _ -`, not starting with a dot.
pub fn check_host_id(id: &str) -> Result<(), FleetError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(FleetError::Config(format!(
            "host id {id:?}: use 1-64 letters, digits, '.', '_' or '-'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn store_urls() {
        let s = StoreSettings::from_url(
            "s3://rec/fleet/a?endpoint=http://127.0.0.1:3900&region=garage&host_id=web-1",
        )
        .unwrap();
        assert_eq!(s.bucket, "rec");
        assert_eq!(s.prefix, "fleet/a");
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!(s.region, "garage");
        assert_eq!(s.host_id.as_deref(), Some("web-1"));
        assert_eq!(s.describe(), "s3://rec/fleet/a at http://127.0.0.1:3900");
        assert_eq!(StoreSettings::from_url("s3://b").unwrap().prefix, "");
        for bad in ["http://x", "s3://", "s3://b?nope=1", "s3://b?endpoint"] {
            let e = StoreSettings::from_url(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("--store {bad}")), "{e}");
        }
    }

    #[test]
    fn credentials_files_must_be_private_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        std::fs::write(
            &p,
            "# garage key\naccess_key_id = GK1\nsecret_access_key = \"s3cr3t\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Credentials::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("mode 644") && e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = Credentials::from_file(&p).unwrap();
        assert_eq!(c.access_key_id, "GK1");
        assert_eq!(c.secret_access_key, "s3cr3t");
        assert!(
            !format!("{c:?}").contains("s3cr3t"),
            "the secret is never printed"
        );
        std::fs::write(&p, "access_key_id = GK1\npassword = x\n").unwrap();
        let e = Credentials::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("line 2: unknown key password"), "{e}");
    }

    #[test]
    fn host_ids() {
        assert!(check_host_id("web-1.example_2").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_host_id(bad).is_err(), "{bad}");
        }
    }
}
