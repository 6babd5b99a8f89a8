//! The periodic tick: kernel drop counters become data_loss events, frames are
//! flushed, writes that failed are retried and storage errors reported.

use super::*;

impl Tracker {
    /// The current write failure, if writes are failing.
    pub fn storage_status(&self) -> Option<&str> {
        self.storage_failing.as_deref()
    }

    /// Connections to be asked for kernel counters before the next [`Tracker::tick`].
    pub fn conn_pids(&self) -> Vec<u32> {
        self.conns.keys().copied().collect()
    }

    /// Periodic work: report newly dropped bytes, flush frames older than the
    /// frame age. `counters` yields the kernel's per-connection counters.
    pub fn tick(&mut self, counters: &HashMap<u32, ConnCounters>, sink: &mut dyn Sink) {
        let now_ns = Clock::mono_now();
        let pids: Vec<u32> = self.conns.keys().copied().collect();
        for pid in pids {
            if let Some(k) = counters.get(&pid) {
                let c = self.conns.get_mut(&pid).expect("listed above");
                let seen = c.counters_seen;
                c.counters_seen = *k;
                if k.dropped_bytes > seen.dropped_bytes || k.dropped_events > seen.dropped_events {
                    let bytes = k.dropped_bytes - seen.dropped_bytes.min(k.dropped_bytes);
                    let events = k.dropped_events - seen.dropped_events.min(k.dropped_events);
                    self.stats.bytes_dropped += bytes;
                    self.stats.events_dropped += events;
                    if let Some(r) = c.rec.as_mut() {
                        let t = r.time_us(now_ns);
                        let label = format!("sshlog: {bytes} bytes lost here (ring buffer full)");
                        self.write_cast(pid, Event::Marker { time_us: t, label });
                    }
                    // The next sshlogd must not report these again (handover).
                    self.state.update(pid, |st| {
                        st.dropped_bytes = k.dropped_bytes;
                        st.dropped_events = k.dropped_events;
                    });
                    let ev = SessionEvent::DataLoss {
                        bytes_dropped: bytes,
                        events_dropped: events,
                        reason: "ring buffer full".into(),
                    };
                    self.emit(pid, now_ns, ev, sink);
                }
            }
            self.flush_terminal_update(pid, now_ns, sink);
            self.emit_settled(pid, now_ns.saturating_sub(command_output::SETTLE_NS), sink);
            if let Some(r) = self.conns.get_mut(&pid).and_then(|c| c.rec.as_mut()) {
                let result = if self.storage_failing.is_some() {
                    r.retry()
                } else {
                    r.maybe_flush(Instant::now())
                };
                if let Err(e) = result {
                    self.write_failed(pid, &e);
                }
            }
            let lost = self
                .conns
                .get_mut(&pid)
                .map(|c| std::mem::take(&mut c.storage_dropped))
                .unwrap_or(0);
            if lost > 0 {
                self.stats.bytes_dropped += lost;
                let ev = SessionEvent::DataLoss {
                    bytes_dropped: lost,
                    events_dropped: 0,
                    reason: "cannot write (disk full?): buffered output dropped".into(),
                };
                self.emit(pid, now_ns, ev, sink);
            }
            if let Some(ts) = self.conns.get(&pid).and_then(|c| c.closing_ns) {
                self.close(pid, ts, sink);
            }
        }
        self.report_storage(now_ns, sink);
    }

    /// A write failed (disk full, directory gone): keep going, keep what could not
    /// be written in memory (bounded), and report it once per episode.
    pub(super) fn write_failed(&mut self, conn_pid: u32, e: &anyhow::Error) {
        self.stats.write_errors += 1;
        if self.storage_failing.is_none() && self.storage_error.is_none() {
            warn!("write failed: {e:#}");
        }
        self.storage_error = Some(format!("{e:#}"));
        if let Some(c) = self.conns.get_mut(&conn_pid) {
            if let Some(r) = c.rec.as_mut() {
                c.storage_dropped += r.repair();
            }
        }
    }

    /// Emits storage_error when writes start failing and again when a tick found
    /// everything written.
    pub(super) fn report_storage(&mut self, now_ns: u64, sink: &mut dyn Sink) {
        let path = self.opts.log_dir.display().to_string();
        match (self.storage_error.take(), self.storage_failing.take()) {
            (Some(error), None) => {
                let ev = SessionEvent::StorageError {
                    path,
                    error: error.clone(),
                    resolved: false,
                };
                let rec = self.record(None, self.clock.wall(now_ns), ev, None);
                sink.emit(&rec, &SessionContext::default());
                self.storage_failing = Some(error);
            }
            (Some(error), Some(_)) => self.storage_failing = Some(error),
            (None, Some(_)) => {
                info!("writing to {path} works again");
                let ev = SessionEvent::StorageError {
                    path,
                    error: String::new(),
                    resolved: true,
                };
                let rec = self.record(None, self.clock.wall(now_ns), ev, None);
                sink.emit(&rec, &SessionContext::default());
            }
            (None, None) => {}
        }
    }
}
