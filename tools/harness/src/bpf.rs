//! The bpffs directory where one test sshlogd pins its kernel half
//! (`--bpf-dir`): under [`TEST_BPF_ROOT`], never sshlogd's real
//! `/sys/fs/bpf/sshlog`, and removed on drop so no test leaves programs
//! attached. Leftovers of killed runs go with [`crate::cleanup_stale`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where test sshlogds pin their kernel halves, one directory each.
pub const TEST_BPF_ROOT: &str = "/sys/fs/bpf/sshlog-test";

/// One test sshlogd's `--bpf-dir` (`<pid of the test>-<n>`), removed on drop:
/// its programs detach and its maps are freed.
#[derive(Debug)]
pub struct TestBpfDir {
    path: PathBuf,
}

impl TestBpfDir {
    pub fn new() -> TestBpfDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        TestBpfDir {
            path: Path::new(TEST_BPF_ROOT).join(format!("{}-{n}", std::process::id())),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Default for TestBpfDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestBpfDir {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

fn remove(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("sshlog-harness: cannot remove {}: {e}", dir.display()),
    }
}

/// Removes the kernel halves pinned by test processes that are gone.
pub(crate) fn cleanup_stale_bpf_dirs() {
    let Ok(dirs) = std::fs::read_dir(TEST_BPF_ROOT) else {
        return;
    };
    for d in dirs.flatten() {
        let name = d.file_name().to_string_lossy().into_owned();
        let owner = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if owner.is_some_and(|pid| !crate::process_running(pid)) {
            remove(&d.path());
        }
    }
}
