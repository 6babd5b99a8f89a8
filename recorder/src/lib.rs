//! sshlogd, the recorder: eBPF capture of SSH sessions into casts, sidecars and the
//! event log. The binary (`main.rs`) is a thin CLI over [`daemon::run`].

pub mod actions;
pub mod control;
pub mod daemon;
pub mod event_log;
pub mod indexer;
pub mod kernel_events;
pub mod live;
pub mod loader;
pub mod outbound;
pub mod preflight;
pub mod privileges;
pub mod procfs;
pub mod recording;
pub mod settings;
pub mod sshd_log;
pub mod state;
pub mod tracker;

#[cfg(test)]
pub(crate) mod tests_support {
    use std::path::{Path, PathBuf};

    /// The single file under `dir` whose name ends with `suffix`.
    pub fn only_file(dir: &Path, suffix: &str) -> PathBuf {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.to_string_lossy().ends_with(suffix) {
                    found.push(p);
                }
            }
        }
        assert_eq!(found.len(), 1, "files ending with {suffix}: {found:?}");
        found.remove(0)
    }
}
