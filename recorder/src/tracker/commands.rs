//! Commands (exec and exit of a connection's processes, markers for the user's
//! commands) and file uploads by scp / sftp-server.

use super::*;

impl Tracker {
    /// A command record: held until the connection is a session (see `early`).
    pub(super) fn emit_command(
        &mut self,
        conn_pid: u32,
        ts_ns: u64,
        event: SessionEvent,
        user: Option<String>,
        sink: &mut dyn Sink,
    ) {
        if let Some(c) = self.conns.get_mut(&conn_pid) {
            if !c.established && c.early.len() < EARLY_MAX {
                c.early.push((ts_ns, event, user));
                return;
            }
        }
        self.emit_as(conn_pid, ts_ns, event, user, sink);
    }

    pub(super) fn on_exec(&mut self, x: Exec, sink: &mut dyn Sink) {
        let h = x.h;
        let c = self.conn(&h);
        if x.comm == "sshd" || x.comm.starts_with("sshd-") {
            c.sshd_pids.insert(h.pid);
            return;
        }
        let parent_is_sshd = c.sshd_pids.contains(&h.ppid);
        c.sshd_pids.remove(&h.pid);
        let role = c.program.on_exec(ExecFacts {
            pid: h.pid,
            ppid: h.ppid,
            session_leader: x.session_leader,
            parent_is_sshd,
            parent_is_monitor: h.ppid == h.conn,
        });
        let account = accounts::by_uid(&c.root, x.uid);
        let user = account.as_ref().map(|a| a.name.clone());
        let line = x.argv.join(" ");
        if role == ExecRole::UserProgram {
            // The account sshd switched to; sshd's own log, when visible, names it too.
            if let Some(a) = &account {
                if c.user_from_log && c.user.as_deref() != Some(a.name.as_str()) {
                    debug!(
                        "connection {}: sshd logged user {:?}, its program runs as {}",
                        h.conn, c.user, a.name
                    );
                }
                if !c.user_from_log {
                    c.user = Some(a.name.clone());
                }
                c.login_shell = Some(a.shell.clone());
            }
            // A login shell (`-bash`) is not a command; `bash -c CMD` names one.
            if !x.argv.first().is_some_and(|a| a.starts_with('-')) {
                c.last_command = Some(line.clone());
            }
            if !c.established {
                self.establish(h.conn, h.ts_ns, Some(x.uid), sink);
            }
        }
        let Some(c) = self.conns.get_mut(&h.conn) else {
            return;
        };
        c.commands.insert(
            h.pid,
            Command {
                argv: x.argv.clone(),
                user: user.clone(),
                start_ns: h.ts_ns,
                cwd: x.cwd.clone(),
                output: Vec::new(),
            },
        );
        c.last_activity_ns = h.ts_ns;
        if role == ExecRole::UserCommand {
            c.last_command = Some(line.clone());
            if let Some(r) = c.rec.as_mut() {
                let t = r.time_us(h.ts_ns);
                self.write_cast(
                    h.conn,
                    Event::Marker {
                        time_us: t,
                        label: line,
                    },
                );
            }
        }
        let ev = SessionEvent::CommandStart {
            pid: h.pid,
            ppid: h.ppid,
            uid: x.uid,
            user: user.clone(),
            argv: x.argv,
            argv_truncated: x.argv_truncated,
            filename: x.filename,
            cwd: x.cwd,
        };
        self.emit_command(h.conn, h.ts_ns, ev, user, sink);
    }

    pub(super) fn on_exit(&mut self, h: KHeader, status: i32, sink: &mut dyn Sink) {
        if let Some(conns) = self.outbound.remove(&h.pid) {
            for oc in conns {
                self.end_outbound(oc, h.ts_ns, status, sink);
            }
        }
        if h.conn == 0 {
            return; // an outbound-only process outside any sshd tree
        }
        if h.pid == h.conn {
            // Closed at the next tick, once the kernel's final counters (drops
            // during the last moments) have been read.
            match self.conns.get_mut(&h.conn) {
                Some(c) => c.closing_ns = Some(h.ts_ns),
                None => self.close(h.conn, h.ts_ns, sink),
            }
            return;
        }
        let Some(c) = self.conns.get_mut(&h.conn) else {
            return;
        };
        c.sshd_pids.remove(&h.pid);
        c.program.on_exit(h.pid);
        let uploads: Vec<(i32, String)> = c
            .uploads
            .iter()
            .filter(|((p, _), _)| *p == h.pid)
            .map(|((_, fd), path)| (*fd, path.clone()))
            .collect();
        for (fd, _) in &uploads {
            c.uploads.remove(&(h.pid, *fd));
        }
        for (_, path) in uploads {
            self.emit_upload(&h, path, ClosedSize::Unknown, sink);
        }
        let Some(c) = self.conns.get_mut(&h.conn) else {
            return;
        };
        let Some(cmd) = c.commands.remove(&h.pid) else {
            return;
        };
        let signal = status & 0x7f;
        let ev = SessionEvent::CommandFinish {
            pid: h.pid,
            exit_code: (signal == 0).then_some((status >> 8) & 0xff),
            signal: (signal != 0).then_some(signal),
            duration_ms: h.ts_ns.saturating_sub(cmd.start_ns) / 1_000_000,
            argv: cmd.argv,
        };
        let established = self.conns.get(&h.conn).is_some_and(|c| c.established);
        if established && sink.wants("command_finish") {
            // Held while the output sshd has not read yet arrives.
            if let Some(c) = self.conns.get_mut(&h.conn) {
                c.finishing.push_back(command_output::Finishing {
                    ts_ns: h.ts_ns,
                    event: ev,
                    user: cmd.user,
                    output: cmd.output,
                    settled: false,
                });
            }
            return;
        }
        self.emit_command(h.conn, h.ts_ns, ev, cmd.user, sink);
    }

    pub(super) fn on_file_open(&mut self, h: KHeader, fd: i32, path: String) {
        let c = self.conn(&h);
        let full = if path.starts_with('/') {
            path
        } else {
            // The cwd as the uploader sees it (inside its chroot): now,
            // else at its exec (scp -t may be gone by now).
            let cwd = std::fs::read_link(format!("/proc/{}/cwd", h.pid))
                .map(|p| c.root.strip(&p))
                .ok()
                .or_else(|| c.commands.get(&h.pid)?.cwd.as_ref().map(PathBuf::from))
                .unwrap_or_default();
            cwd.join(path).to_string_lossy().into_owned()
        };
        c.uploads.insert((h.pid, fd), full);
    }

    pub(super) fn on_file_close(
        &mut self,
        h: KHeader,
        fd: i32,
        size: ClosedSize,
        sink: &mut dyn Sink,
    ) {
        if let Some(path) = self
            .conns
            .get_mut(&h.conn)
            .and_then(|c| c.uploads.remove(&(h.pid, fd)))
        {
            self.emit_upload(&h, path, size, sink);
        }
    }

    /// A file upload event; its size as the kernel saw it at the close, else
    /// (the uploader exited with the file open, or the kernel could not
    /// tell) as the file is now.
    pub(super) fn emit_upload(
        &mut self,
        h: &KHeader,
        path: String,
        size: ClosedSize,
        sink: &mut dyn Sink,
    ) {
        // Only regular files are uploads (sftp-server and scp also open /dev/null).
        let size = match size {
            ClosedSize::Bytes(n) => n,
            ClosedSize::NotRegular => return,
            ClosedSize::Unknown => {
                let on_disk = match self.conns.get(&h.conn) {
                    Some(c) => c.root.resolve(&path),
                    None => PathBuf::from(&path),
                };
                match std::fs::metadata(on_disk) {
                    Ok(m) if m.is_file() => m.len(),
                    Ok(_) => return,
                    Err(_) => 0,
                }
            }
        };
        let (user, program) = match self.conns.get(&h.conn) {
            Some(c) => (c.user.clone(), procfs::comm(h.pid).unwrap_or_default()),
            None => (None, String::new()),
        };
        let program = if program.is_empty() {
            "scp/sftp-server".to_string()
        } else {
            program
        };
        self.emit(
            h.conn,
            h.ts_ns,
            SessionEvent::FileUpload {
                path,
                size,
                user,
                pid: h.pid,
                program,
            },
            sink,
        );
    }
}
