//! End-to-end test harness for sshlog: a real, throw-away OpenSSH server on
//! 127.0.0.1, throw-away local users, and the real `ssh`/`scp` clients.
//!
//! ```no_run
//! use sshlog_harness::{require_root_or_skip, Sshd, TestUser};
//! # fn main() -> anyhow::Result<()> {
//! if !require_root_or_skip("example") {
//!     return Ok(());
//! }
//! let sshd = Sshd::start()?;
//! let user = TestUser::create()?;
//! let out = sshd.ssh(&user).run("echo hi; exit 3")?;
//! assert_eq!(out.code(), Some(3));
//! assert!(out.stdout_text().contains("hi"));
//! let shell = sshd.ssh(&user).run_script(&["echo a$((1+2))", "exit 7"])?;
//! assert!(shell.stdout_text().contains("a3"));
//! println!("{}", sshd.log_text()?);
//! # Ok(()) }
//! ```
//!
//! Everything is removed on drop (also while unwinding from a panic): the
//! sshd and every process it started, the user with its home and
//! processes, the temp dirs. Leftovers of runs that were killed outright
//! are removed by the next run ([`cleanup_stale`]). Every wait is bounded.

mod bpf;
mod client;
mod config;
mod garage;
mod namespace;
mod procfs;
mod recorded;
mod roots;
mod rsyslog;
mod skip;
mod small_fs;
mod spawned;
mod sshd;
mod sshlogd;
mod stale;
mod syslog;
mod terminal;
mod user;
mod util;

pub use bpf::{TestBpfDir, TEST_BPF_ROOT};
pub use client::{ScpCommand, SshCommand, SshSession, DEFAULT_CLIENT_TIMEOUT};
pub use garage::{Garage, GARAGE_REGION};
pub use recorded::{sessions_of, RecordedSession};
pub use roots::debian_root;
pub use rsyslog::{rsyslogd, Rsyslog};
pub use skip::{missing_requirements, require_root_or_skip};
pub use small_fs::SmallFs;
pub use spawned::{run_checked, run_with_timeout, Output, Spawned};
pub use sshd::{Sshd, SshdBuilder, SshdLog};
pub use sshlogd::{files_under, process_usage, table_header, ProcessUsage, Sshlogd};
pub use stale::cleanup_stale;
pub use syslog::SyslogReceiver;
pub use terminal::Terminal;
pub use user::{user_exists, TestUser, TestUserBuilder};
pub use util::{random_suffix, USER_PREFIX};

/// Whether a process with this pid exists and is not a zombie.
pub fn process_running(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(procfs::is_running)
}
