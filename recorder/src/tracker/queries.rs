//! What the control socket asks of live sessions: follow, inject, the sessions
//! table; and the clean shutdown.

use super::*;

impl Tracker {
    /// Closes every recording cleanly (daemon shutdown); live state stays so a
    /// restart continues the sessions in a new segment.
    pub fn shutdown(&mut self) {
        let conns: Vec<Conn> = self.conns.drain().map(|(_, c)| c).collect();
        for c in conns {
            if let Some(r) = c.rec {
                self.state.mark_sealed(c.pid);
                self.finish_recording(r);
            }
        }
        self.finisher.wait(Duration::from_secs(10));
    }

    pub(super) fn find(&self, target: &Target) -> anyhow::Result<u32> {
        let found = self
            .conns
            .values()
            .filter(|c| c.established)
            .find(|c| match target {
                Target::Session(id) => c.rec.as_ref().is_some_and(|r| r.id == *id),
                Target::Tty(t) => c.tty.as_deref() == Some(t.as_str()),
                Target::Pid(p) => c.pid == *p,
            });
        found
            .map(|c| c.pid)
            .ok_or_else(|| anyhow::anyhow!("no live session matches {target:?}"))
    }

    /// Starts following a live session: its cast is flushed so the file holds
    /// every output byte before `offset`, and the returned receiver gets what follows.
    pub fn follow(&mut self, target: &Target) -> anyhow::Result<FollowStart> {
        let pid = self.find(target)?;
        let rx = self.live_tx.subscribe();
        let c = self.conns.get_mut(&pid).expect("found above");
        let (user, tty) = (c.user.clone(), c.tty.clone());
        let r = c
            .rec
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("session {pid} has no recording"))?;
        r.ensure_cast(80, 24)?;
        r.flush_frame()?;
        let (cols, rows) = r.size().unwrap_or((80, 24));
        let hello = FollowHello {
            session_id: r.id,
            cast: r.paths.cast.clone(),
            offset: r.output_bytes,
            cols,
            rows,
            user,
            tty,
        };
        Ok(FollowStart { hello, rx })
    }

    /// Types `data` into a live session, if injection is allowed, and records who did.
    pub fn inject(
        &mut self,
        target: &Target,
        data: &[u8],
        by_uid: u32,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<()> {
        if !self.opts.allow_injection {
            anyhow::bail!("injection is disabled; set `allow_injection: true` in sshlogd.yaml to let `sshlog attach` type");
        }
        let pid = self.find(target)?;
        let (mpid, fd) = self.conns[&pid]
            .pty_master
            .ok_or_else(|| anyhow::anyhow!("the session has no pty (yet) to type into"))?;
        if data.is_empty() {
            return Ok(()); // a probe: injection would be accepted
        }
        live::inject(mpid, fd, data)?;
        let ev = SessionEvent::TerminalInjection {
            by_uid,
            by_user: accounts::by_uid(&ProcessRoot::host(), by_uid).map(|a| a.name),
            bytes: data.len() as u64,
        };
        self.emit(pid, Clock::mono_now(), ev, sink);
        Ok(())
    }

    /// Ends a live session, if killing is allowed, and records who did: its
    /// sshd (the connection's monitor, running as root like sshlogd) gets
    /// SIGTERM; the session then closes as any other.
    pub fn kill(
        &mut self,
        target: &Target,
        by_uid: u32,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<()> {
        if !self.opts.allow_kill {
            anyhow::bail!("killing sessions is disabled; set `allow_kill: true` in sshlogd.yaml to let `sshlog kill` end them");
        }
        let pid = self.find(target)?;
        let ev = SessionEvent::SessionKilled {
            by_uid,
            by_user: accounts::by_uid(&ProcessRoot::host(), by_uid).map(|a| a.name),
        };
        self.emit(pid, Clock::mono_now(), ev, sink);
        let sshd = nix::unistd::Pid::from_raw(pid as i32);
        nix::sys::signal::kill(sshd, nix::sys::signal::Signal::SIGTERM)
            .map_err(|e| anyhow::anyhow!("cannot end sshd {pid}: {e}"))?;
        Ok(())
    }

    pub fn sessions(&self) -> Vec<SessionInfo> {
        let mut v: Vec<SessionInfo> = self
            .conns
            .values()
            .filter(|c| c.established)
            .map(|c| SessionInfo {
                session_id: c.rec.as_ref().map(|r| r.id),
                sshd_pid: c.pid,
                user: c.user.clone(),
                client: c.client.map(|a| a.to_string()),
                tty: c.tty.clone(),
                started: self.clock.wall(c.start_ns),
                last_activity: self.clock.wall(c.last_activity_ns),
                last_command: c.last_command.clone(),
                existing_login: c.existing,
                cast: c.rec.as_ref().map(|r| r.paths.cast.clone()),
            })
            .collect();
        v.sort_by_key(|s| s.started);
        v
    }
}
