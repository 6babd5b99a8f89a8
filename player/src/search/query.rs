//! The search criteria, compiled: [`Query`] decides from an index entry
//! alone whether a session can match, and which of its commands are hits.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use sshlog_format::index::{CommandEntry, IndexEntry};
use std::net::IpAddr;

use super::output::OutputMatcher;

/// `GLOB` or `/REGEX/` for commands.
#[derive(Debug, Clone)]
pub enum CmdPattern {
    /// Matched against the command name, the whole command line, and the
    /// command line with argv[0] shortened to its basename.
    Glob(GlobMatcher),
    /// Searched (unanchored) in the whole command line.
    Regex(Regex),
}

impl CmdPattern {
    /// Parse `GLOB` or `/REGEX/`.
    pub fn parse(s: &str) -> Result<CmdPattern> {
        if let Some(re) = slashed(s) {
            let re = Regex::new(re).with_context(|| format!("invalid --cmd regex /{re}/"))?;
            return Ok(CmdPattern::Regex(re));
        }
        let glob = GlobBuilder::new(s)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .with_context(|| format!("invalid --cmd glob '{s}'"))?;
        Ok(CmdPattern::Glob(glob.compile_matcher()))
    }

    /// Whether `c` matches.
    pub fn matches(&self, c: &CommandEntry) -> bool {
        match self {
            CmdPattern::Regex(re) => re.is_match(&c.argv),
            CmdPattern::Glob(g) => {
                if g.is_match(&c.name) || g.is_match(&c.argv) {
                    return true;
                }
                // `nmap -sS*` should match `/usr/bin/nmap -sS ...` too.
                match c.argv.split_once(' ') {
                    Some((_, rest)) => g.is_match(format!("{} {rest}", c.name)),
                    None => false,
                }
            }
        }
    }
}

/// `/inner/` → `inner` (at least one character inside).
pub fn slashed(s: &str) -> Option<&str> {
    s.strip_prefix('/')
        .and_then(|r| r.strip_suffix('/'))
        .filter(|r| !r.is_empty())
}

/// An address or a network (`192.0.2.0/24`, `2001:db8::/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parse `IP` or `IP/LEN`.
    pub fn parse(s: &str) -> Result<Cidr> {
        let bad =
            || format!("invalid --client '{s}': expected an IP address or CIDR (192.0.2.0/24)");
        let (ip, len) = match s.split_once('/') {
            Some((ip, len)) => (ip, Some(len)),
            None => (s, None),
        };
        let addr: IpAddr = ip.trim_matches(['[', ']']).parse().ok().with_context(bad)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match len {
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .with_context(bad)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` lies in the network (IPv4-mapped IPv6 addresses count
    /// as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let (a, b, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(u32::from(n)), u128::from(u32::from(i)), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
            _ => return false,
        };
        if self.prefix == 0 {
            return true;
        }
        let shift = bits - u32::from(self.prefix);
        (a >> shift) == (b >> shift)
    }
}

/// All criteria, AND-ed.
#[derive(Debug, Default)]
pub struct Query {
    /// `--cmd`.
    pub cmd: Option<CmdPattern>,
    /// `--user`.
    pub user: Option<String>,
    /// `--pid`: the connection's sshd pid.
    pub sshd_pid: Option<u32>,
    /// `--client`.
    pub client: Option<Cidr>,
    /// `--since`: sessions that started at or after.
    pub since: Option<DateTime<Utc>>,
    /// `--until`: sessions that started at or before.
    pub until: Option<DateTime<Utc>>,
    /// `--exit-code`.
    pub exit_code: Option<i32>,
    /// `--event` (every type must be present).
    pub events: Vec<String>,
    /// `--output`.
    pub output: Option<OutputMatcher>,
}

impl Query {
    /// Check the entry's metadata. `None`: the session cannot match.
    /// `Some(hits)`: the indexes of the matching commands (for `--cmd`
    /// and/or `--exit-code`, which must hold for the same command; empty
    /// without those criteria).
    pub fn check(&self, e: &IndexEntry) -> Option<Vec<usize>> {
        if let Some(u) = &self.user {
            if e.user.as_deref() != Some(u.as_str()) {
                return None;
            }
        }
        if self.sshd_pid.is_some_and(|p| e.sshd_pid != Some(p)) {
            return None;
        }
        if let Some(net) = &self.client {
            let ip: IpAddr = e.client_ip.as_deref()?.parse().ok()?;
            if !net.contains(ip) {
                return None;
            }
        }
        if self.since.is_some_and(|s| e.start < s) || self.until.is_some_and(|u| e.start > u) {
            return None;
        }
        if !self
            .events
            .iter()
            .all(|t| e.events.iter().any(|have| have == t))
        {
            return None;
        }
        if self.output.is_some() && e.cast.is_none() {
            return None;
        }
        if self.cmd.is_none() && self.exit_code.is_none() {
            return Some(Vec::new());
        }
        let hits: Vec<usize> = e
            .commands
            .iter()
            .enumerate()
            .filter(|(_, c)| match &self.cmd {
                Some(p) => p.matches(c),
                None => true,
            })
            .filter(|(_, c)| match self.exit_code {
                Some(x) => c.exit == Some(x),
                None => true,
            })
            .map(|(i, _)| i)
            .collect();
        (!hits.is_empty()).then_some(hits)
    }
}

/// Validate `--event` names (known types, or anything snake_case).
pub fn check_event_type(t: &str) -> Result<()> {
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
    {
        bail!(
            "invalid --event '{t}': expected an event type such as {}",
            sshlog_format::sidecar::KNOWN_TYPES.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(argv: &str) -> CommandEntry {
        let first = argv.split(' ').next().unwrap_or("");
        CommandEntry {
            t_us: 0,
            name: first.rsplit('/').next().unwrap_or(first).into(),
            argv: argv.into(),
            pid: 1,
            exit: Some(0),
            signal: None,
        }
    }

    #[test]
    fn globs_match_name_or_command_line() {
        let p = CmdPattern::parse("nmap").unwrap();
        assert!(p.matches(&cmd("/usr/bin/nmap -sS 10.0.0.0/24")));
        assert!(!p.matches(&cmd("/usr/bin/nmapx")));
        let p = CmdPattern::parse("nmap *10.0.*").unwrap();
        assert!(p.matches(&cmd("/usr/bin/nmap -sS 10.0.0.0/24")));
        let p = CmdPattern::parse("*passwd*").unwrap();
        assert!(p.matches(&cmd("cat /etc/passwd")));
        let p = CmdPattern::parse("/^sudo .*rm -rf/").unwrap();
        assert!(p.matches(&cmd("sudo /bin/rm -rf /tmp/x")));
        assert!(!p.matches(&cmd("rm -rf /tmp/x")));
        assert!(CmdPattern::parse("/(/").is_err());
    }

    #[test]
    fn cidrs() {
        let n = Cidr::parse("192.0.2.0/24").unwrap();
        assert!(n.contains("192.0.2.77".parse().unwrap()));
        assert!(n.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        assert!(!n.contains("2001:db8::1".parse().unwrap()));
        let one = Cidr::parse("198.51.100.7").unwrap();
        assert!(one.contains("198.51.100.7".parse().unwrap()));
        assert!(!one.contains("198.51.100.8".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        for bad in ["x", "192.0.2.0/33", "192.0.2.0/", "/24"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
