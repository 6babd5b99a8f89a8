//! Test support for the recorder's end-to-end tests: runs the real `sshlogd`
//! binary against a temporary log directory and reads back what it recorded.
#![allow(dead_code)]

use sshlog_harness::Sshlogd;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The real sshlogd of this build ([`Sshlogd`]), with the recorder tests'
/// readers of what it recorded. Panics instead of returning errors.
pub struct Recorder(Sshlogd);

impl Deref for Recorder {
    type Target = Sshlogd;
    fn deref(&self) -> &Sshlogd {
        &self.0
    }
}

impl DerefMut for Recorder {
    fn deref_mut(&mut self) -> &mut Sshlogd {
        &mut self.0
    }
}

impl Recorder {
    pub fn start() -> Recorder {
        Self::start_with("# test settings: defaults\n")
    }

    /// Starts sshlogd with this settings file content (log dir and socket are
    /// always the test's own).
    pub fn start_with(settings: &str) -> Recorder {
        Recorder(Sshlogd::start(env!("CARGO_BIN_EXE_sshlogd"), settings).expect("start sshlogd"))
    }

    /// Like [`Recorder::start_with`], recording into `logs` (e.g. a small filesystem).
    pub fn start_in(logs: &Path, settings: &str) -> Recorder {
        Recorder(
            Sshlogd::start_in(env!("CARGO_BIN_EXE_sshlogd"), logs, settings)
                .expect("start sshlogd"),
        )
    }

    /// Starts sshlogd again on the same directories.
    pub fn spawn(&mut self) {
        self.0.spawn().expect("restart sshlogd");
    }

    /// Waits (bounded) until `n` sessions of `user` have a connection_close.
    pub fn wait_closed(&self, user: &str, n: usize, timeout: Duration) -> Vec<Session> {
        self.0
            .wait_closed(user, n, timeout)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }
}

/// A recorded session ([`sshlog_harness::RecordedSession`]).
pub type Session = sshlog_harness::RecordedSession;

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    sshlog_harness::files_under(dir)
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
