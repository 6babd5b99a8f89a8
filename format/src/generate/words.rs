//! The vocabulary of generated sessions: users, commands and lines of
//! terminal-like output (`ls -l`, syslog, compiler messages, `ps`, words).

use super::Rng;

pub(super) const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "deploy",
];
const WORDS: &[&str] = &[
    "error",
    "warning",
    "info",
    "debug",
    "connection",
    "timeout",
    "request",
    "response",
    "server",
    "client",
    "database",
    "cache",
    "worker",
    "queue",
    "started",
    "stopped",
    "failed",
    "success",
    "retry",
    "backup",
    "config",
    "service",
    "kernel",
    "module",
    "network",
    "interface",
    "packet",
    "dropped",
    "accepted",
    "session",
    "opened",
    "closed",
    "user",
    "root",
    "daemon",
    "process",
    "memory",
    "disk",
    "usage",
    "threshold",
    "exceeded",
    "completed",
    "pending",
    "upstream",
    "healthcheck",
    "deployment",
    "rollout",
    "container",
    "image",
    "pulling",
    "listening",
    "port",
    "bound",
    "address",
    "certificate",
    "expired",
    "renewed",
    "token",
];
pub(super) const COMMANDS: &[&str] = &[
    "ls -la",
    "cd /var/log",
    "tail -n 200 syslog",
    "journalctl -u nginx",
    "ps aux",
    "df -h",
    "git status",
    "git log --oneline",
    "make -j2",
    "cargo build --release",
    "vim config.yaml",
    "top -b -n 1",
    "dmesg",
    "grep -r error /var/log/app",
    "cat /etc/os-release",
    "uptime",
    "docker ps",
    "systemctl status sshd",
    "free -m",
    "du -sh /var/lib",
];
const HOSTS: &[&str] = &["web01", "web02", "db01", "cache01", "lb01", "build07"];
const SERVICES: &[&str] = &[
    "nginx", "sshd", "postgres", "redis", "cron", "systemd", "app",
];

/// One line of terminal-like output.
pub fn line(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    match rng.below(6) {
        0 => {
            let _ = write!(
                out,
                "-rw-r--r-- 1 {} {} {:>8} Nov {:>2} {:02}:{:02} {}_{}.{}\r\n",
                rng.pick(USERS),
                rng.pick(USERS),
                rng.below(10_000_000),
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.pick(WORDS),
                rng.below(1000),
                rng.pick(&["log", "txt", "conf", "json", "gz", "rs"])
            );
        }
        1 | 2 => {
            let _ = write!(
                out,
                "Nov {:>2} {:02}:{:02}:{:02} {} {}[{}]: {} {} {} from 10.{}.{}.{} port {}\r\n",
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.pick(HOSTS),
                rng.pick(SERVICES),
                rng.below(65_000),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.below(256),
                rng.below(256),
                rng.below(256),
                1024 + rng.below(60_000)
            );
        }
        3 => {
            let _ = write!(
                out,
                "\x1b[1;31m{}\x1b[0m: src/{}/{}.rs:{}:{}: {} {} `{}`\r\n",
                rng.pick(&["error", "warning"]),
                rng.pick(WORDS),
                rng.pick(WORDS),
                1 + rng.below(900),
                1 + rng.below(80),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS)
            );
        }
        4 => {
            let _ = write!(
                out,
                "{:<8} {:>6} {:>4}.{} {:>4}.{} {:>7} {:>6} pts/{} S {:02}:{:02} 0:{:02} /usr/sbin/{} --{}\r\n",
                rng.pick(USERS),
                rng.below(65_000),
                rng.below(100),
                rng.below(10),
                rng.below(100),
                rng.below(10),
                rng.below(2_000_000),
                rng.below(200_000),
                rng.below(20),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.pick(SERVICES),
                rng.pick(WORDS)
            );
        }
        _ => {
            for _ in 0..(4 + rng.below(10)) {
                out.push_str(rng.pick(WORDS));
                out.push(' ');
            }
            out.push_str("\r\n");
        }
    }
}
