//! Compatibility with the sshlog agent (the C++/Python daemon sshlogd
//! replaces): its event payload, its log line, its comparisons. Agent users'
//! configurations, plugins and integrations keep working; see
//! docs/migrating-from-sshlog-agent.md.

pub mod compare;
pub mod payload;
pub mod python;
pub mod text;

pub use payload::payload;
