//! The chain head: the newest seal, its number and when it was made, signed
//! by the host. sshlogd keeps it in `state/chain` (so a truncated chain is
//! caught) and sends it off the host as a `chain_head` event at every seal
//! and every minute (the witness: syslog, the fleet store). [`parse_witness`]
//! reads those heads back out of whatever kept them.

use super::sign::{PublicKey, SealKey};
use super::GENESIS;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The newest seal (64 zeros before the first).
    pub seal: String,
    /// How many recordings the chain holds up to and including it.
    pub sequence: u64,
    /// When the head was signed (RFC 3339, signed as written).
    pub time: String,
    /// The signing key (`ed25519:<hex>`); none on an unsigned head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Head {
    /// The head of an empty chain.
    pub fn genesis() -> Head {
        Head {
            seal: GENESIS.to_string(),
            sequence: 0,
            time: String::new(),
            key: None,
            signature: None,
        }
    }

    /// A head signed with `key` (unsigned without one).
    pub fn new(seal: &str, sequence: u64, time: String, key: Option<&SealKey>) -> Head {
        let mut head = Head {
            seal: seal.to_string(),
            sequence,
            time,
            key: key.map(|k| k.public().to_string()),
            signature: None,
        };
        head.signature = key.map(|k| k.sign(&head.message()));
        head
    }

    /// What the key signs.
    pub fn message(&self) -> String {
        format!(
            "sshlog-head-v1\n{}\n{}\n{}\n",
            self.seal, self.sequence, self.time
        )
    }

    /// The key that signed it, if its signature checks.
    pub fn signer(&self) -> Option<PublicKey> {
        let key: PublicKey = self.key.as_deref()?.parse().ok()?;
        key.verifies(&self.message(), self.signature.as_deref()?)
            .then_some(key)
    }
}

/// A head as a witness saw it, with the host it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessHead {
    pub host: Option<String>,
    pub head: Head,
}

/// Every chain head in `text`: one per line that holds a JSON object with
/// `seal`, `sequence`, `time` and `signature` (at any depth, so event-log
/// lines, syslog messages with a prefix and the store's head objects all
/// work).
pub fn parse_witness(text: &str) -> Vec<WitnessHead> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(start) = line.find('{') else {
            continue;
        };
        let mut stream = serde_json::Deserializer::from_str(&line[start..]).into_iter::<Value>();
        if let Some(Ok(v)) = stream.next() {
            find_head(&v, None, &mut out);
        }
    }
    out
}

fn find_head(v: &Value, host: Option<&str>, out: &mut Vec<WitnessHead>) {
    let Value::Object(map) = v else {
        return;
    };
    let host = map.get("host").and_then(Value::as_str).or(host);
    if map.contains_key("seal") && map.contains_key("sequence") && map.contains_key("signature") {
        if let Ok(head) = serde_json::from_value::<Head>(v.clone()) {
            out.push(WitnessHead {
                host: host.map(str::to_string),
                head,
            });
            return;
        }
    }
    for child in map.values() {
        find_head(child, host, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_head_names_its_signer_until_changed() {
        let key = SealKey::from_seed([1; 32]);
        let mut head = Head::new(
            &"a".repeat(64),
            4,
            "2026-12-06T10:00:00Z".into(),
            Some(&key),
        );
        assert_eq!(head.signer(), Some(key.public()));
        head.sequence = 5;
        assert_eq!(head.signer(), None);
        assert_eq!(Head::genesis().signer(), None);
    }

    #[test]
    fn heads_are_found_in_syslog_and_event_log_lines() {
        let key = SealKey::from_seed([2; 32]);
        let head = Head::new(
            &"b".repeat(64),
            9,
            "2026-12-06T10:00:00Z".into(),
            Some(&key),
        );
        let json = serde_json::to_string(&head).unwrap();
        let event = format!(
            r#"{{"ts":"x","type":"chain_head","host":"web-1",{}"#,
            &json[1..]
        );
        let text = format!(
            "Dec  6 10:00:00 web-1 sshlogd: chain head {event}\nnoise {{ not json\n{json}\n"
        );
        let found = parse_witness(&text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].host.as_deref(), Some("web-1"));
        assert_eq!(found[0].head, head);
        assert_eq!(found[1].host, None);
    }
}
