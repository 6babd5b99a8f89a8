//! `{{field}}` templates over the event JSON. `{{user}}` inserts a field as
//! text (strings verbatim, lists of strings joined by spaces, other values
//! as JSON, missing fields as nothing),
//! `{{argv|json}}` inserts it JSON-encoded (for JSON bodies), `{{a.b}}`
//! follows nested objects. Special names: `summary` (the event-log line
//! without its timestamp), `event_json` (the whole event), `hostname`,
//! `event_name` (the configured event that matched). A field the event JSON
//! lacks is looked up in the sshlog agent's payload of the event, so the
//! agent's `{{username}}`, `{{tty_id}}` or `{{args}}` work too.

use serde_json::Value;
use sshlog_format::human_line;

use super::context::Delivery;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field { path: String, json: bool },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parse `text`; an unterminated `{{` or an empty or unknown-filter
    /// placeholder is an error.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| "unterminated `{{` placeholder".to_owned())?;
            let inner = after[..end].trim();
            let (path, json) = match inner.split_once('|') {
                Some((p, f)) if f.trim() == "json" => (p.trim(), true),
                Some((_, f)) => {
                    return Err(format!(
                        "unknown template filter `{}` (valid: json)",
                        f.trim()
                    ))
                }
                None => (inner, false),
            };
            if path.is_empty() {
                return Err("empty `{{}}` placeholder".into());
            }
            parts.push(Part::Field {
                path: path.to_owned(),
                json,
            });
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// Fill in the placeholders from the delivery.
    pub fn render(&self, d: &Delivery) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field { path, json } => {
                    let v = lookup(d, path);
                    match (v, json) {
                        (v, true) => out.push_str(&v.to_string()),
                        (Value::String(s), false) => out.push_str(&s),
                        (Value::Null, false) => {}
                        (Value::Array(a), false) if a.iter().all(Value::is_string) => {
                            let words: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                            out.push_str(&words.join(" "));
                        }
                        (v, false) => out.push_str(&v.to_string()),
                    }
                }
            }
        }
        out
    }
}

/// The event-log line of the record without its timestamp.
pub fn summary(d: &Delivery) -> String {
    let line = human_line(&d.record);
    // `YYYY-mm-dd HH:MM:SS ` is 20 bytes of ASCII.
    line.get(20..).unwrap_or(&line).to_owned()
}

/// This host's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn lookup(d: &Delivery, path: &str) -> Value {
    match path {
        "summary" => return summary(d).into(),
        "event_json" => return Value::String(d.json.to_string()),
        "hostname" => return hostname().into(),
        "event_name" => return Value::String(d.event_name.to_string()),
        _ => {}
    }
    // Fields sshlog does not have come from the agent's payload
    // (`{{username}}`, `{{tty_id}}`, `{{args}}`...).
    let first = path.split('.').next().unwrap_or(path);
    let mut cur = match d.json.get(first) {
        Some(_) => &d.json,
        None => &d.agent,
    };
    for key in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(key).unwrap_or(&Value::Null),
            Value::Array(a) => key
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
    }
    cur.clone()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;
    use sshlog_format::{Record, SessionEvent};

    use super::*;
    use crate::context::EventContext;

    fn delivery() -> Delivery {
        let record = Record::new(
            Utc::now(),
            None,
            SessionEvent::CommandStart {
                pid: 7,
                ppid: 1,
                uid: 1000,
                user: Some("al\"ice".into()),
                argv: vec!["nmap".into(), "-sS".into()],
                argv_truncated: false,
                filename: "/usr/bin/nmap".into(),
                cwd: None,
            },
        );
        let ctx = EventContext {
            tty: Some("/dev/pts/3".into()),
            ..EventContext::default()
        };
        Delivery::new(record, ctx, Arc::from("ev"))
    }

    #[test]
    fn renders_fields() {
        let d = delivery();
        let t = Template::parse(
            "{{ user }} ran {{argv.0}} {{argv|json}} on {{tty}}{{nope}} [{{event_name}}]",
        )
        .expect("valid");
        assert_eq!(
            t.render(&d),
            "al\"ice ran nmap [\"nmap\",\"-sS\"] on /dev/pts/3 [ev]"
        );
        let j = Template::parse("{\"u\": {{user|json}}}").expect("valid");
        let v: Value = serde_json::from_str(&j.render(&d)).expect("json");
        assert_eq!(v["u"], "al\"ice");
        let words = Template::parse("{{argv}}").expect("valid");
        assert_eq!(words.render(&d), "nmap -sS");
        assert!(Template::parse("{{user").is_err());
        assert!(Template::parse("{{user|upper}}").is_err());
        assert!(summary(&d).starts_with("command_start (7) al\"ice executed nmap -sS"));
    }
}
