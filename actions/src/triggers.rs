//! Triggers: which event types start an event's actions.

use super::error::Diag;
use super::fields::as_strings;
use super::yaml::Node;

/// Every event type a trigger may name (`"*"` and `all` mean all of them).
pub const TRIGGERS: &[&str] = &[
    "connection_established",
    "connection_auth_failed",
    "connection_close",
    "command_start",
    "command_finish",
    "file_upload",
    "terminal_update",
    "data_loss",
    "terminal_injection",
    "segment_start",
    "outbound_connection_start",
    "outbound_connection_end",
    "config_error",
    "session_killed",
    "recording_gap",
    "store_error",
    "recording_deleted",
    "chain_head",
];

/// Types `"*"` does not include: they must be named (`chain_head` comes
/// every minute, for the witness; a catch-all chat action must not get it).
const NAMED_ONLY: &[&str] = &["chain_head"];

/// The event types one event reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triggers {
    All,
    Only(Vec<&'static str>),
}

impl Triggers {
    pub fn contains(&self, event_type: &str) -> bool {
        match self {
            Triggers::All => !NAMED_ONLY.contains(&event_type),
            Triggers::Only(v) => v.contains(&event_type),
        }
    }

    /// Parse a trigger name or a list of them.
    pub fn parse(d: &mut Diag, node: &Node) -> Option<Triggers> {
        let names = as_strings(d, node, "triggers")?;
        let mut out = Vec::new();
        let mut ok = true;
        for (name, pos) in names {
            if name == "*" || name == "all" {
                return Some(Triggers::All);
            }
            match TRIGGERS.iter().find(|t| **t == name) {
                Some(t) if !out.contains(t) => out.push(*t),
                Some(_) => {}
                None => {
                    ok = false;
                    d.err(
                        pos,
                        format!(
                            "unknown trigger `{name}` (valid: {}, or \"*\" for all)",
                            TRIGGERS.join(", ")
                        ),
                    );
                }
            }
        }
        if ok && out.is_empty() {
            d.err(node.pos, "`triggers`: at least one trigger is needed");
            return None;
        }
        ok.then_some(Triggers::Only(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_leaves_out_what_must_be_named() {
        assert!(Triggers::All.contains("connection_close"));
        assert!(Triggers::All.contains("recording_deleted"));
        assert!(!Triggers::All.contains("chain_head"));
        assert!(Triggers::Only(vec!["chain_head"]).contains("chain_head"));
    }
}
