//! Failed-login limits: at most [`MAX_FAILURES`] failures per [`WINDOW`]
//! per client IP and per user name. Beyond that, logins from that IP or for
//! that user are refused with 429 until the oldest failure leaves the
//! window (even with the right password), so passwords cannot be guessed
//! quickly.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per window.
pub const MAX_FAILURES: usize = 5;
/// The sliding window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most keys tracked (older entries are pruned first).
const MAX_KEYS: usize = 10_000;

/// Failure times per key.
#[derive(Debug, Default)]
pub struct Limiter {
    inner: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn keys(ip: IpAddr, user: &str) -> [String; 2] {
    [format!("ip:{ip}"), format!("user:{user}")]
}

impl Limiter {
    /// `Some(wait)` when `ip` or `user` is locked out now.
    pub fn check(&self, ip: IpAddr, user: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = None;
        for k in keys(ip, user) {
            if let Some(q) = map.get_mut(&k) {
                prune(q, now);
                if q.len() >= MAX_FAILURES {
                    let oldest = q.front().copied().unwrap_or(now);
                    let w = (oldest + WINDOW).saturating_duration_since(now);
                    wait = Some(wait.map_or(w, |x: Duration| x.max(w)));
                }
            }
        }
        wait
    }

    /// Counts a failed login.
    pub fn failed(&self, ip: IpAddr, user: &str) {
        let now = Instant::now();
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > MAX_KEYS {
            map.retain(|_, q| {
                prune(q, now);
                !q.is_empty()
            });
        }
        for k in keys(ip, user) {
            let q = map.entry(k).or_default();
            prune(q, now);
            q.push_back(now);
        }
    }
}

fn prune(q: &mut VecDeque<Instant>, now: Instant) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
        q.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_per_ip_and_per_user() {
        let l = Limiter::default();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        for _ in 0..MAX_FAILURES {
            assert!(l.check(ip, "admin").is_none());
            l.failed(ip, "admin");
        }
        let w = l.check(ip, "admin").expect("locked");
        assert!(w <= WINDOW && w > Duration::from_secs(50));
        // The user is locked from anywhere; the IP for any user.
        assert!(l.check(other, "admin").is_some());
        assert!(l.check(ip, "bob").is_some());
        assert!(l.check(other, "bob").is_none());
    }
}
