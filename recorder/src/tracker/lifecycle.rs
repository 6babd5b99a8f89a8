//! A connection's life as a session: adopted at start-up, established (its
//! recording opened, PAM's early commands written), closed (sealed and indexed),
//! and the sessions a previous sshlogd left open.

use super::*;

impl Tracker {
    /// Registers a connection that was open before sshlogd started (no
    /// handover: nothing of it was recorded since the previous segment's last
    /// frame, and that interval is marked).
    pub fn adopt_existing(&mut self, conn_pid: u32, pids: &[(u32, String)], sink: &mut dyn Sink) {
        let now = Clock::mono_now();
        let c = self.conn_from_proc(conn_pid, pids, now);
        let prev = procfs::stat(conn_pid).and_then(|s| self.state.take(conn_pid, s.start));
        let cause = prev.as_ref().map(|p| {
            if p.sealed {
                "sshlogd was stopped"
            } else {
                "sshlogd was killed or crashed"
            }
        });
        self.begin_segment(c, prev, cause, now, sink);
    }

    /// Continues every session the previous sshlogd recorded, after it handed
    /// the kernel half over: the ring buffer holds everything it did not read,
    /// from `start_ns` (its oldest record) on. Each session gets a new segment
    /// from `start_ns`; only what a killed sshlogd had read but not written is
    /// missing, and that interval is marked. Sessions that ended meanwhile are
    /// closed by their records in the ring (see [`Tracker::close_vanished`]).
    pub fn resume_handed_over(
        &mut self,
        existing: &BTreeMap<u32, Vec<(u32, String)>>,
        start_ns: u64,
        sink: &mut dyn Sink,
    ) {
        for prev in self.state.take_all() {
            let alive =
                procfs::stat(prev.conn_pid).is_some_and(|s| s.start == prev.conn_start_ticks);
            let mut c = match existing.get(&prev.conn_pid).filter(|_| alive) {
                Some(pids) => self.conn_from_proc(prev.conn_pid, pids, start_ns),
                None => {
                    let mut c = Conn::new(prev.conn_pid, start_ns);
                    c.existing = true;
                    c
                }
            };
            if c.user.is_none() {
                c.user = prev.user.clone();
            }
            let cause =
                (!prev.sealed).then_some("sshlogd was killed before writing what it had read");
            self.begin_segment(c, Some(prev), cause, start_ns, sink);
        }
    }

    /// Closes connections whose process is gone although no exit was seen
    /// (after a handover whose ring overflowed).
    pub fn close_vanished(&mut self, sink: &mut dyn Sink) {
        let now = Clock::mono_now();
        let gone: Vec<u32> = self
            .conns
            .keys()
            .copied()
            .filter(|pid| procfs::stat(*pid).is_none())
            .collect();
        for pid in gone {
            self.close(pid, now, sink);
        }
    }

    /// Whether the connection is known (after a handover, from the ring).
    pub fn knows(&self, conn_pid: u32) -> bool {
        self.conns.contains_key(&conn_pid)
    }

    /// What /proc tells of a running connection: its sshd processes, the user
    /// and tty from sshd's process title, the user's program.
    fn conn_from_proc(&mut self, conn_pid: u32, pids: &[(u32, String)], now: u64) -> Conn {
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
        c
    }

    /// Registers `c` and, when it is a logged-in session, opens its recording
    /// at `now`: the segment after `prev` when a previous sshlogd recorded it
    /// (`gap_cause`: why output since that segment's last frame is missing).
    fn begin_segment(
        &mut self,
        mut c: Conn,
        prev: Option<ResumeState>,
        gap_cause: Option<&'static str>,
        now: u64,
        sink: &mut dyn Sink,
    ) {
        if let Some(prev) = &prev {
            if let Some(cause) = gap_cause {
                c.gap = Some((recorded_until(prev), cause));
            }
            if !prev.sealed {
                // The previous segment was cut off (kill -9): its files are final now.
                self.seal_left_over(prev);
            }
            // Drops the previous sshlogd reported are not reported again.
            c.counters_seen.dropped_bytes = prev.dropped_bytes;
            c.counters_seen.dropped_events = prev.dropped_events;
        }
        let conn_pid = c.pid;
        let logged_in = c.user.is_some() || c.program.pid().is_some() || prev.is_some();
        c.previous = prev;
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
            self.mark_gap(conn_pid, now, sink);
        }
    }

    /// The start of a segment after a restart: the interval since the previous
    /// segment's last write is marked in the cast and the sidecar.
    fn mark_gap(&mut self, conn_pid: u32, now_ns: u64, sink: &mut dyn Sink) {
        let Some(c) = self.conns.get_mut(&conn_pid) else {
            return;
        };
        let Some((from, cause)) = c.gap.take() else {
            return;
        };
        let to = self.clock.wall(now_ns);
        if let Some(r) = c.rec.as_mut() {
            let label = format!(
                "sshlog: output from {} to {} UTC not recorded ({cause})",
                from.format("%H:%M:%S"),
                to.format("%H:%M:%S")
            );
            let t = r.time_us(now_ns);
            self.write_cast(conn_pid, Event::Marker { time_us: t, label });
        }
        let ev = SessionEvent::RecordingGap {
            from,
            to,
            cause: cause.to_string(),
        };
        self.emit(conn_pid, now_ns, ev, sink);
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
            Ok(closed) => self.finisher.finish(closed),
            Err(e) => {
                self.stats.write_errors += 1;
                warn!("cannot finish recording: {e:#}");
            }
        }
    }

    /// Seals a recording left by a previous sshlogd (its files are complete).
    pub(super) fn seal_left_over(&mut self, st: &ResumeState) {
        let cast = cast_path(&st.events_path);
        match self.opts.sealer.seal(&cast, &st.events_path, st.session_id) {
            Ok(_) => self.finisher.submit(&st.events_path, &cast),
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
                    started: Some(wall),
                    dropped_bytes: c.counters_seen.dropped_bytes,
                    dropped_events: c.counters_seen.dropped_events,
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

/// Where the previous segment's recording ends: the time of the last event
/// in its last complete frame (the frame index), else its files'
/// modification time. Output after that and before the new segment was not
/// recorded.
fn recorded_until(prev: &ResumeState) -> DateTime<Utc> {
    let cast = cast_path(&prev.events_path);
    let last_us = std::fs::File::open(&cast)
        .ok()
        .and_then(|f| sshlog_format::framed::read_frame_index(std::io::BufReader::new(f)).ok())
        .and_then(|frames| frames.iter().map(|f| f.last_time_us).max());
    if let (Some(started), Some(us)) = (prev.started, last_us) {
        return started + chrono::Duration::microseconds(us as i64);
    }
    [cast.as_path(), prev.events_path.as_path()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(Utc::now)
}

/// The cast beside a sidecar.
fn cast_path(events: &std::path::Path) -> PathBuf {
    PathBuf::from(
        events
            .to_string_lossy()
            .replace(".events.jsonl", ".cast.zst"),
    )
}
