//! Outbound SSH connections made from the host: start (after the handshake's
//! outcome), end, and where their events go.

use super::*;

impl Tracker {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_out_connect(
        &mut self,
        h: KHeader,
        uid: u32,
        ret: i32,
        dest: SocketAddr,
        sk: u64,
        comm: String,
        ancestors: Vec<(u32, String)>,
        argv: Vec<String>,
        sink: &mut dyn Sink,
    ) {
        if self.opts.outbound_ignore.contains(&comm) {
            return;
        }
        let inbound_session = self
            .conns
            .get(&h.conn)
            .and_then(|c| c.rec.as_ref().map(|r| r.id));
        let root = self
            .conns
            .get(&h.conn)
            .map_or_else(ProcessRoot::host, |c| c.root.clone());
        let user = accounts::by_uid(&root, uid).map(|a| a.name);
        let ancestry = outbound::ancestry(h.pid, &comm, &argv, &ancestors);
        let id = Uuid::now_v7();
        let result = match ret {
            0 => "connected".to_string(),
            r if r == -libc::EINPROGRESS => "connecting".to_string(),
            r => outbound::connect_error(-r),
        };
        let event = SessionEvent::OutboundConnectionStart {
            connection_id: id,
            pid: h.pid,
            ppid: h.ppid,
            uid,
            user: user.clone(),
            ancestry,
            dest_ip: dest.ip().to_string(),
            dest_port: dest.port(),
            dest_host: outbound::ssh_destination(&argv),
            result,
            inbound_session,
        };
        let pending = PendingStart {
            ts_ns: h.ts_ns,
            event,
            conn: h.conn,
        };
        let mut oc = OutConn {
            id,
            pid: h.pid,
            start_ns: h.ts_ns,
            sk,
            pending_start: None,
            user,
            inbound_session,
        };
        if ret == -libc::EINPROGRESS {
            oc.pending_start = Some(pending); // wait for the handshake
        } else {
            self.emit_outbound(pending, sink);
        }
        self.outbound.entry(h.pid).or_default().push(oc);
    }

    pub(super) fn on_out_state(
        &mut self,
        h: KHeader,
        sk: u64,
        oldstate: i32,
        newstate: i32,
        sink: &mut dyn Sink,
    ) {
        const ESTABLISHED: i32 = 1;
        const SYN_SENT: i32 = 2;
        let Some(oc) = self
            .outbound
            .get_mut(&h.pid)
            .and_then(|v| v.iter_mut().find(|o| o.sk == sk))
        else {
            return;
        };
        let Some(mut p) = oc.pending_start.take() else {
            return;
        };
        if let SessionEvent::OutboundConnectionStart { result, .. } = &mut p.event {
            *result = if newstate == ESTABLISHED {
                "connected".into()
            } else if oldstate == SYN_SENT {
                "connection refused or unreachable".into()
            } else {
                "closed".into()
            };
        }
        self.emit_outbound(p, sink);
    }

    pub(super) fn end_outbound(
        &mut self,
        mut oc: OutConn,
        ts_ns: u64,
        status: i32,
        sink: &mut dyn Sink,
    ) {
        if let Some(mut p) = oc.pending_start.take() {
            if let SessionEvent::OutboundConnectionStart { result, .. } = &mut p.event {
                *result = "not established".into();
            }
            self.emit_outbound(p, sink);
        }
        let signal = status & 0x7f;
        let event = SessionEvent::OutboundConnectionEnd {
            connection_id: oc.id,
            pid: oc.pid,
            user: oc.user.clone(),
            duration_ms: ts_ns.saturating_sub(oc.start_ns) / 1_000_000,
            exit_code: (signal == 0).then_some((status >> 8) & 0xff),
            signal: (signal != 0).then_some(signal),
            inbound_session: oc.inbound_session,
        };
        let conn = self.conns.keys().copied().find(|c| {
            self.conns[c].rec.as_ref().map(|r| r.id) == oc.inbound_session
                && oc.inbound_session.is_some()
        });
        self.emit_outbound(
            PendingStart {
                ts_ns,
                event,
                conn: conn.unwrap_or(0),
            },
            sink,
        );
    }

    /// Outbound events go to the inbound session's sidecar when there is one,
    /// else to `outbound/YYYY-MM-DD.events.jsonl`.
    pub(super) fn emit_outbound(&mut self, p: PendingStart, sink: &mut dyn Sink) {
        if self.conns.get(&p.conn).is_some_and(|c| c.rec.is_some()) {
            self.emit(p.conn, p.ts_ns, p.event, sink);
            return;
        }
        let ts = self.clock.wall(p.ts_ns);
        let rec = self.record(None, ts, p.event, None);
        let path = self
            .opts
            .log_dir
            .join("outbound")
            .join(format!("{}.events.jsonl", ts.format("%Y-%m-%d")));
        if let Err(e) = path
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .map_err(anyhow::Error::from)
            .and_then(|_| Recording::append_or_create(&path, &rec))
        {
            self.stats.write_errors += 1;
            warn!("cannot write {}: {e:#}", path.display());
        }
        sink.emit(&rec, &SessionContext::default());
    }
}
