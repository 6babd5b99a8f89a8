//! Recognises the few sshd log messages that carry authentication facts.
//!
//! sshd's messages reach us through syslog `send`s, its stderr (`sshd -e`), or the
//! socket a privilege-separated child forwards them to its monitor on; the text may
//! be wrapped in a syslog or monitor header, so patterns are searched anywhere.
//! Everything that does not match is dropped unread (monitor traffic may hold
//! passwords; it is never logged).

use regex::Regex;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMessage {
    Accepted {
        method: String,
        user: String,
        ip: String,
        port: u16,
    },
    Failed {
        method: Option<String>,
        user: String,
        ip: String,
        port: u16,
    },
    /// A client that gave up (or was cut off) before authenticating.
    ClosedPreauth { user: String, ip: String, port: u16 },
}

struct Patterns {
    accepted: Regex,
    failed: Regex,
    invalid: Regex,
    closed: Regex,
    max_tries: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("static pattern");
        Patterns {
            accepted: re(r"Accepted (\S+) for (\S+) from (\S+) port (\d+)"),
            failed: re(r"Failed (\S+) for (?:invalid user )?(\S+) from (\S+) port (\d+)"),
            invalid: re(r"Invalid user (\S*) from (\S+) port (\d+)"),
            closed: re(r"(?:Connection closed|Disconnected) by (?:authenticating|invalid) user (\S*) (\S+) port (\d+)"),
            max_tries: re(r"maximum authentication attempts exceeded for (?:invalid user )?(\S+) from (\S+) port (\d+)"),
        }
    })
}

/// Parses one captured log write; `None` for anything that is not an auth fact.
pub fn parse(text: &str) -> Option<AuthMessage> {
    let p = patterns();
    let port = |s: &str| s.parse::<u16>().ok();
    if let Some(c) = p.accepted.captures(text) {
        return Some(AuthMessage::Accepted {
            method: c[1].to_string(),
            user: c[2].to_string(),
            ip: c[3].to_string(),
            port: port(&c[4])?,
        });
    }
    if let Some(c) = p.failed.captures(text) {
        return Some(AuthMessage::Failed {
            method: Some(c[1].to_string()),
            user: c[2].to_string(),
            ip: c[3].to_string(),
            port: port(&c[4])?,
        });
    }
    if let Some(c) = p.max_tries.captures(text) {
        return Some(AuthMessage::Failed {
            method: None,
            user: c[1].to_string(),
            ip: c[2].to_string(),
            port: port(&c[3])?,
        });
    }
    if let Some(c) = p.invalid.captures(text) {
        return Some(AuthMessage::Failed {
            method: Some("none".into()),
            user: c[1].to_string(),
            ip: c[2].to_string(),
            port: port(&c[3])?,
        });
    }
    if let Some(c) = p.closed.captures(text) {
        return Some(AuthMessage::ClosedPreauth {
            user: c[1].to_string(),
            ip: c[2].to_string(),
            port: port(&c[3])?,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_sshd_9_messages() {
        assert_eq!(
            parse("<38>Nov 28 10:57:17 sshd[1805]: Accepted publickey for bob from 127.0.0.1 port 50022 ssh2: ED25519 SHA256:x"),
            Some(AuthMessage::Accepted { method: "publickey".into(), user: "bob".into(), ip: "127.0.0.1".into(), port: 50022 })
        );
        assert_eq!(
            parse("Failed password for invalid user eve from ::1 port 4000 ssh2\n"),
            Some(AuthMessage::Failed {
                method: Some("password".into()),
                user: "eve".into(),
                ip: "::1".into(),
                port: 4000
            })
        );
        assert_eq!(
            parse("\0\0\0\x50\0\0\0\x04Connection closed by authenticating user bob 127.0.0.1 port 5 [preauth]"),
            Some(AuthMessage::ClosedPreauth { user: "bob".into(), ip: "127.0.0.1".into(), port: 5 })
        );
        assert!(matches!(
            parse("Invalid user mallory from 10.0.0.1 port 22"),
            Some(AuthMessage::Failed { .. })
        ));
        assert_eq!(parse("Server listening on 0.0.0.0 port 22."), None);
        assert_eq!(
            parse("Accepted publickey for bob from 1.2.3.4 port 99999"),
            None
        );
    }
}
