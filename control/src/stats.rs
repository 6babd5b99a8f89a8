//! The daemon's counters, as `stats` serves them.
//!
//! [`Stats`] is flat on the wire (one `name: value` per counter, in this
//! order); the groups are flattened in.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Everything `sshlog stats` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    #[serde(flatten)]
    pub recording: RecordingStats,
    #[serde(flatten)]
    pub kernel: KernelTotals,
    /// Event-log lines that could not be written.
    pub event_log_errors: u64,
    pub live_sessions: u64,
    /// Why the log directory cannot be written to, while it cannot.
    pub storage_error: Option<String>,
    /// How the capture thread is scheduled (e.g. `nice 0 (SCHED_RR 1 when behind)`).
    pub capture_scheduling: String,
    /// How often the capture thread's priority was raised.
    pub capture_boosts: u64,
    /// Each action by its `event/action` label, in configuration order.
    pub actions: ActionReports,
    /// The parts of the action configuration that were not loaded, as
    /// `file:line:col: message` (everything else was).
    pub config_errors: Vec<String>,
    /// Uploads to the fleet store, when one is configured.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreStats>,
}

/// The uploader's counters (flat on the wire, each named `store_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStats {
    /// `s3://bucket/prefix at endpoint`.
    pub store: String,
    pub store_host_id: String,
    /// Sessions (and their bytes) sealed here and not yet acknowledged by the store.
    pub store_backlog_sessions: u64,
    pub store_backlog_bytes: u64,
    pub store_uploaded_sessions: u64,
    pub store_uploaded_bytes: u64,
    pub store_failures: u64,
    /// Why uploads fail, while they do.
    pub store_error: Option<String>,
}

/// Actions by `event/action` label, in configuration order.
pub type ActionReports = IndexMap<String, ActionReport>;

/// What the session tracker counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingStats {
    /// Records read from the ring buffer.
    pub kernel_events: u64,
    /// Records that could not be decoded.
    pub decode_errors: u64,
    pub bytes_recorded: u64,
    /// Output bytes known lost (kernel drops and write failures).
    pub bytes_dropped: u64,
    pub events_dropped: u64,
    pub sessions_recorded: u64,
    pub write_errors: u64,
}

/// The kernel's system-wide counters (per-CPU map `totals`, summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelTotals {
    /// Bytes the ring buffer had no room for.
    pub kernel_dropped_bytes: u64,
    /// Records the ring buffer had no room for.
    pub kernel_dropped_events: u64,
    /// Terminal bytes put into the ring buffer.
    pub kernel_captured_bytes: u64,
}

/// One action's deliveries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionStats {
    pub sent: u64,
    pub failed: u64,
    /// Events dropped because the action's queue was full.
    pub dropped: u64,
    /// Events its filters did not let through.
    pub skipped: u64,
}

/// One action in [`Stats::actions`]: its plugin and counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionReport {
    pub plugin: String,
    #[serde(flatten)]
    pub counters: ActionStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_flat_and_in_order() {
        let mut s = Stats {
            capture_scheduling: "normal".into(),
            ..Stats::default()
        };
        s.recording.kernel_events = 3;
        s.kernel.kernel_captured_bytes = 9;
        s.actions.insert(
            "all/log".into(),
            ActionReport {
                plugin: "eventlogfile_action".into(),
                counters: ActionStats {
                    sent: 2,
                    ..ActionStats::default()
                },
            },
        );
        let text = serde_json::to_string(&s).expect("encodes");
        assert!(
            text.starts_with(
                "{\"kernel_events\":3,\"decode_errors\":0,\"bytes_recorded\":0,\"bytes_dropped\":0,\
                 \"events_dropped\":0,\"sessions_recorded\":0,\"write_errors\":0,\
                 \"kernel_dropped_bytes\":0,\"kernel_dropped_events\":0,\"kernel_captured_bytes\":9,\
                 \"event_log_errors\":0,\"live_sessions\":0,\"storage_error\":null,"
            ),
            "{text}"
        );
        assert!(text.ends_with(
            "\"actions\":{\"all/log\":{\"plugin\":\"eventlogfile_action\",\"sent\":2,\"failed\":0,\"dropped\":0,\"skipped\":0}},\"config_errors\":[]}"
        ), "{text}");
        let back: Stats = serde_json::from_str(&text).expect("decodes");
        assert_eq!(back, s);
    }
}
