//! Command-line definitions (clap derive) for `sshlog` and `sshlog-play`.
//!
//! The `play` arguments are defined once ([`PlayArgs`]) and used by both
//! `sshlog play` and `sshlog-play`.

use crate::timefmt::{parse_speed, parse_time_arg, parse_time_limit};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Default control socket of sshlogd.
pub const DEFAULT_SOCKET: &str = "/run/sshlog/sshlogd.sock";
/// Default log directory of sshlogd.
pub const DEFAULT_LOG_DIR: &str = "/var/log/sshlog";

const SSHLOG_AFTER_HELP: &str = "\
EXAMPLES:
  sshlog sessions                       who is logged in over SSH right now
  sshlog watch --type command_start     follow every command run in any session
  sshlog watch --user alice --json      alice's events as JSON, one per line
  sshlog play 018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e --speed 4
  sshlog play /var/log/sshlog/sessions/2024/05/01/ID.cast.zst --from 1:30

ENVIRONMENT:
  SSHLOG_SOCKET    control socket (like --socket)
  SSHLOG_LOG_DIR   log directory (like --log-dir)
  NO_COLOR         disables colours (colours are only used on a terminal anyway)

EXIT STATUS:
  0 on success, 1 on any error (the reason is printed as one line on stderr).";

/// Inspect and replay SSH sessions recorded by sshlogd.
#[derive(Debug, Parser)]
#[command(
    name = "sshlog",
    version,
    about = "Inspect and replay SSH sessions recorded by sshlogd",
    long_about = "Inspect and replay SSH sessions recorded by sshlogd.\n\n\
        `sshlog sessions`, `sshlog watch` and `sshlog stats` ask the running daemon over \
        its control socket (a Unix socket, by default /run/sshlog/sshlogd.sock; root or \
        members of the `sshlog` group may connect). `sshlog play` reads recordings \
        (asciicast v1/v2/v3, plain or zstd-compressed) straight from disk and needs no \
        daemon.",
    after_help = SSHLOG_AFTER_HELP
)]
pub struct SshlogCli {
    /// Control socket of sshlogd.
    #[arg(
        long,
        global = true,
        display_order = 100,
        value_name = "PATH",
        env = "SSHLOG_SOCKET",
        default_value = DEFAULT_SOCKET
    )]
    pub socket: PathBuf,

    /// Log directory of sshlogd (where session ids are looked up).
    #[arg(
        long,
        global = true,
        display_order = 101,
        value_name = "DIR",
        env = "SSHLOG_LOG_DIR",
        default_value = DEFAULT_LOG_DIR
    )]
    pub log_dir: PathBuf,

    /// JSON instead of text, for the commands that have it (sessions,
    /// stats, watch, search, events).
    #[arg(long, global = true, display_order = 102)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl SshlogCli {
    /// Hands the global `--json` to the command.
    pub fn apply_json(&mut self) {
        if !self.json {
            return;
        }
        match &mut self.command {
            Command::Sessions(a) => a.json = true,
            Command::Stats(a) => a.json = true,
            Command::Watch(a) => a.json = true,
            Command::Search(a) => a.json = true,
            Command::Events(a) => a.json = true,
            _ => {}
        }
    }
}

/// The subcommands of `sshlog`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the live SSH sessions.
    #[command(
        long_about = "List the live SSH sessions known to sshlogd.\n\n\
            One row per session: the user, how long ago the session last did something \
            (output, input or a command), the last command run, when the session \
            started (local time), the client address, the terminal and the pid of the \
            session's sshd process. A `*` after the user marks a login that was already \
            open when sshlogd started (its beginning was not recorded).",
        after_help = "EXAMPLES:\n  sshlog sessions\n  sshlog sessions --json | jq -r '.[].user'"
    )]
    Sessions(SessionsArgs),

    /// Print the daemon's events as they happen.
    #[command(
        long_about = "Print sshlogd's events as they happen, one line per event, in the \
            format of event.log (local time, type, description). Runs until interrupted \
            (Ctrl+C, exit status 0) or until the daemon goes away (exit status 1).\n\n\
            Event types: connection_established, connection_auth_failed, \
            connection_close, command_start, command_finish, file_upload, \
            terminal_update, data_loss, segment_start.",
        after_help = "EXAMPLES:\n  sshlog watch\n  sshlog watch --type command_start --type file_upload\n  \
            sshlog watch --user alice --type connection_established,connection_close\n  \
            sshlog watch --json | jq -c 'select(.type == \"command_start\") | .argv'"
    )]
    Watch(WatchArgs),

    /// Print the daemon's counters.
    #[command(
        long_about = "Print sshlogd's counters: kernel events processed, bytes recorded, \
            data lost because a buffer was full, write errors, live sessions, ...",
        after_help = "EXAMPLES:\n  sshlog stats\n  sshlog stats --json | jq .bytes_dropped"
    )]
    Stats(StatsArgs),

    /// Replay a recorded session in the terminal.
    #[command(long_about = PLAY_LONG_ABOUT, after_help = PLAY_AFTER_HELP)]
    Play(PlayArgs),

    /// Export a recording as asciicast v2/v3 or as a text transcript.
    #[command(long_about = crate::cmd::export::LONG_ABOUT, after_help = crate::cmd::export::AFTER_HELP)]
    Export(crate::cmd::export::ExportArgs),

    /// Find recorded sessions by user, client, time, command, exit code or output.
    #[command(long_about = crate::search::LONG_ABOUT, after_help = crate::search::AFTER_HELP)]
    Search(crate::search::SearchArgs),

    /// Print the events hosts sent to the fleet store, across hosts.
    #[command(long_about = crate::cmd::events::LONG_ABOUT, after_help = crate::cmd::events::AFTER_HELP)]
    Events(crate::cmd::events::EventsArgs),

    /// Build or refresh the index of recordings used by `sshlog search`.
    #[command(long_about = crate::cmd::index::LONG_ABOUT, after_help = crate::cmd::index::AFTER_HELP)]
    Index(crate::cmd::index::IndexArgs),

    /// Follow a live session's terminal, read-only.
    #[command(
        long_about = "Follow a live session's terminal, read-only.\n\n\
            sshlog first draws the session's current screen (rebuilt from its recording \
            so far), then copies its output as it happens, until the session ends or \
            you press Ctrl+C. TARGET is the session's tty (`pts/3`, `/dev/pts/3` or \
            `3`), its session id, or `pid:N` with the sshd pid shown by `sshlog \
            sessions`.",
        after_help = "EXAMPLES:\n  sshlog follow pts/3\n  sshlog follow 018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e"
    )]
    Follow(TargetArgs),

    /// Attach to a live session: follow it and, if allowed, type into it.
    #[command(
        long_about = "Attach to a live session: like `follow`, and your keystrokes are \
            typed into the session when sshlogd's settings allow it (`allow_injection: \
            true`; off by default, then attach stays read-only and says so). Every \
            injection is recorded as a terminal_injection event naming your user. \
            Ctrl+Q detaches.",
        after_help = "EXAMPLES:\n  sshlog attach pts/3"
    )]
    Attach(AttachArgs),

    /// End a live session.
    #[command(
        long_about = "End a live SSH session: sshlogd stops the session's sshd, the user is             logged out and the recording is closed as for any logout. Only when sshlogd's             settings allow it (`allow_kill: true`; off by default); only root and members             of the `sshlog` group can reach the control socket at all. Every kill is             recorded as a session_killed event naming your user. TARGET is as for             `follow`.",
        after_help = "EXAMPLES:
  sshlog kill pts/3
  sshlog kill pid:1352"
    )]
    Kill(TargetArgs),

    /// Delete recordings, leaving signed tombstones (a deletion request).
    #[command(
        long_about = "Delete finished recordings: the sessions named by id, or those of \
            --user that started before --before (either alone works too). sshlogd does \
            the deletion (root only): for each recording it first appends a signed \
            tombstone to LOG_DIR/tombstones.jsonl (what, when, why), then removes the \
            cast, the sidecar and the search index entry, and emits a recording_deleted \
            event (event log, actions). `sshlog verify` follows the chain across \
            tombstones. With a fleet store the recordings are removed there too. \
            Recordings still being written cannot be purged; a purge that names one \
            deletes nothing.",
        after_help = "EXAMPLES:\n  sshlog purge 01a24c50-33a7-7c13-9f94-a85e712167d6 --reason 'GDPR request 4711'\n  \
            sshlog purge --user alice --before 2026-01-01 --reason 'left the company'"
    )]
    Purge(PurgeArgs),

    /// Prove that no recording was edited, deleted, reordered or rewritten.
    #[command(
        long_about = "Check the tamper-evidence seals of every recording under DIR (default: \
            the log directory). Each finished recording's sidecar ends with a seal: \
            SHA-256 hashes of its cast and sidecar, numbered, chained to the recording \
            sealed before it and signed with the host's Ed25519 key. Deleted recordings \
            (retention, purge) leave signed tombstones that keep the chain whole.\n\n\
            Each finding is one line: MODIFIED (a file changed or was removed), DAMAGED \
            (frames of a cast that no longer decode, with their time range), MISSING (a \
            recording gone without a tombstone), REORDERED (seals out of order, or a forked \
            chain), TRUNCATED (the chain ends before its signed head or a witnessed head), \
            REWRITTEN (a witnessed seal was replaced), BAD-SIGNATURE, OTHER-KEY (signed, \
            but not by --key) and UNSIGNED (with --key). UNSEALED recordings are still \
            open or were cut off by a crash; they are listed, not counted as problems.\n\n\
            --key proves which host wrote each recording: give the public key you copied \
            off the host (`sshlogd --print-seal-key`). --witness compares the chain with \
            the heads sshlogd sent off the host (chain_head events: syslog, the fleet \
            store), which catches a history rewritten by someone who holds the host's key. \
            With --store, each host's chain in the fleet store is checked (its recordings \
            are downloaded into a temporary directory, one host at a time; every line \
            names the host) against the heads the store witnessed.\n\n\
            Exit status 0 when nothing was found, 1 otherwise.",
        after_help = "EXAMPLES:\n  sshlog verify --key /srv/audit/web-1.pub\n  \
            sshlog verify --key /srv/audit/web-1.pub --witness /var/log/remote/web-1.log\n  \
            sshlog verify /backup/sshlog\n  \
            sshlog verify --store 's3://recordings/fleet?endpoint=https://s3.example.org' --host web-1"
    )]
    Verify(VerifyArgs),

    /// Work with sshlogd's YAML action configuration.
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Serve the web console (off unless enabled; see docs/api.md).
    #[command(
        long_about = "Serve the web console: live sessions, events, search and replay in a \
            browser. It is off by default: it starts only with `enabled: true` in its \
            settings file (--config, default /etc/sshlog/web.yaml) or SSHLOG_ENABLE_WEB=1, \
            and only with a `password_hash` made by `sshlog web hash-password`.",
        after_help = "EXAMPLES:\n  sshlog web hash-password\n  SSHLOG_ENABLE_WEB=1 sshlog web --config /etc/sshlog/web.yaml"
    )]
    Web(crate::web::WebArgs),
}

/// `sshlog config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate every YAML file of the action configuration.
    #[command(
        long_about = "Validate every *.yaml / *.yml file of the action configuration \
            directory (default /etc/sshlog/conf.d) exactly as sshlogd does when it \
            starts and on SIGHUP. Each problem is printed as `file:line:col: message`; \
            the exit status is 1 if there is any.",
        after_help = "EXAMPLES:\n  sshlog config check\n  sshlog config check ./conf.d --plugins-dir ./plugins"
    )]
    Check(ConfigCheckArgs),
}

/// Arguments of `sshlog config check`.
#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// The configuration directory.
    #[arg(
        value_name = "DIR",
        env = "SSHLOG_CONFIG_DIR",
        default_value = "/etc/sshlog/conf.d"
    )]
    pub dir: PathBuf,
    /// Where `plugin_action` executables live.
    #[arg(
        long,
        value_name = "DIR",
        env = "SSHLOG_PLUGINS_DIR",
        default_value = "/etc/sshlog/plugins"
    )]
    pub plugins_dir: PathBuf,
}

/// Arguments of `sshlog verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The log directory to check (default: --log-dir).
    #[arg(value_name = "DIR", conflicts_with = "store")]
    pub dir: Option<PathBuf>,

    /// Check the recordings in the fleet store instead (see `sshlog search --store`).
    #[arg(long, value_name = "URL", env = "SSHLOG_STORE")]
    pub store: Option<String>,

    /// With --store: only this host (default: every host in the store);
    /// with --witness: the host whose heads to compare.
    #[arg(long, value_name = "HOST_ID")]
    pub host: Option<String>,

    /// The host's public seal key (`sshlogd --print-seal-key`), as a file or
    /// the key itself: every seal, head and tombstone must be signed by it.
    #[arg(long, value_name = "PUB")]
    pub key: Option<String>,

    /// Chain heads seen off the host: a file (syslog, event log, a copy of
    /// the store's witness objects) or a fleet store URL. Repeatable.
    #[arg(long, value_name = "FILE|URL")]
    pub witness: Vec<String>,

    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Arguments of `sshlog purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Session ids to delete.
    #[arg(value_name = "SESSION_ID")]
    pub ids: Vec<uuid::Uuid>,

    /// Delete this user's recordings (with --before: only older ones).
    #[arg(long, value_name = "USER", conflicts_with = "ids")]
    pub user: Option<String>,

    /// Delete recordings that started before this time (2026-01-01, 90d, RFC 3339).
    #[arg(long, value_name = "TIME", conflicts_with = "ids")]
    pub before: Option<String>,

    /// Why (a ticket, a request); kept in every tombstone.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

/// Arguments of `sshlog follow` and `sshlog attach`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The session: tty (`pts/3`), session id, or `pid:SSHD_PID`.
    #[arg(value_name = "TARGET")]
    pub target: String,
}

/// Arguments of `sshlog attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Never type into the session, even when sshlogd allows it.
    #[arg(long, short = 'r')]
    pub readonly: bool,
}

/// Arguments of `sshlog sessions`.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Print the daemon's answer as a JSON array instead of a table
    /// (the global `--json`).
    #[arg(skip)]
    pub json: bool,
}

/// Arguments of `sshlog stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print the counters as a JSON object (the global `--json`).
    #[arg(skip)]
    pub json: bool,
}

/// Arguments of `sshlog watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only events of this user.
    #[arg(long, short = 'u', value_name = "USER")]
    pub user: Option<String>,

    /// Only events of this type (repeat or separate with commas for several).
    #[arg(long = "type", short = 't', value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,

    /// Print each event's record as one JSON object per line (the global
    /// `--json`).
    #[arg(skip)]
    pub json: bool,
}

const PLAY_LONG_ABOUT: &str = "Replay a recorded session in the terminal.\n\n\
    Writes the recorded terminal output to stdout, byte for byte, with the recorded \
    timing. FILE is a `.cast` or `.cast.zst` file (asciicast v1, v2 or v3), or the id \
    of a session (a UUID), which is looked up as \
    LOG_DIR/sessions/YYYY/MM/DD/ID.cast.zst. Recordings still being written play up \
    to their last complete frame.\n\n\
    On a terminal (stdin and stdout) playback is interactive: the recording is drawn \
    through a terminal emulator in the alternate screen, with a status line, and the \
    keys below pause, step, change speed, seek and jump between commands; seeking \
    shows the exact screen of that moment. Elsewhere, or with --no-keys, the recorded \
    bytes are written unchanged.\n\n\
    TIME values are seconds (`90`, `2.5`), [[H:]M:]S (`1:30`, `1:02:03`) or units \
    (`1m30s`, `2h`, `500ms`), measured from the start of the recording.";

const PLAY_AFTER_HELP: &str = "\
EXAMPLES:
  sshlog play 018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e
  sshlog play session.cast.zst --speed 2 --idle-time-limit 1
  sshlog play session.cast.zst --from 1:30 --to 2m
  sshlog-play demo.cast
  sshlog-play demo.cast --no-keys > output.bin

KEYS (when stdin and stdout are a terminal):
  space    pause / resume            .        next output while paused
  + / -    speed x2 / /2             q, ^C    quit
  ← / →    seek 5 s back / forward
  [ / ]    previous / next command (marker)";

/// Arguments of `sshlog play` and `sshlog-play`.
#[derive(Debug, Clone, Args)]
pub struct PlayArgs {
    /// A `.cast` / `.cast.zst` file, or a session id (UUID).
    #[arg(value_name = "FILE")]
    pub file: String,

    /// Playback speed factor (2 = twice as fast, 0.5 = half speed).
    #[arg(long, short = 's', value_name = "X", default_value = "1", value_parser = parse_speed)]
    pub speed: f64,

    /// Cap pauses longer than SECS to SECS (default: the recording's own
    /// `idle_time_limit`, if any).
    #[arg(long, short = 'i', value_name = "SECS", value_parser = parse_time_limit)]
    pub idle_time_limit: Option<Duration>,

    /// Start playback at TIME; earlier output is skipped.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub from: Option<Duration>,

    /// Stop playback at TIME.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub to: Option<Duration>,

    /// No keyboard control: write the recorded bytes as they are, as when
    /// stdin or stdout is not a terminal.
    #[arg(long)]
    pub no_keys: bool,

    /// Fetch the session (by id) from the fleet store (see `sshlog search --store`).
    #[arg(long, value_name = "URL", env = "SSHLOG_STORE")]
    pub store: Option<String>,
}

/// `sshlog-play`: the same as `sshlog play`.
#[derive(Debug, Parser)]
#[command(
    name = "sshlog-play",
    version,
    about = "Replay a recorded SSH session in the terminal (same as `sshlog play`)",
    long_about = PLAY_LONG_ABOUT,
    after_help = PLAY_AFTER_HELP
)]
pub struct PlayCli {
    /// Log directory of sshlogd (where session ids are looked up).
    #[arg(
        long,
        value_name = "DIR",
        env = "SSHLOG_LOG_DIR",
        default_value = DEFAULT_LOG_DIR
    )]
    pub log_dir: PathBuf,

    #[command(flatten)]
    pub play: PlayArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        SshlogCli::command().debug_assert();
        PlayCli::command().debug_assert();
    }

    #[test]
    fn play_args_parse_the_same_in_both_binaries() {
        let a = SshlogCli::try_parse_from([
            "sshlog", "play", "x.cast", "--speed", "2", "--from", "1:30", "-i", "0.5",
        ])
        .expect("parses");
        let Command::Play(a) = a.command else {
            panic!("not play")
        };
        let b = PlayCli::try_parse_from([
            "sshlog-play",
            "x.cast",
            "--speed",
            "2",
            "--from",
            "1:30",
            "-i",
            "0.5",
        ])
        .expect("parses")
        .play;
        assert_eq!(a.file, b.file);
        assert_eq!(a.speed, 2.0);
        assert_eq!(a.from, Some(Duration::from_secs(90)));
        assert_eq!(a.from, b.from);
        assert_eq!(a.idle_time_limit, Some(Duration::from_millis(500)));
        assert_eq!(a.idle_time_limit, b.idle_time_limit);
    }

    #[test]
    fn watch_types_accept_repeats_and_commas() {
        let cli = SshlogCli::try_parse_from([
            "sshlog",
            "watch",
            "--type",
            "command_start,command_finish",
            "-t",
            "file_upload",
        ])
        .expect("parses");
        let Command::Watch(w) = cli.command else {
            panic!("not watch")
        };
        assert_eq!(w.types, ["command_start", "command_finish", "file_upload"]);
    }

    #[test]
    fn bad_speed_is_rejected() {
        assert!(SshlogCli::try_parse_from(["sshlog", "play", "x", "--speed", "0"]).is_err());
        assert!(SshlogCli::try_parse_from(["sshlog", "play", "x", "--speed", "-1"]).is_err());
        assert!(SshlogCli::try_parse_from(["sshlog", "play", "x", "--from", "soon"]).is_err());
    }
}
