//! Filters: conditions on an event, all of which must hold (AND). A filter
//! about something an event type does not carry (e.g. `exit_code` on
//! `command_start`) does not match that event.

use globset::{Glob, GlobSet, GlobSetBuilder};
use ipnet::IpNet;
use regex::Regex;

use super::context::Facts;
use super::error::Diag;
use super::fields::{as_strings, as_uint, Fields};
use super::yaml::{Node, Value};

/// Every filter name, in documentation order.
pub const FILTERS: &[&str] = &[
    "username",
    "ignore_existing_logins",
    "command_name",
    "argv",
    "exit_code",
    "client_ip",
    "tty",
    "output_contains",
    "uid",
    "require_tty",
    // The sshlog agent's filters.
    "command_name_regex",
    "command_exit_code",
    "command_output_contains",
    "command_output_contains_regex",
    "username_regex",
    "upload_file_path",
    "upload_file_path_regex",
];

/// Condition on the exit code of `command_finish` / `outbound_connection_end`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitCode {
    pub eq: Option<i64>,
    pub ne: Option<i64>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// One of these (the agent's list form).
    pub any_of: Option<Vec<i64>>,
}

impl ExitCode {
    fn matches(&self, code: i64) -> bool {
        self.any_of.as_ref().is_none_or(|l| l.contains(&code))
            && self.eq.is_none_or(|v| code == v)
            && self.ne.is_none_or(|v| code != v)
            && self.min.is_none_or(|v| code >= v)
            && self.max.is_none_or(|v| code <= v)
    }
}

/// The filters of one event.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    username: Option<GlobSet>,
    ignore_existing_logins: bool,
    command_name: Option<GlobSet>,
    argv: Option<Regex>,
    exit_code: Option<ExitCode>,
    client_ip: Option<Vec<IpNet>>,
    tty: Option<GlobSet>,
    output_contains: Option<Regex>,
    uid: Option<Vec<u32>>,
    require_tty: bool,
    command_name_regex: Option<Regex>,
    command_exit_code: Option<ExitCode>,
    command_output_contains: Option<String>,
    command_output_contains_regex: Option<Regex>,
    username_regex: Option<Regex>,
    upload_file_path: Option<Vec<String>>,
    upload_file_path_regex: Option<Regex>,
    /// Filters of the agent's Python plugins: (YAML name, argument), run
    /// off the dispatching thread (see `engine.rs`).
    pub plugins: Vec<(String, serde_json::Value)>,
}

/// The agent's `command_exit_code`: an integer, a comparison such as
/// `'!= 0'` or `'> 1'`, or a list of integers.
fn agent_exit_code(d: &mut Diag, n: &Node) -> Option<ExitCode> {
    let key = "command_exit_code";
    match &n.value {
        Value::Int(i) => Some(ExitCode {
            eq: Some(*i),
            ..ExitCode::default()
        }),
        Value::Str(s) => match crate::agent::compare::parse(s) {
            Ok(c) => Some(c),
            Err(e) => {
                d.err(n.pos, format!("`{key}`: {e}"));
                None
            }
        },
        Value::Seq(items) => {
            let codes: Option<Vec<i64>> = items.iter().map(|it| int(d, it, key)).collect();
            Some(ExitCode {
                any_of: Some(codes?),
                ..ExitCode::default()
            })
        }
        other => {
            d.err(
                n.pos,
                format!(
                    "`{key}`: expected an integer, a comparison such as '!= 0', or a list of integers, found {}",
                    other.type_name()
                ),
            );
            None
        }
    }
}

/// `p` with `.` and `..` components and repeated `/` resolved (the
/// uploaded file may live in another root, so the file system is not asked).
pub fn normalize_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if p.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

fn globs(d: &mut Diag, n: &Node, key: &str) -> Option<GlobSet> {
    let mut b = GlobSetBuilder::new();
    let mut ok = true;
    for (pat, pos) in as_strings(d, n, key)? {
        match Glob::new(&pat) {
            Ok(g) => {
                b.add(g);
            }
            Err(e) => {
                ok = false;
                d.err(
                    pos,
                    format!("`{key}`: bad glob pattern `{pat}`: {}", e.kind()),
                );
            }
        }
    }
    if !ok {
        return None;
    }
    match b.build() {
        Ok(set) => Some(set),
        Err(e) => {
            d.err(n.pos, format!("`{key}`: {e}"));
            None
        }
    }
}

fn regex(d: &mut Diag, n: &Node, key: &str) -> Option<Regex> {
    let Value::Str(s) = &n.value else {
        d.err(
            n.pos,
            format!(
                "`{key}`: expected a regular expression (string), found {}",
                n.value.type_name()
            ),
        );
        return None;
    };
    match Regex::new(s) {
        Ok(r) => Some(r),
        Err(e) => {
            let detail = e.to_string().lines().last().unwrap_or_default().to_owned();
            d.err(n.pos, format!("`{key}`: bad regular expression: {detail}"));
            None
        }
    }
}

fn cidrs(d: &mut Diag, n: &Node) -> Option<Vec<IpNet>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (s, pos) in as_strings(d, n, "client_ip")? {
        let parsed = s
            .parse::<IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from));
        match parsed {
            Ok(net) => out.push(net),
            Err(_) => {
                ok = false;
                d.err(
                    pos,
                    format!("`client_ip`: bad CIDR `{s}` (e.g. 10.0.0.0/8, 192.0.2.7, ::1/128)"),
                );
            }
        }
    }
    ok.then_some(out)
}

fn int(d: &mut Diag, n: &Node, key: &str) -> Option<i64> {
    match n.value {
        Value::Int(i) => Some(i),
        _ => {
            d.err(
                n.pos,
                format!(
                    "`{key}`: expected an integer, found {}",
                    n.value.type_name()
                ),
            );
            None
        }
    }
}

fn exit_code(d: &mut Diag, n: &Node) -> Option<ExitCode> {
    if let Value::Int(i) = n.value {
        return Some(ExitCode {
            eq: Some(i),
            ..ExitCode::default()
        });
    }
    if !matches!(n.value, Value::Map(_)) {
        d.err(
            n.pos,
            format!(
                "`exit_code`: expected an integer or a mapping with eq/ne/min/max, found {}",
                n.value.type_name()
            ),
        );
        return None;
    }
    let mut f = Fields::of(d, n, "exit_code")?;
    let mut get = |d: &mut Diag, k: &'static str| f.get(k).and_then(|v| int(d, v, k));
    let ec = ExitCode {
        eq: get(d, "eq"),
        ne: get(d, "ne"),
        min: get(d, "min"),
        max: get(d, "max"),
        any_of: None,
    };
    f.finish(d, "exit_code", "key");
    Some(ec)
}

fn uids(d: &mut Diag, n: &Node) -> Option<Vec<u32>> {
    let items: Vec<&Node> = match &n.value {
        Value::Seq(v) => v.iter().collect(),
        _ => vec![n],
    };
    items
        .into_iter()
        .map(|it| as_uint(d, it, "uid", u64::from(u32::MAX)).map(|u| u as u32))
        .collect()
}

impl Filters {
    /// Parse the `filters:` mapping of an event; `python` lists the agent
    /// plugins' filters of the plugins directory.
    pub fn parse(
        d: &mut Diag,
        node: &Node,
        python: Option<&crate::agent::python::Catalog>,
    ) -> Option<Filters> {
        let before = d.errors.len();
        let mut f = Fields::of(d, node, "filters")?;
        let mut filters = Filters {
            username: f.get("username").and_then(|n| globs(d, n, "username")),
            ignore_existing_logins: f.bool_or(d, "ignore_existing_logins", false),
            command_name: f
                .get("command_name")
                .and_then(|n| globs(d, n, "command_name")),
            argv: f.get("argv").and_then(|n| regex(d, n, "argv")),
            exit_code: f.get("exit_code").and_then(|n| exit_code(d, n)),
            client_ip: f.get("client_ip").and_then(|n| cidrs(d, n)),
            tty: f.get("tty").and_then(|n| globs(d, n, "tty")),
            output_contains: f
                .get("output_contains")
                .and_then(|n| regex(d, n, "output_contains")),
            uid: f.get("uid").and_then(|n| uids(d, n)),
            require_tty: f.bool_or(d, "require_tty", false),
            command_name_regex: f
                .get("command_name_regex")
                .and_then(|n| regex(d, n, "command_name_regex")),
            command_exit_code: f
                .get("command_exit_code")
                .and_then(|n| agent_exit_code(d, n)),
            command_output_contains: f.string(d, "command_output_contains"),
            command_output_contains_regex: f
                .get("command_output_contains_regex")
                .and_then(|n| regex(d, n, "command_output_contains_regex")),
            username_regex: f
                .get("username_regex")
                .and_then(|n| regex(d, n, "username_regex")),
            upload_file_path: f
                .strings(d, "upload_file_path")
                .map(|v| v.into_iter().map(|(p, _)| normalize_path(&p)).collect()),
            upload_file_path_regex: f
                .get("upload_file_path_regex")
                .and_then(|n| regex(d, n, "upload_file_path_regex")),
            plugins: Vec::new(),
        };
        if let Some(catalog) = python {
            for (name, key_pos, n) in f.take_rest() {
                if catalog.filters.contains_key(&name) {
                    filters.plugins.push((name, n.to_json()));
                } else {
                    let mut plugin_names: Vec<&str> =
                        catalog.filters.keys().map(String::as_str).collect();
                    plugin_names.sort();
                    d.err(
                        key_pos,
                        format!(
                            "unknown filter `{name}` for filters (valid: {}, and the Python plugins' {})",
                            FILTERS.join(", "),
                            plugin_names.join(", ")
                        ),
                    );
                }
            }
        }
        f.finish(d, "filters", "filter");
        (d.errors.len() == before).then_some(filters)
    }

    /// Whether every filter holds for the event.
    pub fn matches(&self, f: &Facts<'_>) -> bool {
        fn glob(set: &Option<GlobSet>, v: Option<&str>) -> bool {
            set.as_ref()
                .is_none_or(|s| v.is_some_and(|v| s.is_match(v)))
        }
        glob(&self.username, f.user)
            && !(self.ignore_existing_logins && f.existing_login)
            && glob(&self.command_name, f.command_name)
            && self
                .argv
                .as_ref()
                .is_none_or(|r| f.argv.is_some_and(|a| r.is_match(&a.join(" "))))
            && self
                .exit_code
                .as_ref()
                .is_none_or(|c| f.exit_code.is_some_and(|code| c.matches(code.into())))
            && self.client_ip.as_ref().is_none_or(|nets| {
                f.client_ip
                    .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)))
            })
            && glob(&self.tty, f.tty)
            && self
                .output_contains
                .as_ref()
                .is_none_or(|r| f.output.is_some_and(|t| r.is_match(t)))
            && self
                .uid
                .as_ref()
                .is_none_or(|u| f.uid.is_some_and(|uid| u.contains(&uid)))
            && !(self.require_tty && f.tty.is_none_or(str::is_empty))
            && self.matches_agent_filters(f)
    }

    /// The sshlog agent's filters (each only about its own event types).
    fn matches_agent_filters(&self, f: &Facts<'_>) -> bool {
        fn re(r: &Option<Regex>, v: Option<&str>) -> bool {
            r.as_ref().is_none_or(|r| v.is_some_and(|v| r.is_match(v)))
        }
        let output = f.command_output;
        re(&self.command_name_regex, f.command_name)
            && self.command_exit_code.as_ref().is_none_or(|c| {
                f.finished && f.exit_code.is_some_and(|code| c.matches(code.into()))
            })
            && self
                .command_output_contains
                .as_ref()
                .is_none_or(|needle| output.is_some_and(|o| o.contains(needle.as_str())))
            && re(&self.command_output_contains_regex, output)
            && re(&self.username_regex, f.user)
            && self.upload_file_path.as_ref().is_none_or(|paths| {
                f.upload_path
                    .is_some_and(|p| paths.contains(&normalize_path(p)))
            })
            && re(&self.upload_file_path_regex, f.upload_path)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::Utc;
    use sshlog_format::{Record, SessionEvent};

    use super::*;
    use crate::context::EventContext;
    use crate::yaml::parse;

    fn filters(yaml: &str) -> Result<Filters, Vec<String>> {
        let node = parse(yaml).expect("yaml").expect("doc");
        let mut d = Diag::new(Path::new("t.yaml"));
        Filters::parse(&mut d, &node, None)
            .ok_or_else(|| d.errors.iter().map(|e| e.to_string()).collect())
    }

    fn start(argv: &[&str], user: &str, uid: u32) -> Record {
        Record::new(
            Utc::now(),
            None,
            SessionEvent::CommandStart {
                pid: 10,
                ppid: 1,
                uid,
                user: Some(user.into()),
                argv: argv.iter().map(|s| s.to_string()).collect(),
                argv_truncated: false,
                filename: format!("/usr/bin/{}", argv[0]),
                cwd: None,
            },
        )
    }

    fn finish(code: Option<i32>) -> Record {
        Record::new(
            Utc::now(),
            None,
            SessionEvent::CommandFinish {
                pid: 10,
                exit_code: code,
                signal: None,
                duration_ms: 5,
                argv: vec!["/usr/bin/false".into()],
            },
        )
    }

    fn m(f: &Filters, r: &Record, ctx: &EventContext) -> bool {
        f.matches(&Facts::of(r, ctx))
    }

    #[test]
    fn command_and_user_globs() {
        let f = filters("command_name: nmap\nusername: [alice, 'b*']\n").expect("valid");
        let ctx = EventContext::default();
        assert!(m(&f, &start(&["nmap", "-sS"], "alice", 1000), &ctx));
        assert!(m(&f, &start(&["/usr/bin/nmap"], "bob", 1000), &ctx));
        assert!(!m(&f, &start(&["nmap"], "carol", 1000), &ctx));
        assert!(!m(&f, &start(&["ls"], "alice", 1000), &ctx));
    }

    #[test]
    fn exit_code_only_matches_finish() {
        let f = filters("exit_code: {min: 1}\n").expect("valid");
        let ctx = EventContext::default();
        assert!(m(&f, &finish(Some(2)), &ctx));
        assert!(!m(&f, &finish(Some(0)), &ctx));
        assert!(!m(&f, &finish(None), &ctx));
        assert!(!m(&f, &start(&["ls"], "a", 1), &ctx));
        let eq = filters("exit_code: 0\n").expect("valid");
        assert!(m(&eq, &finish(Some(0)), &ctx));
    }

    #[test]
    fn ip_uid_tty_argv_and_existing() {
        let f = filters(
            "client_ip: [10.0.0.0/8, 192.0.2.7]\nuid: [1000]\nrequire_tty: true\ntty: '/dev/pts/*'\nargv: '-s[ST]'\nignore_existing_logins: true\n",
        )
        .expect("valid");
        let mut ctx = EventContext {
            client_ip: "10.1.2.3".parse().ok(),
            tty: Some("/dev/pts/4".into()),
            ..EventContext::default()
        };
        assert!(m(&f, &start(&["nmap", "-sS"], "a", 1000), &ctx));
        assert!(!m(&f, &start(&["nmap", "-sU"], "a", 1000), &ctx));
        assert!(!m(&f, &start(&["nmap", "-sS"], "a", 0), &ctx));
        ctx.existing_login = true;
        assert!(!m(&f, &start(&["nmap", "-sS"], "a", 1000), &ctx));
        ctx.existing_login = false;
        ctx.client_ip = "192.0.2.8".parse().ok();
        assert!(!m(&f, &start(&["nmap", "-sS"], "a", 1000), &ctx));
        ctx.client_ip = "192.0.2.7".parse().ok();
        ctx.tty = None;
        assert!(!m(&f, &start(&["nmap", "-sS"], "a", 1000), &ctx));
    }

    #[test]
    fn output_contains_on_terminal_update() {
        let f = filters("output_contains: 'pass(word)?:'\n").expect("valid");
        let ctx = EventContext::default();
        let upd = |t: &str| {
            Record::new(
                Utc::now(),
                None,
                SessionEvent::TerminalUpdate { text: t.into() },
            )
        };
        assert!(m(&f, &upd("sudo password:"), &ctx));
        assert!(!m(&f, &upd("hello"), &ctx));
        assert!(!m(&f, &start(&["ls"], "a", 1), &ctx));
    }

    #[test]
    fn errors_name_the_problem() {
        let e = filters("usrname: x\n").expect_err("unknown");
        assert!(
            e[0].starts_with("t.yaml:1:1: unknown filter `usrname`"),
            "{e:?}"
        );
        assert!(e[0].contains("username, ignore_existing_logins"), "{e:?}");
        let e = filters("argv: '(['\n").expect_err("bad regex");
        assert!(
            e[0].starts_with("t.yaml:1:7: `argv`: bad regular expression"),
            "{e:?}"
        );
        let e = filters("client_ip: 10.0.0.0/33\n").expect_err("bad cidr");
        assert!(
            e[0].starts_with("t.yaml:1:12: `client_ip`: bad CIDR"),
            "{e:?}"
        );
        let e = filters("tty: 'a[b'\n").expect_err("bad glob");
        assert!(e[0].starts_with("t.yaml:1:6: `tty`: bad glob"), "{e:?}");
        let e = filters("uid: alice\n").expect_err("bad uid");
        assert!(
            e[0].contains("`uid`: expected a non-negative integer"),
            "{e:?}"
        );
    }
}
