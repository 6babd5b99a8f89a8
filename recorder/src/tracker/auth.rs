//! Authentication facts from sshd's own log text: the user that logged in, failed
//! attempts.

use super::*;

impl Tracker {
    pub(super) fn on_log(&mut self, h: KHeader, text: String, sink: &mut dyn Sink) {
        let Some(msg) = sshd_log::parse(&text) else {
            return;
        };
        let c = self.conn(&h);
        // The same message is seen twice when a privilege-separated child forwards
        // it to its monitor which then logs it.
        let key = format!("{msg:?}");
        if c.recent_logs.contains(&key) {
            return;
        }
        c.recent_logs.push_back(key);
        if c.recent_logs.len() > 16 {
            c.recent_logs.pop_front();
        }
        let client: Option<SocketAddr> = c.client;
        match msg {
            AuthMessage::Accepted { user, ip, port, .. } => {
                c.user = Some(user);
                c.user_from_log = true;
                if let Ok(ip) = ip.parse() {
                    c.client = Some(SocketAddr::new(ip, port));
                }
                c.accepted = true;
            }
            AuthMessage::Failed {
                method,
                user,
                ip,
                port,
            } => {
                c.auth_failures += 1;
                c.preauth_user = Some(user.clone());
                let ev = SessionEvent::ConnectionAuthFailed {
                    user: Some(user),
                    client_ip: client.map(|a| a.ip().to_string()).unwrap_or(ip),
                    client_port: client.map(|a| a.port()).unwrap_or(port),
                    method,
                    sshd_pid: h.conn,
                };
                self.emit(h.conn, h.ts_ns, ev, sink);
            }
            AuthMessage::ClosedPreauth { user, .. } => {
                if !user.is_empty() {
                    c.preauth_user = Some(user);
                }
            }
        }
    }
}
