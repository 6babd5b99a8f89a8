//! `sshlog` (admin CLI) and `sshlog-play` (player) for recordings made by
//! sshlogd.
//!
//! Modules, one job each:
//! - [`cli`]: the command-line definitions;
//! - [`app`]: the binaries' entry points and error reporting;
//! - [`control`]: the client of sshlogd's control socket;
//! - [`sessions`], [`watch`], [`stats`]: the daemon subcommands;
//! - [`play`]: timed playback of casts, [`locate`]: session id → file;
//! - [`interactive`]: playback with keys, [`timeline`]: seeking,
//!   [`render`]: terminal emulation and transcripts, [`export`]: `sshlog export`;
//! - [`search`]: `sshlog search`, [`index_cmd`]: `sshlog index`;
//! - [`table`], [`style`], [`timefmt`]: output formatting and time syntax;
//! - [`web`]: the web console (`sshlog web`).

pub mod app;
pub mod attach;
pub mod cli;
pub mod config_check;
pub mod control;
pub mod export;
pub mod follow;
pub mod index_cmd;
pub mod interactive;
pub mod locate;
pub mod play;
pub mod render;
pub mod search;
pub mod sessions;
pub mod stats;
pub mod style;
pub mod table;
pub mod timefmt;
pub mod timeline;
pub mod verify;
pub mod watch;
pub mod web;
