//! The host's seal key: an Ed25519 key pair made at first start. The
//! private key (`seal.key`, beside sshlogd.yaml unless `seal_key` says
//! otherwise) is 0600 root; the public key (`seal.pub` beside it) is what an
//! auditor copies off the host and gives to `sshlog verify --key`
//! (`sshlogd --print-seal-key` prints it).

use anyhow::{bail, Context, Result};
use sshlog_format::seal::SealKey;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the public key of the private key at `key` is written.
pub fn public_path(key: &Path) -> PathBuf {
    key.with_extension("pub")
}

/// Loads the key at `path`, making a new pair when there is none.
pub fn load_or_create(path: &Path) -> Result<SealKey> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let mode = fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{} is readable by others (mode {:o}): anyone who can read it can forge seals; chmod 600 it",
                    path.display(),
                    mode & 0o777
                );
            }
            let key: SealKey = text
                .parse()
                .with_context(|| format!("{} is not a seal key", path.display()))?;
            let public = public_path(path);
            if !public.exists() {
                write_public(&key, &public)?;
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(e) => Err(e).with_context(|| format!("cannot read the seal key {}", path.display())),
    }
}

/// `sshlogd --print-seal-key`: the public key of the key at `key`, with
/// its fingerprint, to copy off the host.
pub fn print_public(key: &Path) -> Result<()> {
    let public = public_path(key);
    let text = fs::read_to_string(&public).with_context(|| {
        format!(
            "cannot read the public seal key {} (sshlogd makes the pair at its first start)",
            public.display()
        )
    })?;
    let parsed: sshlog_format::seal::PublicKey = text
        .parse()
        .with_context(|| format!("{} is not a public seal key", public.display()))?;
    println!("{}", text.trim());
    eprintln!(
        "fingerprint {} ({})",
        parsed.fingerprint(),
        public.display()
    );
    Ok(())
}

fn create(path: &Path) -> Result<SealKey> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut seed = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .context("cannot read /dev/urandom for a new seal key")?;
    if seed == [0u8; 32] {
        bail!("/dev/urandom gave zeros; no seal key made");
    }
    let key = SealKey::from_seed(seed);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the seal key {}", path.display()))?;
    writeln!(f, "{}", key.to_secret_text())?;
    f.sync_all()?;
    write_public(&key, &public_path(path))?;
    tracing::info!(
        "made a new seal key {} (public key {}, fingerprint {})",
        path.display(),
        public_path(path).display(),
        key.public().fingerprint()
    );
    Ok(key)
}

fn write_public(key: &SealKey, path: &Path) -> Result<()> {
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    fs::write(path, format!("{} sshlogd@{}\n", key.public(), host.trim()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_private_and_then_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("seal.key");
        let made = load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let public = fs::read_to_string(public_path(&path)).unwrap();
        assert!(public.starts_with(&made.public().to_string()), "{public}");
        let again = load_or_create(&path).unwrap();
        assert_eq!(again.public(), made.public());
        fs::write(&path, "garbage").unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(format!("{err:#}").contains("is not a seal key"), "{err:#}");
    }
}
