//! A connection's life as a session: adopted at start-up, established (its
//! recording opened, PAM's early commands written), closed (sealed and indexed),
//! and the sessions a previous sshlogd left open.

use super::*;

impl Tracker {
    /// Registers a connection that was open before sshlogd started.
    pub fn adopt_existing(&mut self, conn_pid: u32, pids: &[(u32, String)], sink: &mut dyn Sink) {
        let now = Clock::mono_now();
        let mut c = Conn::new(conn_pid, now);
        c.existing = true;
        for (pid, comm) in pids {
            if comm == "sshd" || comm.starts_with("sshd-") {
                c.sshd_pids.insert(*pid);
                // `sshd: alice@pts/0` is the post-authentication child.
                if let Some(title) = procfs::cmdline(*pid) {
                    if let Some(rest) = title.strip_prefix("sshd: ") {
                        if let Some((user, tty)) = rest.split_once('@') {
                            c.user = Some(user.to_string());
                            c.user_from_log = true;
                            c.tty = Some(format!(
                                "/dev/{}",
                                tty.split_whitespace().next().unwrap_or(tty)
                            ));
                        } else if let Some(user) = rest.strip_suffix(" [priv]") {
                            c.user.get_or_insert(user.to_string());
                        }
                    }
                }
            } else if c.program.pid().is_none() {
                // The same rule as at exec (user_program.rs), from /proc.
                if let Some(st) = procfs::stat(*pid) {
                    c.program.on_exec(ExecFacts {
                        pid: *pid,
                        ppid: st.ppid,
                        session_leader: st.session == *pid,
                        parent_is_sshd: c.sshd_pids.contains(&st.ppid),
                        parent_is_monitor: st.ppid == conn_pid,
                    });
                }
            }
        }
        c.previous = procfs::stat(conn_pid).and_then(|s| self.state.take(conn_pid, s.start));
        if let Some(prev) = c.previous.clone().filter(|p| !p.sealed) {
            // The previous segment was cut off (kill -9): its files are final now.
            self.seal_left_over(&prev);
        }
        let logged_in = c.user.is_some() || c.program.pid().is_some();
        self.conns.insert(conn_pid, c);
        if logged_in {
            self.establish(conn_pid, now, None, sink);
            let c = self.conns.get_mut(&conn_pid).expect("inserted above");
            let size = c.tty.as_deref().and_then(procfs::tty_size);
            if let (Some((cols, rows)), Some(r)) = (size, c.rec.as_mut()) {
                if let Err(e) = r.ensure_cast(cols, rows) {
                    warn!("{e:#}");
                }
            }
        }
    }

    /// Closes sessions a previous sshlogd left open whose connection is gone.
    pub fn close_stale_state(&mut self, sink: &mut dyn Sink) {
        for st in self.state.stale() {
            let rec = self.record(
                Some(st.session_id),
                Utc::now(),
                SessionEvent::ConnectionClose {
                    user: st.user.clone().unwrap_or_default(),
                    sshd_pid: st.conn_pid,
                    duration_ms: 0,
                    bytes_in: 0,
                    bytes_out: 0,
                },
                Some("connection ended while sshlogd was not running; duration unknown"),
            );
            if st.sealed {
                // Closed after its seal: the close goes to the event log only.
            } else if let Err(e) = Recording::append_record(&st.events_path, &rec) {
                warn!("cannot close stale session {}: {e:#}", st.session_id);
            } else {
                self.seal_left_over(&st);
            }
            let ctx = SessionContext {
                session_id: Some(st.session_id),
                sshd_pid: Some(st.conn_pid),
                user: st.user.clone(),
                ..Default::default()
            };
            sink.emit(&rec, &ctx);
        }
    }

    /// Finishes a recording and seals it into the chain.
    pub(super) fn finish_recording(&mut self, r: Recording) {
        // The last frame is written here; fsync, seal and index happen on the
        // finisher thread so that closing sessions never stalls capture.
        match r.close() {
            Ok(closed) => self.finisher.finish(closed, &self.state),
            Err(e) => {
                self.stats.write_errors += 1;
                warn!("cannot finish recording: {e:#}");
            }
        }
    }

    /// Seals a recording left by a previous sshlogd (its files are complete).
    pub(super) fn seal_left_over(&mut self, st: &ResumeState) {
        let cast = PathBuf::from(
            st.events_path
                .to_string_lossy()
                .replace(".events.jsonl", ".cast.zst"),
        );
        let head = self.state.chain_head();
        match crate::recording::seal(&cast, &st.events_path, st.session_id, &head) {
            Ok(seal) => {
                if let Err(e) = self.state.set_chain_head(&seal) {
                    warn!("cannot save the seal chain head: {e:#}");
                }
                self.finisher.submit(&st.events_path, &cast);
            }
            Err(e) => warn!("cannot seal {}: {e:#}", st.session_id),
        }
    }

    /// Marks the connection as a logged-in session and opens its recording.
    pub(super) fn establish(
        &mut self,
        conn_pid: u32,
        ts_ns: u64,
        uid_hint: Option<u32>,
        sink: &mut dyn Sink,
    ) {
        let Some(c) = self.conns.get_mut(&conn_pid) else {
            return;
        };
        if c.established {
            return;
        }
        c.established = true;
        if c.user.is_none() {
            c.user = uid_hint
                .and_then(|u| accounts::by_uid(&c.root, u))
                .map(|a| a.name);
        }
        if c.login_shell.is_none() {
            c.login_shell = c
                .user
                .as_deref()
                .and_then(|u| accounts::by_name(&c.root, u))
                .map(|a| a.shell);
        }
        if c.client.is_none() {
            if let Some((local, peer)) = procfs::tcp_endpoints(conn_pid) {
                c.client = Some(peer);
                c.server_port = local.port();
            }
        }
        let (segment, previous) = match &c.previous {
            Some(p) => (p.segment + 1, Some(p.session_id)),
            None => (0, None),
        };
        let meta = SshlogMeta {
            session_id: None,
            sshd_pid: Some(conn_pid),
            tty: c.tty.clone(),
            user: c.user.clone(),
            client: c.client.map(|a| a.to_string()),
            segment: Some(segment),
            previous_segment: previous,
            root: c.root.label(),
        };
        // PAM's helpers ran before this: the session starts with the first of them.
        let ts_ns = c.early.first().map_or(ts_ns, |(t, _, _)| ts_ns.min(*t));
        let start_ns = if c.existing {
            ts_ns
        } else {
            c.start_ns.min(ts_ns)
        };
        let wall = self.clock.wall(start_ns);
        match Recording::create(&self.opts.log_dir, wall, start_ns, meta, self.opts.frame) {
            Ok(mut r) => {
                debug!("session {} for connection {conn_pid}", r.id);
                r.shell = c.login_shell.clone();
                let st = ResumeState {
                    session_id: r.id,
                    conn_pid,
                    conn_start_ticks: procfs::stat(conn_pid).map_or(0, |s| s.start),
                    segment,
                    user: c.user.clone(),
                    events_path: r.paths.events.clone(),
                    sealed: false,
                };
                if let Err(e) = self.state.save(&st) {
                    warn!("cannot save live state: {e:#}");
                }
                c.rec = Some(r);
                self.stats.sessions_recorded += 1;
            }
            Err(e) => {
                self.stats.write_errors += 1;
                warn!("cannot record connection {conn_pid}: {e:#}");
            }
        }
        let c = &self.conns[&conn_pid];
        let ev = SessionEvent::ConnectionEstablished {
            user: c.user.clone().unwrap_or_default(),
            client_ip: c.client.map(|a| a.ip().to_string()).unwrap_or_default(),
            client_port: c.client.map(|a| a.port()).unwrap_or(0),
            server_port: c.server_port,
            tty: c.tty.clone(),
            sshd_pid: conn_pid,
            existing_login: c.existing,
            root: c.root.label(),
        };
        if let Some(prev) = previous {
            let seg = SessionEvent::SegmentStart {
                previous_segment: Some(prev),
                segment,
            };
            self.emit(conn_pid, ts_ns, seg, sink);
        }
        self.emit(conn_pid, ts_ns, ev, sink);
        let early = self
            .conns
            .get_mut(&conn_pid)
            .map(|c| std::mem::take(&mut c.early))
            .unwrap_or_default();
        for (ts, ev, user) in early {
            self.emit_as(conn_pid, ts, ev, user, sink);
        }
    }

    /// sshd's session child did something only a logged-in session does (set a
    /// terminal size, moved session data); `uid` is that child's, the user's.
    pub(super) fn establish_from_process(
        &mut self,
        h: &KHeader,
        uid: Option<u32>,
        sink: &mut dyn Sink,
    ) {
        self.conn(h);
        self.establish(h.conn, h.ts_ns, uid, sink);
    }

    pub(super) fn close(&mut self, conn_pid: u32, ts_ns: u64, sink: &mut dyn Sink) {
        if self
            .conns
            .get(&conn_pid)
            .is_some_and(|c| c.accepted && !c.established)
        {
            // Logged in but never used a pty or ran a command (e.g. ssh -N).
            self.establish(conn_pid, ts_ns, None, sink);
        }
        let Some(c) = self.conns.get(&conn_pid) else {
            return;
        };
        if !c.established {
            // Never logged in: a failed or abandoned authentication.
            if c.auth_failures == 0 && c.preauth_user.is_some() {
                let ev = SessionEvent::ConnectionAuthFailed {
                    user: c.preauth_user.clone(),
                    client_ip: c.client.map(|a| a.ip().to_string()).unwrap_or_default(),
                    client_port: c.client.map(|a| a.port()).unwrap_or(0),
                    method: None,
                    sshd_pid: conn_pid,
                };
                self.emit(conn_pid, ts_ns, ev, sink);
            }
            // Commands held for a session that never came (none normally run
            // before authentication) still reach the event log.
            let early = self
                .conns
                .get_mut(&conn_pid)
                .map(|c| std::mem::take(&mut c.early))
                .unwrap_or_default();
            for (ts, ev, user) in early {
                self.emit_as(conn_pid, ts, ev, user, sink);
            }
            self.conns.remove(&conn_pid);
            return;
        }
        let counters = c.counters_seen;
        let ev = SessionEvent::ConnectionClose {
            user: c.user.clone().unwrap_or_default(),
            sshd_pid: conn_pid,
            duration_ms: ts_ns.saturating_sub(c.start_ns) / 1_000_000,
            bytes_in: counters.net_in,
            bytes_out: counters.net_out,
        };
        self.emit(conn_pid, ts_ns, ev, sink);
        if let Some(c) = self.conns.remove(&conn_pid) {
            if let Some(r) = c.rec {
                let _ = self.live_tx.send(Arc::new((r.id, Live::End)));
                self.state.remove(conn_pid);
                self.finish_recording(r);
            }
        }
    }
}
