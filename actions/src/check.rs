//! `sshlog config check`: validate a configuration directory without
//! starting anything.

use std::fmt;
use std::path::{Path, PathBuf};

use super::config::load_dir;
use super::error::ConfigErrors;
use super::kinds::ParseCx;

/// What a valid configuration directory holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The files read, sorted.
    pub files: Vec<PathBuf>,
    /// Event names, in load order.
    pub events: Vec<String>,
    /// Number of actions over all events.
    pub actions: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration OK: {} file(s), {} event(s), {} action(s)",
            self.files.len(),
            self.events.len(),
            self.actions
        )
    }
}

/// Validate every file of `dir`; errors display as `file:line:col: message`,
/// one per line.
pub fn check_dir(dir: &Path, plugins_dir: &Path) -> Result<Summary, ConfigErrors> {
    let loaded = load_dir(
        dir,
        ParseCx {
            plugins_dir,
            event_log: None,
            python: None,
        },
    )?;
    if !loaded.errors.0.is_empty() {
        return Err(loaded.errors);
    }
    let (files, events) = (loaded.files, loaded.events);
    Ok(Summary {
        files,
        actions: events.iter().map(|e| e.actions.len()).sum(),
        events: events.iter().map(|e| e.name.to_string()).collect(),
    })
}
