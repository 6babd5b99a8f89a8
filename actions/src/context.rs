//! What an action gets: the record, the session context the daemon knows
//! about it, and the event JSON built from both.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;
use sshlog_format::{Record, SessionEvent};

use crate::agent;
use uuid::Uuid;

/// What the daemon knows about the session an event belongs to. Fields the
/// record itself carries take precedence over these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventContext {
    pub session_id: Option<Uuid>,
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub client_ip: Option<IpAddr>,
    pub client_port: Option<u16>,
    /// Terminal device path, e.g. `/dev/pts/3`.
    pub tty: Option<String>,
    /// The session predates the recorder.
    pub existing_login: bool,
    pub sshd_pid: Option<u32>,
    /// For `command_finish`: the first 2,048 bytes of the output the command
    /// produced (as text, escapes left in), when the recorder attributed any.
    pub command_output: Option<String>,
}

/// One event on its way to an action.
#[derive(Debug)]
pub struct Delivery {
    pub record: Record,
    pub ctx: EventContext,
    /// [`event_json`] of the two.
    pub json: Value,
    /// The same event as the sshlog agent described it ([`agent::payload`]).
    pub agent: Value,
    /// Name of the configured event that matched.
    pub event_name: Arc<str>,
}

impl Delivery {
    /// A delivery of `record` for the event `event_name`.
    pub fn new(record: Record, ctx: EventContext, event_name: Arc<str>) -> Delivery {
        let json = event_json(&record, &ctx);
        let agent = agent::payload(&record, &json, &ctx);
        Delivery {
            record,
            ctx,
            json,
            agent,
            event_name,
        }
    }

    /// A top-level string field of the event JSON.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }

    /// The terminal device of the session, if any.
    pub fn tty(&self) -> Option<&str> {
        self.str_field("tty")
    }
}

/// The record's JSON (as in the sidecar) completed with the context fields
/// it lacks: `session_id`, `user`, `uid`, `client_ip`, `client_port`, `tty`,
/// `sshd_pid`, `existing_login`. A `null` field in the record is replaced by
/// the context's value when the context has one.
pub fn event_json(record: &Record, ctx: &EventContext) -> Value {
    let mut v = record.to_json();
    if let Value::Object(m) = &mut v {
        let mut add = |k: &str, val: Option<Value>| {
            if let Some(val) = val {
                let missing = m.get(k).is_none_or(Value::is_null);
                if missing {
                    m.insert(k.to_owned(), val);
                }
            }
        };
        add("session_id", ctx.session_id.map(|u| u.to_string().into()));
        add("user", ctx.user.clone().map(Value::from));
        add("uid", ctx.uid.map(Value::from));
        add("client_ip", ctx.client_ip.map(|ip| ip.to_string().into()));
        add("client_port", ctx.client_port.map(Value::from));
        add("tty", ctx.tty.clone().map(Value::from));
        add("sshd_pid", ctx.sshd_pid.map(Value::from));
        if !m.contains_key("existing_login") {
            m.insert("existing_login".into(), ctx.existing_login.into());
        }
    }
    v
}

/// The facts filters look at, taken from the record first, then the context.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    pub user: Option<&'a str>,
    pub uid: Option<u32>,
    pub client_ip: Option<IpAddr>,
    pub tty: Option<&'a str>,
    pub existing_login: bool,
    /// Command name (basename of argv[0], else of the file name).
    pub command_name: Option<&'a str>,
    pub argv: Option<&'a [String]>,
    pub exit_code: Option<i32>,
    pub output: Option<&'a str>,
    /// A `command_finish`.
    pub finished: bool,
    /// The output the finished command produced (its first 2,048 bytes).
    pub command_output: Option<&'a str>,
    /// Where a `file_upload` wrote.
    pub upload_path: Option<&'a str>,
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

impl<'a> Facts<'a> {
    pub fn of(record: &'a Record, ctx: &'a EventContext) -> Facts<'a> {
        let mut f = Facts {
            user: ctx.user.as_deref(),
            uid: ctx.uid,
            client_ip: ctx.client_ip,
            tty: ctx.tty.as_deref(),
            existing_login: ctx.existing_login,
            ..Facts::default()
        };
        match &record.event {
            SessionEvent::ConnectionEstablished {
                user,
                client_ip,
                tty,
                existing_login,
                ..
            } => {
                f.user = Some(user);
                f.client_ip = client_ip.parse().ok().or(f.client_ip);
                f.tty = tty.as_deref().or(f.tty);
                f.existing_login |= *existing_login;
            }
            SessionEvent::ConnectionAuthFailed {
                user, client_ip, ..
            } => {
                f.user = user.as_deref().or(f.user);
                f.client_ip = client_ip.parse().ok().or(f.client_ip);
            }
            SessionEvent::ConnectionClose { user, .. } => f.user = Some(user),
            SessionEvent::CommandStart {
                uid,
                user,
                argv,
                filename,
                ..
            } => {
                f.uid = Some(*uid);
                f.user = user.as_deref().or(f.user);
                f.argv = Some(argv);
                f.command_name = Some(basename(argv.first().unwrap_or(filename)));
            }
            SessionEvent::CommandFinish {
                exit_code, argv, ..
            } => {
                f.argv = Some(argv);
                f.command_name = argv.first().map(|a| basename(a));
                f.exit_code = *exit_code;
                f.finished = true;
                f.command_output = Some(ctx.command_output.as_deref().unwrap_or_default());
            }
            SessionEvent::FileUpload { user, path, .. } => {
                f.user = user.as_deref().or(f.user);
                f.upload_path = Some(path);
            }
            SessionEvent::TerminalUpdate { text } => f.output = Some(text),
            SessionEvent::OutboundConnectionStart { uid, user, .. } => {
                f.uid = Some(*uid);
                f.user = user.as_deref().or(f.user);
            }
            SessionEvent::OutboundConnectionEnd {
                user, exit_code, ..
            } => {
                f.user = user.as_deref().or(f.user);
                f.exit_code = *exit_code;
            }
            _ => {}
        }
        f
    }
}
