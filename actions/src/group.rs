//! The `sshlog` group: files sshlog writes (recordings, event logs) belong to
//! it, so its members can read them without being root.

use std::path::Path;
use std::sync::OnceLock;

/// The gid of group `sshlog`, if it exists.
pub fn sshlog_gid() -> Option<nix::unistd::Gid> {
    static GID: OnceLock<Option<nix::unistd::Gid>> = OnceLock::new();
    *GID.get_or_init(|| {
        nix::unistd::Group::from_name("sshlog")
            .ok()
            .flatten()
            .map(|g| g.gid)
    })
}

/// Gives `path` to the `sshlog` group (when it exists), so its members can read.
pub fn share_with_group(path: &Path) {
    if let Some(gid) = sshlog_gid() {
        if let Err(e) = nix::unistd::chown(path, None, Some(gid)) {
            tracing::debug!("cannot give {} to group sshlog: {e}", path.display());
        }
    }
}
