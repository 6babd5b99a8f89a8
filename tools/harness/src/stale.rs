//! Removal of leftovers from earlier, killed runs: `sshlogt_*` users,
//! `sshlogt-*` temp dirs (with the sshd trees started from them) and test
//! sshlogds' pinned kernel halves whose creating process is gone. Resources of live runs are left alone.

use std::fs;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::namespace::HARNESS_DIR_IN_ROOT;
use crate::procfs;
use crate::user::{passwd_entries_in, remove_user_in, GECOS_MARK};
use crate::util::{DIR_PREFIX, OWNER_FILE, USER_PREFIX};

static ONCE: Once = Once::new();

/// Runs [`cleanup_stale`] once per process, logging (not failing on)
/// errors.
pub(crate) fn cleanup_stale_once() {
    ONCE.call_once(|| {
        if let Err(e) = cleanup_stale() {
            eprintln!("sshlog-harness: stale cleanup: {e:#}");
        }
    });
}

/// Removes stale harness users from the user database of `root` (a system
/// that chroot tests use), once per process and root.
pub(crate) fn cleanup_stale_users_once(root: &Path) {
    static DONE: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    if done.iter().any(|d| d == root) {
        return;
    }
    done.push(root.to_path_buf());
    let mut errors = Vec::new();
    if let Err(e) = cleanup_stale_users(Some(root), &mut errors) {
        errors.push(format!("{e:#}"));
    }
    if !errors.is_empty() {
        eprintln!(
            "sshlog-harness: stale cleanup in {}: {}",
            root.display(),
            errors.join("; ")
        );
    }
}

/// Removes the harness users of `root` (the host's for `None`) whose
/// creating process is gone.
fn cleanup_stale_users(root: Option<&Path>, errors: &mut Vec<String>) -> Result<()> {
    for entry in passwd_entries_in(root)? {
        if !entry.name.starts_with(USER_PREFIX) {
            continue;
        }
        let stale = match entry.gecos.split_once(GECOS_MARK) {
            Some((_, token)) => !procfs::token_alive(token),
            // Not made by this harness version: only if nothing runs as it.
            None => !procfs::all_pids()
                .into_iter()
                .any(|p| procfs::uid_of(p) == Some(entry.uid)),
        };
        if stale {
            if let Err(e) = remove_user_in(root, &entry.name, entry.uid) {
                errors.push(format!("{e:#}"));
            }
        }
    }
    Ok(())
}

/// Removes stale users and temp dirs (and kills the sshd trees started
/// from those dirs) left by harness runs whose process has died.
pub fn cleanup_stale() -> Result<()> {
    let mut errors = Vec::new();
    cleanup_stale_users(None, &mut errors)?;
    crate::bpf::cleanup_stale_bpf_dirs();
    let tmp = std::env::temp_dir();
    if let Ok(dirs) = fs::read_dir(&tmp) {
        for d in dirs.filter_map(|d| d.ok()) {
            let name = d.file_name().to_string_lossy().into_owned();
            if !name.starts_with(DIR_PREFIX) {
                continue;
            }
            let path = d.path();
            let Ok(token) = fs::read_to_string(path.join(OWNER_FILE)) else {
                continue;
            };
            if procfs::token_alive(&token) {
                continue;
            }
            kill_sshd_started_from(&path);
            if let Err(e) =
                fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))
            {
                errors.push(format!("{e:#}"));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", errors.join("; "))
    }
}

/// Kills the sshd (and its tree) whose pid file lies in `dir`, but only if
/// that pid really is an sshd using a config from `dir`.
fn kill_sshd_started_from(dir: &Path) {
    let Ok(text) = fs::read_to_string(dir.join("sshd.pid")) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return;
    };
    let dir_text = dir.to_string_lossy();
    // A chrooted sshd names the dir as HARNESS_DIR_IN_ROOT.
    let ours = procfs::cmdline(pid).is_some_and(|c| {
        c.contains("sshd") && (c.contains(dir_text.as_ref()) || c.contains(HARNESS_DIR_IN_ROOT))
    });
    if ours {
        procfs::kill_tree(pid, true, Duration::from_secs(5));
    }
}
