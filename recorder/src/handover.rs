//! The kernel half kept across restarts and upgrades of sshlogd.
//!
//! The maps of `recorder-ebpf/bpf/state.h` (ring buffer, process table,
//! per-connection counters, …) are pinned in bpffs, and so are the links that
//! keep the programs attached, so the kernel goes on recording while no
//! sshlogd runs. Layout under the bpf directory (`bpf_dir`, default
//! `/sys/fs/bpf/sshlog`):
//!
//! ```text
//! state-<layout>-<ring bytes>/     maps pinned by name (aya's map_pin_path)
//!     gate                         the generation that records
//!     links-<generation>/<program> the attached programs of one sshlogd
//! ```
//!
//! A starting sshlogd loads its programs against the state directory of its
//! layout and ring size (reusing the maps when they exist), attaches them as
//! generation N+1 (inactive: the gate still says N), then stores N+1 in the
//! gate, then removes the older generations' links and any state directory of
//! another layout. The switch is one map write: every kernel event is handled
//! by exactly one generation, so a restart or an upgrade whose maps keep their
//! layout loses and duplicates nothing; the new sshlogd reads the ring from
//! where the old one stopped. One sshlogd at a time: each holds [`lock`].

use anyhow::{Context, Result};
use aya::maps::{Array, Map, MapData};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The default `bpf_dir`.
pub const DEFAULT_BPF_DIR: &str = "/sys/fs/bpf/sshlog";

/// Takes `bpf_dir` for this process (an exclusive lock on the directory, held
/// until it exits, also on kill -9): two sshlogds reading one ring would
/// steal each other's records.
pub fn lock(bpf_dir: &Path) -> Result<()> {
    static HELD: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();
    let dir = std::fs::File::open(bpf_dir)
        .with_context(|| format!("cannot open {}", bpf_dir.display()))?;
    // SAFETY: flock(2) on a descriptor we own.
    let rc = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        anyhow::bail!(
            "another sshlogd uses {} (its kernel half); stop it first, or give this one another --bpf-dir",
            bpf_dir.display()
        );
    }
    let _ = HELD.set(dir);
    Ok(())
}

/// Where one layout's maps are pinned.
pub fn state_dir(bpf_dir: &Path, ring_bytes: u32) -> PathBuf {
    bpf_dir.join(format!(
        "state-{}-{ring_bytes}",
        sshlog_recorder_ebpf::STATE_LAYOUT
    ))
}

/// Where the links of one generation are pinned.
pub fn links_dir(state: &Path, generation: u32) -> PathBuf {
    state.join(format!("links-{generation}"))
}

/// The generation recording in `state` (its pinned gate), if the maps exist.
pub fn current_generation(state: &Path) -> Option<u32> {
    let map = MapData::from_pin(state.join("gate")).ok()?;
    let gate = Array::<_, u32>::try_from(Map::Array(map)).ok()?;
    gate.get(&0, 0).ok()
}

/// Hands recording to `generation`: from this write on only its programs act.
pub fn open_gate(ebpf: &mut aya::Ebpf, generation: u32) -> Result<()> {
    let mut gate = Array::<_, u32>::try_from(
        ebpf.map_mut("gate")
            .context("the eBPF object has no gate map")?,
    )?;
    gate.set(0, generation, 0)
        .context("cannot switch the gate to the new programs")?;
    Ok(())
}

/// What [`retire_others`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Retired {
    /// Earlier generations' programs detached (their links unpinned).
    pub generations: usize,
    /// State directories of another layout or ring size removed (their ring
    /// could not be read by this sshlogd).
    pub layouts: usize,
}

/// Detaches every generation of the state directory in `keep` but the kept
/// one, and removes every other state directory under `bpf_dir` (all of them
/// without `keep`).
pub fn retire_others(bpf_dir: &Path, keep: Option<(&Path, u32)>) -> Retired {
    let mut retired = Retired::default();
    if let Some((state, generation)) = keep {
        let keep_links = links_dir(state, generation);
        for entry in read_dir(state) {
            if name_starts(&entry, "links-") && entry != keep_links && remove_tree(&entry) {
                retired.generations += 1;
            }
        }
    }
    for entry in read_dir(bpf_dir) {
        let kept = keep.is_some_and(|(state, _)| entry == state);
        if name_starts(&entry, "state-") && !kept && remove_tree(&entry) {
            retired.layouts += 1;
        }
    }
    retired
}

fn name_starts(path: &Path, prefix: &str) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
}

/// Removes everything sshlogd pinned under `bpf_dir`: the programs detach and
/// the maps are freed (`sshlogd --unload`; refused while an sshlogd uses it).
/// Returns how many state directories there were.
pub fn unload(bpf_dir: &Path) -> Result<usize> {
    if !bpf_dir.exists() {
        return Ok(0);
    }
    // Never from under a running sshlogd.
    lock(bpf_dir)?;
    let mut n = 0;
    for entry in read_dir(bpf_dir) {
        std::fs::remove_dir_all(&entry)
            .with_context(|| format!("cannot remove {}", entry.display()))?;
        n += 1;
    }
    match std::fs::remove_dir(bpf_dir) {
        Ok(()) => Ok(n),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(n),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", bpf_dir.display())),
    }
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn remove_tree(dir: &Path) -> bool {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("cannot remove {}: {e}", dir.display());
            false
        }
    }
}
