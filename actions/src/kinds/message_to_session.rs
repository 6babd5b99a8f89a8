//! `message_to_session_action`: writes a message into the user's terminal,
//! i.e. to the session's tty device (`tty` of the event, e.g. `/dev/pts/3`),
//! opened with `O_WRONLY | O_NOCTTY | O_NONBLOCK`. Events without a tty are
//! skipped; only character devices under `/dev/` are written to.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

use anyhow::{bail, Context as _};

use crate::context::Delivery;
use crate::error::Diag;
use crate::fields::Fields;
use crate::template::Template;
use crate::worker::{Action, Handled};

#[derive(Debug, Clone)]
pub struct Config {
    pub message: Template,
}

impl Config {
    pub fn parse(f: &mut Fields<'_>, d: &mut Diag) -> Option<Config> {
        let t = super::template(f, d, "message")?;
        match t {
            Some(message) => Some(Config { message }),
            None => {
                d.err(
                    f.pos(),
                    "message_to_session_action: missing required option `message`",
                );
                None
            }
        }
    }
}

pub struct MessageToSession {
    cfg: Config,
}

impl MessageToSession {
    pub fn new(cfg: Config) -> MessageToSession {
        MessageToSession { cfg }
    }
}

impl Action for MessageToSession {
    fn handle(&mut self, d: &Delivery) -> anyhow::Result<Handled> {
        let Some(tty) = d.tty().filter(|t| !t.is_empty()) else {
            return Ok(Handled::Skipped);
        };
        if !tty.starts_with("/dev/") || tty.contains("/../") {
            bail!("refusing to write to `{tty}`: not a device path");
        }
        let mut file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(tty)
            .with_context(|| format!("opening {tty}"))?;
        let meta = file.metadata().with_context(|| format!("stat {tty}"))?;
        if !meta.file_type().is_char_device() {
            bail!("refusing to write to `{tty}`: not a character device");
        }
        let mut msg = self.cfg.message.render(d);
        if !msg.ends_with('\n') {
            msg.push('\n');
        }
        file.write_all(msg.as_bytes())
            .with_context(|| format!("writing to {tty}"))?;
        Ok(Handled::Sent)
    }
}
