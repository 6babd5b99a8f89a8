//! Start-up checks with one clear line each: the kernel version, privileges,
//! kernel BTF, tracefs (mounted here when it is missing), and a writable log
//! directory.

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

/// The oldest kernel sshlogd runs on: BTF (CO-RE), the BPF ring buffer (5.8),
/// `bpf_loop` (5.17) and `tp_btf` programs.
pub const KERNEL_FLOOR: (u32, u32) = (5, 17);

/// `major.minor` of a kernel release string (`6.1.0-13-amd64` → (6, 1)).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Refuses a kernel older than [`KERNEL_FLOOR`], naming what it lacks.
pub fn check_kernel() -> Result<()> {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let release = release.trim();
    kernel_supported(release)
}

fn kernel_supported(release: &str) -> Result<()> {
    let Some(v) = kernel_version(release) else {
        // An odd release string: let the loader say what is missing.
        return Ok(());
    };
    if v >= KERNEL_FLOOR {
        return Ok(());
    }
    let lacks = if v < (5, 8) {
        "the BPF ring buffer (5.8) and bpf_loop (5.17)"
    } else {
        "bpf_loop (5.17)"
    };
    bail!(
        "this kernel is {release}; sshlogd needs Linux {}.{} or newer: it lacks {lacks}",
        KERNEL_FLOOR.0,
        KERNEL_FLOOR.1
    )
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

/// Makes sure `bpf_dir` is on a BPF filesystem, mounting bpffs at
/// /sys/fs/bpf when that is where it goes and nothing is mounted there.
pub fn ensure_bpffs(bpf_dir: &Path) -> Result<()> {
    use nix::sys::statfs::{statfs, BPF_FS_MAGIC};
    let on_bpffs = |p: &Path| statfs(p).is_ok_and(|s| s.filesystem_type() == BPF_FS_MAGIC);
    let existing = bpf_dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    if on_bpffs(existing) {
        return Ok(());
    }
    let target = Path::new("/sys/fs/bpf");
    if !bpf_dir.starts_with(target) {
        bail!(
            "{} is not on a BPF filesystem (bpf_dir must be under a bpffs mount such as /sys/fs/bpf)",
            bpf_dir.display()
        );
    }
    nix::mount::mount(
        Some("bpf"),
        target,
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .with_context(|| {
        format!(
            "bpffs is not mounted and mounting it failed; mount it with: mount -t bpf bpf {}",
            target.display()
        )
    })?;
    tracing::info!("mounted bpffs at {}", target.display());
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
    fn kernels_below_the_floor_are_named() {
        assert_eq!(kernel_version("6.1.0-13-amd64"), Some((6, 1)));
        assert_eq!(kernel_version("5.17.0"), Some((5, 17)));
        assert!(kernel_supported("6.18.0").is_ok());
        assert!(kernel_supported("5.17.3-arch1").is_ok());
        let e = kernel_supported("5.15.0-91-generic")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "this kernel is 5.15.0-91-generic; sshlogd needs Linux 5.17 or newer: it lacks bpf_loop (5.17)");
        let e = kernel_supported("5.4.0-150-generic")
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("it lacks the BPF ring buffer (5.8) and bpf_loop (5.17)"),
            "{e}"
        );
        assert!(kernel_supported("weird").is_ok());
    }

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
