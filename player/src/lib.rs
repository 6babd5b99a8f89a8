//! `sshlog` (admin CLI) and `sshlog-play` (player) for recordings made by
//! sshlogd.
//!
//! Modules, one job each:
//! - [`cli`]: the command-line definitions; [`app`]: the binaries' entry
//!   points and error reporting;
//! - [`cmd`]: one module per subcommand (sessions, watch, stats, play, export,
//!   index, follow, attach, verify, config check);
//! - engines: [`seekable`] (a cast opened for random access: the screen at any
//!   time), [`interactive`] (playback with keys), [`render`] (terminal
//!   emulation and transcripts), [`search`] (`sshlog search` over the index),
//!   [`web`] (the web console);
//! - [`control`]: the client of sshlogd's control socket; [`locate`]: session
//!   id → files; [`table`], [`style`], [`timefmt`], [`progress`]: output
//!   formatting, time syntax and progress bars.

pub mod app;
pub mod cli;
pub mod cmd;
pub mod control;
pub mod interactive;
pub mod locate;
pub mod progress;
pub mod render;
pub mod search;
pub mod seekable;
pub mod style;
pub mod table;
pub mod timefmt;
pub mod web;
