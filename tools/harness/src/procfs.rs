//! Small `/proc` helpers: process identity, liveness, process trees and
//! per-uid process lists, plus bounded "kill them all" loops.
//!
//! Everything here only ever signals processes the harness itself started
//! (an sshd tree it spawned) or processes running as a throw-away user it
//! created.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

/// What `/proc/<pid>/stat` tells us about one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub ppid: i32,
    pub state: char,
    pub starttime: u64,
}

/// Parses `/proc/<pid>/stat`; `None` when the process is gone or unreadable.
pub(crate) fn stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces or
    // parentheses, so split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    // After state and ppid, starttime is the 20th remaining field (field 22
    // of the whole line).
    let starttime = fields.nth(17)?.parse().ok()?;
    Some(Stat {
        ppid,
        state,
        starttime,
    })
}

/// All numeric entries of `/proc`.
pub(crate) fn all_pids() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// True while the process exists and is not a zombie.
pub(crate) fn is_running(pid: i32) -> bool {
    matches!(stat(pid), Some(s) if s.state != 'Z' && s.state != 'X')
}

/// The real uid of a process, from `/proc/<pid>/status`.
pub(crate) fn uid_of(pid: i32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The NUL-separated command line of a process, joined with spaces.
pub(crate) fn cmdline(pid: i32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let parts: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Some(parts.join(" "))
}

/// A token naming this process uniquely over time: `<pid>.<starttime>`.
/// Written next to everything the harness creates so that a later run can
/// tell leftovers of a dead run from resources of a live, concurrent one.
pub(crate) fn owner_token() -> String {
    let pid = std::process::id() as i32;
    let start = stat(pid).map(|s| s.starttime).unwrap_or(0);
    format!("{pid}.{start}")
}

/// Whether the process named by an [`owner_token`] still runs.
pub(crate) fn token_alive(token: &str) -> bool {
    let Some((pid, start)) = token.trim().split_once('.') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<i32>(), start.parse::<u64>()) else {
        return false;
    };
    matches!(stat(pid), Some(s) if s.starttime == start && s.state != 'Z')
}

/// All descendants of `root` (not `root` itself), from one `/proc` snapshot.
pub(crate) fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for pid in all_pids() {
        if let Some(s) = stat(pid) {
            children.entry(s.ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        if let Some(kids) = children.get(&p) {
            for &k in kids {
                if k != root && !out.contains(&k) {
                    out.push(k);
                    stack.push(k);
                }
            }
        }
    }
    out
}

fn signal(pid: i32, sig: libc::c_int) {
    if pid > 1 {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Freezes `root` and its whole tree with SIGSTOP (so nothing can fork any
/// more), then SIGKILLs every member. `root` itself is killed when
/// `include_root`. Bounded: gives up after `timeout`.
pub(crate) fn kill_tree(root: i32, include_root: bool, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut seen: HashSet<i32> = HashSet::new();
    if include_root {
        signal(root, libc::SIGSTOP);
    }
    // Stop until the tree is stable.
    loop {
        let found = descendants(root);
        let new: Vec<i32> = found.into_iter().filter(|p| seen.insert(*p)).collect();
        if new.is_empty() || Instant::now() >= deadline {
            break;
        }
        for p in new {
            signal(p, libc::SIGSTOP);
        }
    }
    for &p in &seen {
        signal(p, libc::SIGKILL);
    }
    if include_root {
        signal(root, libc::SIGKILL);
    }
    // Wait (bounded) until the tree members have disappeared or are zombies.
    while Instant::now() < deadline && seen.iter().any(|p| is_running(*p)) {
        thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILLs every process whose real uid is `uid` until none runs any more,
/// bounded by `timeout`. Zombies are not waited for: they hold nothing, and
/// an init that reaps slowly can keep them around for seconds (`userdel`
/// still counts them, hence its `-f` fallback). Returns whether no live
/// process of the uid is left.
pub(crate) fn kill_uid(uid: u32, timeout: Duration) -> bool {
    if uid == 0 {
        return false;
    }
    let deadline = Instant::now() + timeout;
    loop {
        let pids: Vec<i32> = all_pids()
            .into_iter()
            .filter(|p| uid_of(*p) == Some(uid) && is_running(*p))
            .collect();
        if pids.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        for p in pids {
            signal(p, libc::SIGKILL);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_stat_and_token() {
        let me = std::process::id() as i32;
        let s = stat(me).expect("own stat");
        assert!(s.ppid > 0);
        assert!(is_running(me));
        assert!(token_alive(&owner_token()));
        assert!(!token_alive("1.0"));
        assert!(!token_alive("garbage"));
    }

    #[test]
    fn descendants_sees_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn sleep");
        let me = std::process::id() as i32;
        assert!(descendants(me).contains(&(child.id() as i32)));
        let _ = child.kill();
        let _ = child.wait();
    }
}
