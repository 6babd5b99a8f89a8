//! sshlogd's own settings: defaults, overridden by the YAML file
//! (`/etc/sshlog/sshlogd.yaml` or `--config`), overridden by flags and env vars.
//! Read with the same YAML parser as the actions (`sshlog_actions::yaml`), so
//! every error names its line and column.

use anyhow::{Context, Result};
use serde::Deserialize;
use sshlog_actions::yaml::{self, typed::from_text};
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "/etc/sshlog/sshlogd.yaml";
pub const DEFAULT_LOG_DIR: &str = "/var/log/sshlog";
pub const DEFAULT_SOCKET: &str = "/run/sshlog/sshlogd.sock";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where recordings, the event log and live state go.
    pub log_dir: PathBuf,
    /// The control socket `sshlog` talks to.
    pub socket: PathBuf,
    /// Size of the kernel ring buffer in MiB (rounded up to a power of two).
    pub ring_buffer_mb: u32,
    /// Real-time (SCHED_RR) priority the thread draining the ring buffer is
    /// raised to while it is behind, so capture keeps up when sessions saturate
    /// the CPU; 0 = normal scheduling always.
    pub capture_priority: u8,
    /// Nice value of that thread while it keeps up (-20..=19; a positive value
    /// lets the recorded sessions go first, the ring buffer holds the rest).
    pub capture_nice: i8,
    /// Keep the capture thread real-time all the time, not only when behind.
    pub capture_always_realtime: bool,
    /// Record keystrokes ("i" events) too. Off: passwords typed at prompts would be kept.
    pub capture_input: bool,
    /// Let `sshlog attach` type into live sessions (every injection is logged).
    pub allow_injection: bool,
    /// Let `sshlog kill` end live sessions (every kill is logged).
    pub allow_kill: bool,
    /// A cast frame is written at least this often (bounds loss on a crash).
    pub frame_seconds: f64,
    /// ... or when this many KiB of cast text are buffered.
    pub frame_kib: usize,
    /// Output read within this many milliseconds of the first read of a run
    /// becomes one cast event (same bytes, one line instead of one per pty
    /// read); 0 = a line per read.
    pub coalesce_ms: u64,
    pub event_log: EventLogSettings,
    pub outbound: OutboundSettings,
    /// YAML action configuration (events / triggers / filters / actions).
    pub config_dir: PathBuf,
    /// Executables that `plugin_action` may start.
    pub plugins_dir: PathBuf,
    /// bpffs directory where the kernel half's maps and links are pinned.
    pub bpf_dir: PathBuf,
    /// Keep recording in the kernel while sshlogd restarts or is upgraded
    /// (the next sshlogd takes over the ring buffer); `sshlogd --unload`
    /// removes the kernel half.
    pub handover: bool,
    /// Upload sealed recordings to this S3-compatible store (docs/fleet.md).
    pub store: Option<sshlog_fleet::StoreSettings>,
    /// The host's private seal key (made at first start; the public key is
    /// written beside it as `.pub`). Default: `seal.key` beside the
    /// settings file.
    pub seal_key: Option<PathBuf>,
    /// Name in the chain heads sent to the witness (default: the fleet
    /// store's host id, else the host name).
    pub witness_host: Option<String>,
    /// Deleting old recordings (docs/security.md); none by default.
    pub retention: Option<crate::retention::Policy>,
}

/// Outbound SSH connections made from this host.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundSettings {
    /// Connections to these destination ports are logged (any port for `ssh`).
    pub ports: Vec<u16>,
    /// Process names (comm) whose connections are not logged.
    pub ignore_processes: Vec<String>,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        OutboundSettings {
            ports: vec![22],
            ignore_processes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EventLogSettings {
    pub max_size_mb: u64,
    pub number_of_log_files: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            log_dir: DEFAULT_LOG_DIR.into(),
            socket: DEFAULT_SOCKET.into(),
            ring_buffer_mb: 64,
            capture_priority: 1,
            capture_nice: 0,
            capture_always_realtime: false,
            capture_input: false,
            allow_injection: false,
            allow_kill: false,
            frame_seconds: 1.0,
            frame_kib: 128,
            coalesce_ms: 5,
            event_log: EventLogSettings::default(),
            outbound: OutboundSettings::default(),
            config_dir: sshlog_actions::DEFAULT_CONFIG_DIR.into(),
            plugins_dir: sshlog_actions::DEFAULT_PLUGINS_DIR.into(),
            bpf_dir: crate::handover::DEFAULT_BPF_DIR.into(),
            handover: true,
            store: None,
            seal_key: None,
            witness_host: None,
            retention: None,
        }
    }
}

impl Default for EventLogSettings {
    fn default() -> Self {
        EventLogSettings {
            max_size_mb: 10,
            number_of_log_files: 5,
        }
    }
}

impl Settings {
    /// Reads `path`; a missing file is fine only when it is the default path.
    pub fn load(path: &Path, explicit: bool) -> Result<Settings> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).with_context(|| format!("{}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(Settings::default())
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn parse(text: &str) -> Result<Settings> {
        let s: Settings = from_text(text)?;
        if s.capture_priority > 99 {
            bail_at(
                text,
                "capture_priority",
                format!(
                    "capture_priority must be 0 (normal scheduling) or a real-time priority 1..=99, not {}",
                    s.capture_priority
                ),
            )?;
        }
        if !(-20..=19).contains(&s.capture_nice) {
            bail_at(
                text,
                "capture_nice",
                format!(
                    "capture_nice must be a nice value -20..=19, not {}",
                    s.capture_nice
                ),
            )?;
        }
        Ok(s)
    }
}

/// An error about the top-level setting `key`, at its line and column in
/// `text` when it can be found.
fn bail_at(text: &str, key: &str, msg: String) -> Result<()> {
    let at = yaml::parse(text)
        .ok()
        .flatten()
        .and_then(|n| match n.value {
            yaml::Value::Map(entries) => entries
                .into_iter()
                .find(|(k, _)| k.scalar_text() == key)
                .map(|(k, _)| k.pos),
            _ => None,
        });
    anyhow::bail!(match at {
        Some(p) => format!("line {} column {}: {msg}", p.line, p.col),
        None => msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_settings_file_reads_as_the_defaults() {
        let text = include_str!("../../config/sshlogd.yaml");
        assert_eq!(
            Settings::parse(text).expect("config/sshlogd.yaml"),
            Settings::default()
        );
    }

    #[test]
    fn retention_reads_sizes_and_users_and_names_bad_values() {
        let s = Settings::parse(
            "retention:\n  max_age_days: 90\n  max_total_size: 50GiB\n  min_free_percent: 10\n  users:\n    alice: {max_age_days: 365}\n",
        )
        .unwrap();
        let r = s.retention.expect("retention");
        assert_eq!(r.max_age_days, Some(90));
        assert_eq!(r.max_total_size, Some(crate::retention::Size(50 << 30)));
        assert_eq!(r.users["alice"].max_age_days, Some(365));
        assert_eq!(r.check_seconds, 60);
        let err = Settings::parse("retention:\n  max_total_size: 5 parsecs\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 2 column 19: not a size"), "{err}");
        let err = Settings::parse("retention:\n  max_age: 5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `max_age`"), "{err}");
    }

    #[test]
    fn parses_partial_files_and_rejects_unknown_keys() {
        let s = Settings::parse("log_dir: /tmp/x\nevent_log:\n  max_size_mb: 2\n").unwrap();
        assert_eq!(s.log_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.event_log.max_size_mb, 2);
        assert_eq!(s.event_log.number_of_log_files, 5);
        let err = Settings::parse("log_dri: /tmp\n").unwrap_err().to_string();
        assert!(err.contains("unknown field `log_dri`"), "{err}");
        assert!(err.starts_with("line 1 column 1: "), "{err}");
        assert!(Settings::load(Path::new("/nonexistent/sshlogd.yaml"), true).is_err());
        assert_eq!(
            Settings::parse("capture_priority: 0\n")
                .unwrap()
                .capture_priority,
            0
        );
        let err = Settings::parse("ring_buffer_mb: 8\ncapture_priority: 120\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 2 column 1: "), "{err}");
        assert!(err.contains("1..=99, not 120"), "{err}");
        let err = Settings::parse("capture_priority: 1\ncapture_nice: 20\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "line 2 column 1: capture_nice must be a nice value -20..=19, not 20"
        );
        assert_eq!(Settings::parse("").unwrap().capture_nice, 0);
        assert_eq!(
            Settings::load(Path::new("/nonexistent/sshlogd.yaml"), false).unwrap(),
            Settings::default()
        );
    }
}
