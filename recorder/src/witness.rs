//! When the seal chain's head goes off the host: after every new seal (at
//! the next tick) and at least every [`EVERY`], re-signed with the time it
//! is sent. It goes out as a `chain_head` event (the event log, and the
//! syslog or any other action a `chain_head` trigger names) and, with a
//! fleet store, as an object of its own. `sshlog verify --witness` compares
//! the chain with what was seen, which catches a rewritten history even when
//! the attacker holds the host's key.

use crate::sealer::Sealer;
use sshlog_format::seal::Head;
use sshlog_format::sidecar::SessionEvent;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest time between two heads sent.
pub const EVERY: Duration = Duration::from_secs(60);

pub struct Witness {
    sealer: Arc<Sealer>,
    host: String,
    sent: Option<(u64, Instant)>,
}

impl Witness {
    pub fn new(sealer: Arc<Sealer>, host: String) -> Witness {
        Witness {
            sealer,
            host,
            sent: None,
        }
    }

    /// The head to send now, if one is due.
    pub fn due(&mut self) -> Option<Head> {
        let sequence = self.sealer.sequence();
        let due = match self.sent {
            None => true,
            Some((n, at)) => n != sequence || at.elapsed() >= EVERY,
        };
        if !due {
            return None;
        }
        self.sent = Some((sequence, Instant::now()));
        Some(self.sealer.current_head())
    }

    pub fn event(&self, head: &Head) -> SessionEvent {
        SessionEvent::ChainHead {
            host: self.host.clone(),
            seal: head.seal.clone(),
            sequence: head.sequence,
            time: head.time.clone(),
            key: head.key.clone(),
            signature: head.signature.clone(),
        }
    }
}
