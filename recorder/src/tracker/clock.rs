//! Kernel time (CLOCK_MONOTONIC, as bpf_ktime_get_ns) to wall-clock time.

use chrono::{DateTime, Utc};

/// Converts CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) to wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    offset_ns: i128,
}

impl Clock {
    pub fn now() -> Self {
        let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(ts_ns)
            .unwrap_or(0);
        let real = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
            .map(ts_ns)
            .unwrap_or(0);
        Clock {
            offset_ns: real - mono,
        }
    }
    pub fn wall(&self, mono_ns: u64) -> DateTime<Utc> {
        let ns = mono_ns as i128 + self.offset_ns;
        DateTime::from_timestamp((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
            .unwrap_or_else(Utc::now)
    }
    pub fn mono_now() -> u64 {
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| ts_ns(t) as u64)
            .unwrap_or(0)
    }
}

fn ts_ns(t: nix::sys::time::TimeSpec) -> i128 {
    t.tv_sec() as i128 * 1_000_000_000 + t.tv_nsec() as i128
}
