//! What sshlogd keeps of root's power once its eBPF programs are loaded and
//! attached, and the `sshlog` group that may read recordings and use the socket.
//!
//! Kept capabilities (documented in docs/security.md):
//! - CAP_BPF: reading and updating the eBPF maps (counters, seeds, ports);
//! - CAP_SYS_PTRACE: /proc/PID/fd of sshd processes, and `pidfd_getfd` for attach;
//! - CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH: the user's tty (message_to_session)
//!   and /proc entries owned by other users;
//! - CAP_CHOWN, CAP_FOWNER: giving new files and directories to the `sshlog` group;
//! - CAP_SYS_NICE: raising the capture thread to real-time priority while it is
//!   behind (capture/scheduling.rs).
//!
//! Everything else (CAP_SYS_ADMIN, CAP_PERFMON, CAP_NET_*, CAP_SETUID, …) is
//! dropped from the effective, permitted, inheritable and bounding sets.

use anyhow::{Context, Result};
use caps::{CapSet, Capability, CapsHashSet};

pub const KEPT: &[Capability] = &[
    Capability::CAP_BPF,
    Capability::CAP_SYS_PTRACE,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_DAC_READ_SEARCH,
    Capability::CAP_CHOWN,
    Capability::CAP_FOWNER,
    Capability::CAP_SYS_NICE,
];

/// Drops every capability but [`KEPT`].
pub fn drop_unneeded() -> Result<()> {
    let keep: CapsHashSet = KEPT.iter().copied().collect();
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)
                .with_context(|| format!("cannot drop {cap} from the bounding set"))?;
        }
    }
    let now = caps::read(None, CapSet::Permitted).context("cannot read capabilities")?;
    let kept: CapsHashSet = now.intersection(&keep).copied().collect();
    caps::clear(None, CapSet::Ambient).ok();
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new())
        .context("cannot clear inheritable capabilities")?;
    caps::set(None, CapSet::Effective, &kept).context("cannot set effective capabilities")?;
    caps::set(None, CapSet::Permitted, &kept).context("cannot set permitted capabilities")?;
    Ok(())
}

pub use sshlog_actions::group::{share_with_group, sshlog_gid};
