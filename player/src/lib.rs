//! `sshlog` (admin CLI) and `sshlog-play` (player) for recordings made by
//! sshlogd.
//!
//! Modules, one job each:
//! - [`cli`]: the command-line definitions;
//! - [`app`]: the binaries' entry points and error reporting;
//! - [`control`]: the client of sshlogd's control socket;
//! - [`sessions`], [`watch`], [`stats`]: the daemon subcommands;
//! - [`play`]: timed playback of casts, [`locate`]: session id → file;
//! - [`search`]: `sshlog search`, [`index_cmd`]: `sshlog index`;
//! - [`table`], [`style`], [`timefmt`]: output formatting and time syntax.

pub mod app;
pub mod attach;
pub mod cli;
pub mod control;
pub mod follow;
pub mod index_cmd;
pub mod locate;
pub mod play;
pub mod search;
pub mod sessions;
pub mod stats;
pub mod style;
pub mod table;
pub mod timefmt;
pub mod verify;
pub mod watch;
