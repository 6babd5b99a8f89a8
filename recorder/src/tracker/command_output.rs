//! Output attributed to the commands that produced it, for `command_finish`
//! (the agent's `stdout`; filters `command_output_contains[_regex]`).
//!
//! The recorder sees output when sshd reads the pty, not who wrote it, so a
//! command gets the first [`COMMAND_OUTPUT_MAX`] bytes shown while it runs.
//! sshd may read a command's last output only after the command has exited,
//! so its `command_finish` is held until the first read that *began* after
//! the exit (which holds that last output; what follows is the shell's) or
//! for at most [`SETTLE_NS`]. A read is placed in the ring when it returns:
//! one that began before the exit (sshd took bash's bytes, then was held up
//! while the command ran and exited) can come after the exit and is not
//! that first read, though its bytes still count. Any other record of the
//! connection (and the connection's end) first emits the held ones, so the
//! order of records stays that of the events.
//! Nothing is held when no action wants `command_finish`.

use super::*;

/// Bytes of output kept per command (as the agent: its first 2,048).
pub const COMMAND_OUTPUT_MAX: usize = 2048;
/// How long a finished command still waits for its first read after the
/// exit (sshd on a loaded machine may read it late; the first read ends it).
pub const SETTLE_NS: u64 = 1_000_000_000;

/// A `command_finish` held until its output has settled.
pub(super) struct Finishing {
    pub(super) ts_ns: u64,
    pub(super) event: SessionEvent,
    pub(super) user: Option<String>,
    pub(super) output: Vec<u8>,
    /// The first read after the exit was added: nothing more is its output.
    pub(super) settled: bool,
}

/// Appends what fits of `data` to `head`.
pub(super) fn keep(head: &mut Vec<u8>, data: &[u8]) {
    let room = COMMAND_OUTPUT_MAX.saturating_sub(head.len());
    head.extend_from_slice(&data[..data.len().min(room)]);
}

impl Tracker {
    /// Output of connection `conn_pid`, read by sshd from `start_ns` on: to
    /// every running command and to the finished ones still waiting for their
    /// first read begun after the exit, which are then emitted.
    pub(super) fn attribute_output(
        &mut self,
        conn_pid: u32,
        start_ns: u64,
        data: &[u8],
        sink: &mut dyn Sink,
    ) {
        let Some(c) = self.conns.get_mut(&conn_pid) else {
            return;
        };
        for cmd in c.commands.values_mut() {
            keep(&mut cmd.output, data);
        }
        for f in c.finishing.iter_mut().filter(|f| !f.settled) {
            keep(&mut f.output, data);
            f.settled = start_ns >= f.ts_ns;
        }
        self.emit_settled(conn_pid, 0, sink);
    }

    /// Emits the held `command_finish` records of `conn_pid` that are
    /// settled or exited before `until_ns` (all with `u64::MAX`).
    pub(super) fn emit_settled(&mut self, conn_pid: u32, until_ns: u64, sink: &mut dyn Sink) {
        loop {
            let Some(c) = self.conns.get_mut(&conn_pid) else {
                return;
            };
            if c.finishing
                .front()
                .is_none_or(|f| !f.settled && f.ts_ns >= until_ns)
            {
                return;
            }
            let Some(f) = c.finishing.pop_front() else {
                return;
            };
            let output = String::from_utf8_lossy(&f.output).into_owned();
            self.emit_record(conn_pid, f.ts_ns, f.event, f.user, Some(output), sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_stop_at_the_limit() {
        let mut head = Vec::new();
        keep(&mut head, &[b'a'; 2000]);
        keep(&mut head, &[b'b'; 100]);
        assert_eq!(head.len(), COMMAND_OUTPUT_MAX);
        assert_eq!(head[1999], b'a');
        assert_eq!(head[2000], b'b');
        keep(&mut head, b"more");
        assert_eq!(head.len(), COMMAND_OUTPUT_MAX);
    }
}
