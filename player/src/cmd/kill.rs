//! `sshlog kill TARGET`: asks sshlogd to end a live session.

use crate::control;
use anyhow::Result;
use sshlog_control::{Ack, Request};
use std::io::Write;
use std::path::Path;

/// Runs `sshlog kill`.
pub fn run(socket: &Path, target: &str, out: &mut dyn Write) -> Result<()> {
    let req = Request::Kill {
        target: target.to_string(),
    };
    let Ack {} = control::request(socket, &req)?;
    writeln!(out, "sshlog: ended the session on {target}")?;
    Ok(())
}
