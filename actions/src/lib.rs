//! The actions engine: a directory of YAML files declares *events* — which
//! record types trigger them (`triggers`), conditions on the record and its
//! session (`filters`) and what to do (`actions`, each of a kind named by
//! `plugin:`). See `docs/config.md` for the reference.
//!
//! The daemon builds one [`ActionEngine`] with [`ActionEngine::load`], calls
//! [`ActionEngine::dispatch`] for every record (it never blocks: each action
//! runs on its own thread behind a bounded queue) and
//! [`ActionEngine::shutdown`] at exit. [`check_dir`] validates a directory
//! for `sshlog config check`.
//!
//! Its own crate, so that `sshlog config check` validates exactly what sshlogd
//! loads without the CLI depending on the recorder (aya, the eBPF object).
//! [`event_log`] is the rotating event log file, written by sshlogd and by the
//! `eventlogfile_action`.

pub mod agent;
pub mod check;
pub mod config;
pub mod context;
pub mod engine;
pub mod error;
pub mod event_log;
pub mod fields;
pub mod filters;
pub mod group;
pub mod kinds;
pub mod template;
pub mod triggers;
pub mod worker;
pub mod yaml;

pub use check::{check_dir, Summary};
pub use context::{Delivery, EventContext};
pub use engine::ActionEngine;
pub use error::{ConfigError, ConfigErrors};
pub use filters::FILTERS;
pub use kinds::KINDS;
pub use triggers::TRIGGERS;
pub use worker::ActionStats;

/// Default configuration directory.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/sshlog/conf.d";
/// Default directory of `plugin_action` executables.
pub const DEFAULT_PLUGINS_DIR: &str = "/etc/sshlog/plugins";
