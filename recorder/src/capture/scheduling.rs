//! CPU priority of the capture thread: normal, raised to real time while it is
//! behind.
//!
//! The thread that drains the kernel ring buffer must keep up even when the
//! sessions it records saturate every core: with hundreds of runnable
//! processes a normal-priority thread gets a sliver of CPU, the ring fills and
//! output is lost (tools/bench-load, 200 sessions of command storms on 2 cores:
//! 193 of 200 recordings incomplete at nice 0, 167 at nice -10, none at
//! real-time priority). But a thread that is always real-time preempts the
//! very sshd and ssh it records: one fast session on 2 cores ran ~30 % slower.
//!
//! So by default the capture thread runs at normal priority (`capture_nice`,
//! default 0) and is *boosted*
//! to SCHED_RR (`capture_priority`, default 1; 0 = never) when loss is near:
//! when a quarter of the ring is filled with records not read yet. It returns
//! to its nice value once the ring has stayed nearly empty (under 1/64) for 30 s. The
//! fill level is checked before every batch of a drain, so a thread that is
//! far behind is boosted before it catches up; a fast session whose drains are
//! large but which the thread keeps up with is never slowed by its own
//! recorder (an earlier rule boosted on one large drain). `capture_always_realtime:
//! true` keeps it real-time all the time instead: no loss at the start of a
//! storm even with a small ring, at the cost of throughput for fast sessions.
//!
//! Lower priority does not make sessions faster: neither nice 19 nor
//! SCHED_IDLE changed the throughput of a fast session (tools/bench-capture,
//! docs/benchmarks.md), so the default nice value is 0.
//!
//! The thread is lowered to `capture_nice` only once the daemon's other
//! threads are started, and goes back to nice 0 while it starts threads or
//! processes (a SIGHUP reload starts the action workers): a positive nice
//! value survives SCHED_RESET_ON_FORK.
//!
//! Privileges: raising needs CAP_SYS_NICE, one of the capabilities sshlogd keeps
//! (privileges.rs; RLIMIT_RTPRIO would need CAP_SYS_RESOURCE, which some hosts
//! do not grant even to root). SCHED_RESET_ON_FORK is always set: threads and
//! processes started while boosted (actions, plugins, commands) get normal
//! scheduling.

use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long drains must stay small before the boost ends (long: a command storm
/// that put the thread behind usually goes on, and every return to normal
/// priority risks falling behind again).
const CALM: Duration = Duration::from_secs(30);

/// How the capture thread is scheduled (the `capture_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturePolicy {
    /// Real-time priority of the boost (0 = never boosted).
    pub priority: u8,
    /// Nice value while keeping up.
    pub nice: i8,
    /// Real time all the time.
    pub always: bool,
}

/// The boost state of the capture thread.
#[derive(Debug)]
pub struct CaptureScheduler {
    policy: CapturePolicy,
    boost_at: usize,
    calm_below: usize,
    /// [`Self::lower`] was called: `nice` while not boosted.
    lowered: bool,
    boosted: bool,
    calm_since: Option<Instant>,
    /// Times the thread was boosted.
    pub boosts: u64,
    refused: Option<String>,
}

impl CaptureScheduler {
    /// Prepares boosting for a ring of `ring_bytes`, or real-time from now
    /// on with `always`; runs on the capture thread.
    pub fn new(policy: CapturePolicy, ring_bytes: usize) -> CaptureScheduler {
        let priority = policy.priority.min(99);
        let policy = CapturePolicy {
            priority,
            nice: policy.nice.clamp(-20, 19),
            always: policy.always && priority > 0,
        };
        let mut s = CaptureScheduler {
            policy,
            boost_at: (ring_bytes / 4).max(1),
            calm_below: (ring_bytes / 64).max(1),
            lowered: false,
            boosted: false,
            calm_since: None,
            boosts: 0,
            refused: None,
        };
        // Reset on fork from now on; real-time only with `always`.
        s.apply(policy.always);
        if policy.always && s.refused.is_none() {
            info!(
                "capture thread: SCHED_RR {} (capture_always_realtime)",
                priority
            );
        }
        s
    }

    /// Lowers the thread to its nice value. Called once the
    /// daemon's other threads are started (see [`Self::normal_while`] for
    /// those started later).
    pub fn lower(&mut self) {
        self.lowered = true;
        set_nice(self.policy.nice);
    }

    /// Runs `f` (which starts threads or processes) at normal scheduling,
    /// so that what it starts does not inherit a positive nice value; then
    /// lowers the thread again.
    pub fn normal_while<T>(&mut self, f: impl FnOnce() -> T) -> T {
        if !self.lowered {
            return f();
        }
        self.lowered = false;
        set_nice(0);
        let out = f();
        self.lower();
        out
    }

    /// Called with the ring's fill level (bytes not read yet) before each
    /// batch of a drain.
    pub fn observe(&mut self, filled: usize) {
        if self.policy.priority == 0 || self.policy.always || self.refused.is_some() {
            return;
        }
        if !self.boosted {
            if filled >= self.boost_at {
                self.boosts += 1;
                info!(
                    "capture is behind ({} KiB waiting in the ring): real-time priority {} on",
                    filled >> 10,
                    self.policy.priority
                );
                self.apply(true);
            }
            return;
        }
        if filled >= self.calm_below {
            self.calm_since = None;
            return;
        }
        let since = *self.calm_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= CALM {
            info!("capture caught up: nice {} again", self.policy.nice);
            self.apply(false);
        }
    }

    /// What `sshlog stats` shows.
    pub fn status(&self) -> String {
        let p = &self.policy;
        match (&self.refused, self.boosted) {
            _ if p.priority == 0 => format!("nice {} (capture_priority: 0)", p.nice),
            (Some(e), _) => format!("nice {} (real-time refused: {e})", p.nice),
            (None, true) if p.always => format!("SCHED_RR {} (always)", p.priority),
            (None, true) => format!("SCHED_RR {} (behind)", p.priority),
            (None, false) => format!("nice {} (SCHED_RR {} when behind)", p.nice, p.priority),
        }
    }

    fn apply(&mut self, boost: bool) {
        let (policy, prio) = if boost {
            (libc::SCHED_RR, i32::from(self.policy.priority))
        } else {
            (libc::SCHED_OTHER, 0)
        };
        let param = libc::sched_param {
            sched_priority: prio,
        };
        // SAFETY: sched_setscheduler on the calling thread (pid 0) with a valid
        // sched_param that lives for the call.
        let rc = unsafe { libc::sched_setscheduler(0, policy | libc::SCHED_RESET_ON_FORK, &param) };
        if rc == 0 {
            self.boosted = boost;
            self.calm_since = None;
        } else {
            self.refuse(std::io::Error::last_os_error());
        }
    }

    fn refuse(&mut self, e: std::io::Error) {
        warn!(
            "capture thread: real-time priority {} refused ({e}); capture may lose data when the CPU is saturated",
            self.policy.priority
        );
        self.refused = Some(e.to_string());
    }
}

/// Sets the calling thread's nice value.
fn set_nice(nice: i8) {
    // SAFETY: gettid has no preconditions; setpriority on the calling
    // thread's own id.
    let rc = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, i32::from(nice))
    };
    if rc != 0 {
        warn!(
            "capture thread: nice {nice} refused ({})",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's scheduling policy (without the reset-on-fork flag)
    /// and real-time priority.
    fn current() -> (i32, i32) {
        // SAFETY: plain queries of the calling thread.
        let policy = unsafe { libc::sched_getscheduler(0) };
        let mut param = libc::sched_param { sched_priority: 0 };
        // SAFETY: param is a valid out-pointer.
        unsafe { libc::sched_getparam(0, &mut param) };
        (policy & !libc::SCHED_RESET_ON_FORK, param.sched_priority)
    }

    fn policy(priority: u8, nice: i8, always: bool) -> CapturePolicy {
        CapturePolicy {
            priority,
            nice,
            always,
        }
    }

    fn as_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        // CI runs as root and must not skip.
        assert!(root || std::env::var("CI").as_deref() != Ok("true"));
        root
    }

    #[test]
    fn zero_never_boosts() {
        std::thread::spawn(|| {
            let mut s = CaptureScheduler::new(policy(0, 0, true), 1 << 20);
            s.lower();
            s.observe(1 << 20);
            assert_eq!(current().0, libc::SCHED_OTHER);
            assert_eq!(s.boosts, 0);
            assert_eq!(s.status(), "nice 0 (capture_priority: 0)");
        })
        .join()
        .expect("test thread");
    }

    #[test]
    fn boosts_when_behind_and_returns_when_calm() {
        if !as_root() {
            return;
        }
        // A thread of its own: the test harness is not affected.
        std::thread::spawn(|| {
            // Boost at 4 KiB.
            let mut s = CaptureScheduler::new(policy(1, 0, false), 16 << 10);
            s.lower();
            assert_eq!(current(), (libc::SCHED_OTHER, 0));
            s.observe(3000);
            assert_eq!(current(), (libc::SCHED_OTHER, 0), "keeping up");
            s.observe(4096);
            assert_eq!(current(), (libc::SCHED_RR, 1), "behind: {}", s.status());
            assert_eq!(s.status(), "SCHED_RR 1 (behind)");
            // Threads started while boosted are normal.
            let child = std::thread::spawn(current).join().expect("thread");
            assert_eq!(child, (libc::SCHED_OTHER, 0));
            s.observe(4096); // still busy: stays boosted
            s.observe(10); // calm starts
            assert_eq!(current(), (libc::SCHED_RR, 1));
            s.calm_since = Some(Instant::now() - CALM);
            s.observe(10);
            assert_eq!(current(), (libc::SCHED_OTHER, 0), "caught up");
            assert_eq!(s.boosts, 1);
            assert_eq!(s.status(), "nice 0 (SCHED_RR 1 when behind)");

            let mut s = CaptureScheduler::new(policy(1, 0, true), 16 << 10);
            s.lower();
            assert_eq!(current(), (libc::SCHED_RR, 1), "always");
            s.calm_since = Some(Instant::now() - CALM);
            s.observe(0);
            assert_eq!(current(), (libc::SCHED_RR, 1), "always stays");
            assert_eq!(s.status(), "SCHED_RR 1 (always)");
            CaptureScheduler::new(policy(0, 0, false), 16 << 10);
            assert_eq!(current(), (libc::SCHED_OTHER, 0));
        })
        .join()
        .expect("test thread");
    }

    /// The nice value of the calling thread.
    fn nice() -> i32 {
        // SAFETY: getpriority on the calling thread's own id.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn lowered_while_keeping_up_and_normal_for_what_it_starts() {
        if !as_root() {
            return;
        }
        std::thread::spawn(|| {
            let mut s = CaptureScheduler::new(policy(1, 19, false), 16 << 10);
            assert_eq!(nice(), 0, "normal until lowered");
            s.lower();
            assert_eq!(nice(), 19);
            assert_eq!(s.status(), "nice 19 (SCHED_RR 1 when behind)");
            // A positive nice value survives reset-on-fork: what the thread
            // starts is started at nice 0.
            let child = s.normal_while(|| std::thread::spawn(nice).join().expect("thread"));
            assert_eq!(child, 0);
            assert_eq!(nice(), 19, "lowered again");
        })
        .join()
        .expect("test thread");
    }
}
