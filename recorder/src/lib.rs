//! sshlogd, the recorder: eBPF capture of SSH sessions into casts, sidecars and the
//! event log. The binary (`main.rs`) is a thin CLI over [`daemon::run`].

pub mod control;
pub mod daemon;
pub mod event_log;
pub mod kernel_events;
pub mod loader;
pub mod preflight;
pub mod procfs;
pub mod recording;
pub mod settings;
pub mod sshd_log;
pub mod state;
pub mod tracker;
