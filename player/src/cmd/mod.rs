//! One module per subcommand of `sshlog` (as asciinema's `src/cmd/`): each
//! parses nothing itself (the arguments are [`crate::cli`]'s) and has a `run`
//! that [`crate::app`] calls. The engines they use live beside them: the
//! seekable cast ([`crate::seekable`]), terminal emulation ([`crate::render`]),
//! search ([`crate::search`]) and the web console ([`crate::web`]).

pub mod attach;
pub mod config_check;
pub mod events;
pub mod export;
pub mod follow;
pub mod index;
pub mod kill;
pub mod play;
pub mod purge;
pub mod sessions;
pub mod stats;
pub mod verify;
pub mod watch;
