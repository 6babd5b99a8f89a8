//! Shared little helpers: random suffixes, temp dirs that carry an owner
//! token, and key generation with `ssh-keygen`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::procfs;
use crate::spawned::run_checked;

/// Prefix of every user name the harness creates.
pub const USER_PREFIX: &str = "sshlogt_";
/// Prefix of every temp dir the harness creates.
pub(crate) const DIR_PREFIX: &str = "sshlogt-";
/// Name of the file, inside each harness temp dir, holding the owner token.
pub(crate) const OWNER_FILE: &str = "owner";

/// How long an admin command (`useradd`, `ssh-keygen`, ...) may take.
pub(crate) const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A random lowercase hex string of `len` characters.
pub fn random_suffix(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect()
}

/// Creates `$TMPDIR/sshlogt-<kind>-XXXX` (mode 0700) and records the owner
/// token in it, so stale-cleanup can tell whether its creator still runs.
pub(crate) fn owned_temp_dir(kind: &str) -> Result<TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}{kind}-"))
        .tempdir()
        .context("creating harness temp dir")?;
    let owner = dir.path().join(OWNER_FILE);
    fs::write(&owner, procfs::owner_token())
        .with_context(|| format!("writing {}", owner.display()))?;
    Ok(dir)
}

/// Generates an unencrypted ed25519 key pair at `path` / `path.pub` and
/// returns the public key line.
pub(crate) fn generate_key(path: &Path, comment: &str) -> Result<String> {
    run_checked(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(path),
        "ssh-keygen",
        b"",
        ADMIN_TIMEOUT,
    )?;
    let pub_path = pub_path(path);
    let text =
        fs::read_to_string(&pub_path).with_context(|| format!("reading {}", pub_path.display()))?;
    Ok(text.trim().to_string())
}

/// `path` with `.pub` appended.
pub(crate) fn pub_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_is_hex() {
        let s = random_suffix(12);
        assert_eq!(s.len(), 12);
        assert!(s.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn pub_path_appends() {
        assert_eq!(pub_path(Path::new("/x/id")), PathBuf::from("/x/id.pub"));
    }
}
