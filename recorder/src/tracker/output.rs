//! Terminal output and resizes into the cast, the live follow stream and the
//! batched terminal_update events.

use super::*;

impl Tracker {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_data(
        &mut self,
        h: KHeader,
        start_ns: u64,
        fd: u32,
        input: bool,
        stream: Stream,
        pts: Option<u32>,
        data: Vec<u8>,
        sink: &mut dyn Sink,
    ) {
        if !self.conns.get(&h.conn).is_some_and(|c| c.established) {
            self.establish_from_process(&h, procfs::uid(h.pid), sink);
        }
        let Some(c) = self.conns.get_mut(&h.conn) else {
            return;
        };
        c.last_activity_ns = h.ts_ns;
        if stream == Stream::Pty && !input {
            c.pty_master = Some((h.pid, fd));
            if c.tty.is_none() {
                c.tty = pts.map(|n| format!("/dev/pts/{n}"));
            }
        }
        if input && !self.opts.capture_input {
            return;
        }
        let Some(r) = c.rec.as_mut() else { return };
        let t = r.time_us(h.ts_ns);
        let (id, offset) = (r.id, r.output_bytes);
        if input {
            self.write_cast(h.conn, Event::Input { time_us: t, data });
            return;
        }
        self.stats.bytes_recorded += data.len() as u64;
        if sink.wants("command_finish") {
            self.attribute_output(h.conn, start_ns, &data, sink);
        }
        let Some(c) = self.conns.get_mut(&h.conn) else {
            return;
        };
        if sink.wants("terminal_update") && c.pending_text.len() < PENDING_TEXT_MAX {
            let room = PENDING_TEXT_MAX - c.pending_text.len();
            c.pending_text
                .extend_from_slice(&data[..data.len().min(room)]);
        }
        let live = (self.live_tx.receiver_count() > 0).then(|| data.clone());
        self.write_cast(h.conn, Event::Output { time_us: t, data });
        if let Some(data) = live {
            let _ = self
                .live_tx
                .send(Arc::new((id, Live::Output { offset, data })));
        }
    }

    pub(super) fn on_resize(
        &mut self,
        h: KHeader,
        pts: Option<u32>,
        cols: u16,
        rows: u16,
        uid: u32,
        sink: &mut dyn Sink,
    ) {
        // A client without a terminal of its own (ssh -tt < file) sends 0x0.
        let (cols, rows) = if cols == 0 || rows == 0 {
            (80, 24)
        } else {
            (cols, rows)
        };
        if let Some(c) = self.conns.get_mut(&h.conn) {
            if c.tty.is_none() {
                c.tty = pts.map(|n| format!("/dev/pts/{n}"));
            }
        }
        if !self.conns.get(&h.conn).is_some_and(|c| c.established) {
            self.establish_from_process(&h, Some(uid), sink);
        }
        let Some(r) = self.conns.get_mut(&h.conn).and_then(|c| c.rec.as_mut()) else {
            return;
        };
        if r.has_cast() {
            let t = r.time_us(h.ts_ns);
            let id = r.id;
            let _ = self
                .live_tx
                .send(Arc::new((id, Live::Resize { cols, rows })));
            self.write_cast(
                h.conn,
                Event::Resize {
                    time_us: t,
                    cols,
                    rows,
                },
            );
        } else if let Err(e) = r.ensure_cast(cols, rows) {
            self.write_failed(h.conn, &e);
        }
    }

    /// Reports the output batched since the last tick as one terminal_update
    /// (escape sequences stripped, lossy UTF-8), to consumers that want it.
    pub(super) fn flush_terminal_update(&mut self, pid: u32, now_ns: u64, sink: &mut dyn Sink) {
        let Some(c) = self.conns.get_mut(&pid) else {
            return;
        };
        if c.pending_text.is_empty() {
            return;
        }
        let raw = std::mem::take(&mut c.pending_text);
        let session_id = c.rec.as_ref().map(|r| r.id);
        let text = strip_escapes(&String::from_utf8_lossy(&raw));
        let ts = self.clock.wall(now_ns);
        let rec = self.record(session_id, ts, SessionEvent::TerminalUpdate { text }, None);
        sink.emit_transient(&rec, &self.context(pid));
    }
}
