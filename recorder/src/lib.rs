//! sshlogd, the recorder: eBPF capture of SSH sessions into casts, sidecars and the
//! event log. The binary (`main.rs`) is a thin CLI over [`daemon::run`].

pub mod accounts;
pub mod capture;
pub mod cli;
pub mod control;
pub mod daemon;
pub mod finisher;
pub mod handover;
pub mod kernel_events;
pub mod live;
pub mod loader;
pub mod outbound;
pub mod preflight;
pub mod privileges;
pub mod procfs;
pub mod recording;
pub mod retention;
pub mod seal_key;
pub mod sealer;
pub mod settings;
pub mod sshd_log;
pub mod state;
pub mod store;
pub mod tracker;
pub mod user_program;
pub mod web_console;
pub mod witness;

#[cfg(test)]
pub(crate) mod tests_support {
    use std::path::{Path, PathBuf};

    /// The single file under `dir` whose name ends with `suffix`.
    pub fn only_file(dir: &Path, suffix: &str) -> PathBuf {
        let mut found: Vec<PathBuf> = sshlog_harness::files_under(dir)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect();
        assert_eq!(found.len(), 1, "files ending with {suffix}: {found:?}");
        found.remove(0)
    }
}
