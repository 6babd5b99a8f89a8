//! What the tracker knows of one connection: its sshd processes, the user and
//! the user's program, its commands and uploads, its recording.

use super::*;

pub(super) struct Command {
    pub(super) argv: Vec<String>,
    pub(super) user: Option<String>,
    pub(super) start_ns: u64,
    /// The cwd at exec, as the process sees it (relative upload paths).
    pub(super) cwd: Option<String>,
    /// Output shown while it ran (see `command_output.rs`).
    pub(super) output: Vec<u8>,
}

pub(super) struct Conn {
    pub(super) pid: u32,
    pub(super) start_ns: u64,
    pub(super) existing: bool,
    pub(super) client: Option<SocketAddr>,
    pub(super) server_port: u16,
    pub(super) user: Option<String>,
    /// `user` came from sshd's own log ("Accepted ... for USER").
    pub(super) user_from_log: bool,
    /// The user's login shell (the cast header's `env.SHELL`).
    pub(super) login_shell: Option<String>,
    /// The connection's filesystem root (a chroot or container, or the host).
    pub(super) root: ProcessRoot,
    pub(super) tty: Option<String>,
    pub(super) established: bool,
    /// sshd logged a successful authentication; the session opens with the first
    /// pty, command or data (so its tty is known).
    pub(super) accepted: bool,
    pub(super) auth_failures: u32,
    pub(super) preauth_user: Option<String>,
    pub(super) sshd_pids: HashSet<u32>,
    /// The program sshd started for the user, and what counts as it.
    pub(super) program: UserProgram,
    pub(super) commands: HashMap<u32, Command>,
    /// An adopted session's unrecorded interval: when the previous segment's
    /// last output was written, and why nothing followed.
    pub(super) gap: Option<(DateTime<Utc>, &'static str)>,
    /// `command_finish` records held while their output settles.
    pub(super) finishing: VecDeque<command_output::Finishing>,
    /// Command records from before the connection became a session (PAM's
    /// helpers run before the user's program): written after connection_established.
    pub(super) early: Vec<(u64, SessionEvent, Option<String>)>,
    pub(super) uploads: HashMap<(u32, i32), String>,
    /// (pid, fd) of the pty master sshd reads the session's output from.
    pub(super) pty_master: Option<(u32, u32)>,
    /// Output not yet reported as terminal_update (only kept when wanted).
    pub(super) pending_text: Vec<u8>,
    /// Cast bytes dropped because they could not be written (reported at tick).
    pub(super) storage_dropped: u64,
    /// The connection's sshd exited at this time; closed at the next tick.
    pub(super) closing_ns: Option<u64>,
    pub(super) rec: Option<Recording>,
    pub(super) previous: Option<ResumeState>,
    pub(super) last_activity_ns: u64,
    pub(super) last_command: Option<String>,
    pub(super) recent_logs: VecDeque<String>,
    pub(super) counters_seen: ConnCounters,
}

impl Conn {
    pub(super) fn new(pid: u32, start_ns: u64) -> Self {
        let endpoints = procfs::tcp_endpoints(pid);
        Conn {
            pid,
            start_ns,
            existing: false,
            client: endpoints.map(|(_, peer)| peer),
            server_port: endpoints.map(|(local, _)| local.port()).unwrap_or(0),
            user: None,
            user_from_log: false,
            login_shell: None,
            root: ProcessRoot::of(pid),
            tty: None,
            established: false,
            accepted: false,
            auth_failures: 0,
            preauth_user: None,
            sshd_pids: HashSet::from([pid]),
            program: UserProgram::default(),
            commands: HashMap::new(),
            finishing: VecDeque::new(),
            gap: None,
            early: Vec::new(),
            uploads: HashMap::new(),
            pty_master: None,
            pending_text: Vec::new(),
            storage_dropped: 0,
            closing_ns: None,
            rec: None,
            previous: None,
            last_activity_ns: start_ns,
            last_command: None,
            recent_logs: VecDeque::new(),
            counters_seen: ConnCounters::default(),
        }
    }
}
