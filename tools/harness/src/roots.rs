//! Other systems' roots for chroot tests: `tools/debian-root SUITE` builds a
//! Debian root with its stock openssh-server once per machine (cached outside
//! the clone, under /var/cache/sshlog-test) and prints its path.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::spawned::run_with_timeout;

/// How long building a root may take (debootstrap from Debian's archive).
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The cached Debian root of `suite` (e.g. `trixie`, Debian 13 with OpenSSH
/// 10), built first when missing.
pub fn debian_root(suite: &str) -> Result<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../debian-root");
    let out = run_with_timeout(
        Command::new(&script).arg(suite),
        "tools/debian-root",
        b"",
        BUILD_TIMEOUT,
    )
    .with_context(|| format!("running {}", script.display()))?;
    if !out.success() {
        bail!(
            "{} {suite} failed ({}): {}",
            script.display(),
            out.status,
            out.stderr_text().trim()
        );
    }
    let path = PathBuf::from(out.stdout_text().trim());
    if !path.join("usr/sbin/sshd").is_file() {
        bail!("{} has no usr/sbin/sshd", path.display());
    }
    Ok(path)
}
