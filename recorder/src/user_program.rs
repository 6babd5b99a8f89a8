//! Which programs of a connection are the user's: the program sshd starts for
//! the user (the login shell, or the shell running the requested command), and
//! the commands that program runs.
//!
//! OpenSSH opens the PAM session in the privileged monitor (the per-connection
//! sshd) before it forks the unprivileged session child, so PAM modules such as
//! pam_motd (`run-parts /etc/update-motd.d`, as root) run first, as children of
//! the monitor. The user's program is different in three ways the kernel shows at
//! exec: its parent is an sshd of the connection that is *not* the monitor (the
//! session child), it is a session leader (sshd calls `setsid()` before exec, for
//! pty and no-pty sessions alike; `system()` in a PAM module does not), and it is
//! the first such exec. `~/.ssh/rc` and xauth, which sshd runs from that child
//! before the shell, are children of the leader, not the leader.
//!
//! A command of the user is an exec by a process the user's program forked,
//! directly or through forks that did not exec (pipelines, subshells, command
//! substitution), or a later exec of the program itself (`exec top`, or `bash -c`
//! running its last command in place). Programs those commands start in turn
//! (make's compilers, a script's helpers) are recorded but are not commands of
//! the user's shell.

use std::collections::HashSet;

/// What an exec is, for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecRole {
    /// The program sshd started for the user.
    UserProgram,
    /// A command the user's program ran (gets a marker in the cast).
    UserCommand,
    /// Anything else: PAM helpers, sshd's helpers, grandchildren of commands.
    Other,
}

/// Facts about one exec, from the kernel record.
#[derive(Debug, Clone, Copy)]
pub struct ExecFacts {
    pub pid: u32,
    pub ppid: u32,
    /// The process leads its session (setsid).
    pub session_leader: bool,
    /// The parent is an sshd process of this connection.
    pub parent_is_sshd: bool,
    /// The parent is the connection's monitor (the per-connection sshd).
    pub parent_is_monitor: bool,
}

/// Follows the user's program and the processes that count as it.
#[derive(Debug, Default)]
pub struct UserProgram {
    pid: Option<u32>,
    /// The program's pid and its forks that have not exec'd yet.
    shells: HashSet<u32>,
}

impl UserProgram {
    /// The pid of the user's program, once seen.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Takes `pid` as the user's program (a session adopted at start-up).
    pub fn adopt(&mut self, pid: u32) {
        self.pid = Some(pid);
        self.shells.insert(pid);
    }

    pub fn on_fork(&mut self, pid: u32, ppid: u32) {
        if self.shells.contains(&ppid) {
            self.shells.insert(pid);
        }
    }

    pub fn on_exit(&mut self, pid: u32) {
        self.shells.remove(&pid);
    }

    /// Classifies an exec and updates what counts as the user's program.
    pub fn on_exec(&mut self, f: ExecFacts) -> ExecRole {
        match self.pid {
            None => {
                if f.session_leader && f.parent_is_sshd && !f.parent_is_monitor {
                    self.adopt(f.pid);
                    ExecRole::UserProgram
                } else {
                    ExecRole::Other
                }
            }
            Some(p) if p == f.pid => ExecRole::UserCommand,
            Some(_) if self.shells.remove(&f.pid) => ExecRole::UserCommand,
            Some(_) => ExecRole::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONITOR: u32 = 100;
    const CHILD: u32 = 110; // the unprivileged session child (an sshd)

    fn exec(pid: u32, ppid: u32, sid: u32, parent_is_sshd: bool) -> ExecFacts {
        ExecFacts {
            pid,
            ppid,
            session_leader: sid == pid,
            parent_is_sshd,
            parent_is_monitor: ppid == MONITOR,
        }
    }

    #[test]
    fn pam_helpers_are_not_the_user_program() {
        let mut u = UserProgram::default();
        // pam_motd: system("/usr/bin/env -i ... run-parts ...") from the monitor.
        assert_eq!(u.on_exec(exec(120, MONITOR, 1, true)), ExecRole::Other);
        // sh -c execs env, which execs run-parts; its children run the scripts.
        u.on_fork(121, 120);
        assert_eq!(u.on_exec(exec(120, MONITOR, 1, true)), ExecRole::Other);
        assert_eq!(u.on_exec(exec(121, 120, 1, false)), ExecRole::Other);
        // Even a session leader forked by the monitor is not it.
        assert_eq!(u.on_exec(exec(122, MONITOR, 122, true)), ExecRole::Other);
        assert_eq!(u.pid(), None);
        // ~/.ssh/rc: a child of the session leader, run before the shell.
        assert_eq!(u.on_exec(exec(131, 130, 130, true)), ExecRole::Other);
        // The shell: a session leader forked by the session child.
        assert_eq!(
            u.on_exec(exec(130, CHILD, 130, true)),
            ExecRole::UserProgram
        );
        assert_eq!(u.pid(), Some(130));
    }

    #[test]
    fn commands_of_the_shell_pipelines_and_subshells_count_once() {
        let mut u = UserProgram::default();
        assert_eq!(
            u.on_exec(exec(130, CHILD, 130, true)),
            ExecRole::UserProgram
        );
        // `ls | wc -l`: two forks of the shell, each execs once.
        u.on_fork(140, 130);
        u.on_fork(141, 130);
        assert_eq!(u.on_exec(exec(140, 130, 130, false)), ExecRole::UserCommand);
        assert_eq!(u.on_exec(exec(141, 130, 130, false)), ExecRole::UserCommand);
        // `(cd /tmp; make)`: a subshell fork (no exec) forks make ...
        u.on_fork(150, 130);
        u.on_fork(151, 150);
        assert_eq!(u.on_exec(exec(151, 150, 130, false)), ExecRole::UserCommand);
        // ... and make's compiler is not a command of the shell.
        u.on_fork(152, 151);
        assert_eq!(u.on_exec(exec(152, 151, 130, false)), ExecRole::Other);
        // A second exec of one command (a wrapper that execs) is not a new command.
        assert_eq!(u.on_exec(exec(140, 130, 130, false)), ExecRole::Other);
        // `exec top` in the shell itself is.
        assert_eq!(
            u.on_exec(exec(130, CHILD, 130, true)),
            ExecRole::UserCommand
        );
        u.on_exit(150);
        u.on_fork(160, 150); // pid reuse after exit: not a shell fork
        assert_eq!(u.on_exec(exec(160, 150, 130, false)), ExecRole::Other);
    }
}
