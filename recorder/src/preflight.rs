//! Start-up checks with one clear line each: privileges, kernel BTF, tracefs
//! (mounted here when it is missing), and a writable log directory.

use anyhow::{bail, Context, Result};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn effective_caps() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("CapEff:"))
                .map(|l| l[7..].trim().to_string())
        })
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .unwrap_or(0)
}

pub fn check_privileges() -> Result<()> {
    let caps = effective_caps();
    let has = |c: u32| caps & (1u64 << c) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return Ok(());
    }
    bail!("sshlogd needs root (or CAP_BPF and CAP_PERFMON) to load eBPF programs; run it as root")
}

pub fn check_btf() -> Result<()> {
    if Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Ok(());
    }
    bail!("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing); sshlogd needs CONFIG_DEBUG_INFO_BTF=y")
}

/// Makes sure tracefs is reachable, mounting it at /sys/kernel/tracing if needed.
pub fn ensure_tracefs() -> Result<()> {
    for p in [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ] {
        if Path::new(p).is_dir() {
            return Ok(());
        }
    }
    let target = "/sys/kernel/tracing";
    nix::mount::mount(Some("nodev"), target, Some("tracefs"), nix::mount::MsFlags::empty(), None::<&str>)
        .with_context(|| {
            format!("tracefs is not mounted and mounting it failed; mount it with: mount -t tracefs nodev {target}")
        })?;
    tracing::info!("mounted tracefs at {target}");
    Ok(())
}

/// Creates `dir` (0750) if needed and proves it is writable.
pub fn check_log_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .with_context(|| format!("log directory {} cannot be created", dir.display()))?;
    let probe = dir.join(".sshlogd-write-test");
    fs::write(&probe, b"ok")
        .with_context(|| format!("log directory {} is not writable", dir.display()))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_log_dir_is_a_clear_error() {
        let err = check_log_dir(Path::new("/proc/sshlog-cannot-exist")).unwrap_err();
        assert!(format!("{err:#}")
            .contains("log directory /proc/sshlog-cannot-exist cannot be created"));
        let dir = tempfile::tempdir().unwrap();
        check_log_dir(&dir.path().join("a/b")).unwrap();
        assert!(dir.path().join("a/b").is_dir());
    }
}
