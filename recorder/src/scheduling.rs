//! CPU priority of the capture thread.
//!
//! The thread that drains the kernel ring buffer must keep up even when the
//! sessions it records saturate every core: on a machine with hundreds of
//! runnable processes, a normal-priority thread gets a sliver of CPU, the ring
//! buffer fills and output is lost (measured: tools/bench-load, 200 sessions of
//! command storms on 2 cores lost data in 193 of 200 recordings at nice 0, 167 at
//! nice -10, none with this). So the capture thread runs SCHED_RR at a low
//! real-time priority (default 1, `capture_priority` in sshlogd.yaml; 0 keeps
//! normal scheduling).
//!
//! Only this thread is real-time: SCHED_RESET_ON_FORK gives every thread and
//! process it starts afterwards (the async runtime's workers serving the control
//! socket, the finisher, action workers, plugins, commands) normal scheduling.
//! Its work per event is bounded and it sleeps when the ring buffer is empty;
//! the kernel's real-time throttling (sched_rt_runtime_us) leaves the rest of
//! each second to normal tasks in any case.

use tracing::{info, warn};

/// Applies `priority` (1..=99 real-time round-robin; 0 = normal) to the
/// calling thread and says what it got (shown by `sshlog stats`). A refusal
/// (no CAP_SYS_NICE, a container without a real-time budget) is logged and
/// capture continues at normal priority.
pub fn set_capture_priority(priority: u8) -> String {
    if priority == 0 {
        info!("capture thread: normal scheduling (capture_priority: 0)");
        return "normal".into();
    }
    let param = libc::sched_param {
        sched_priority: i32::from(priority.min(99)),
    };
    // SAFETY: sched_setscheduler on the calling thread (pid 0) with a valid
    // sched_param that lives for the call.
    let rc =
        unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) };
    if rc == 0 {
        info!("capture thread: SCHED_RR priority {}", param.sched_priority);
        format!("SCHED_RR {}", param.sched_priority)
    } else {
        let e = std::io::Error::last_os_error();
        warn!(
            "capture thread: cannot use real-time priority {} ({e}); capture may lose data when the CPU is saturated",
            param.sched_priority
        );
        format!("normal (real-time refused: {e})")
    }
}

/// The calling thread's scheduling policy and real-time priority.
pub fn current() -> (i32, i32) {
    // SAFETY: plain queries of the calling thread.
    let policy = unsafe { libc::sched_getscheduler(0) };
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: param is a valid out-pointer.
    unsafe { libc::sched_getparam(0, &mut param) };
    (policy & !libc::SCHED_RESET_ON_FORK, param.sched_priority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_keeps_normal_scheduling() {
        let before = current();
        assert_eq!(set_capture_priority(0), "normal");
        assert_eq!(current(), before);
    }

    #[test]
    fn threads_started_after_the_switch_are_normal() {
        // Runs in a thread of its own so the test harness is not affected.
        std::thread::spawn(|| {
            let said = set_capture_priority(1);
            let (policy, prio) = current();
            if policy != libc::SCHED_RR {
                // Needs root / CAP_SYS_NICE; CI runs as root and must not skip.
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "real-time priority refused"
                );
                eprintln!("skipped: real-time priority refused here");
                return;
            }
            assert_eq!(prio, 1);
            assert_eq!(said, "SCHED_RR 1");
            let child = std::thread::spawn(current).join().expect("thread");
            assert_eq!(child, (libc::SCHED_OTHER, 0));
        })
        .join()
        .expect("test thread");
    }
}
