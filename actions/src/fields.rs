//! Typed access to the keys of a YAML mapping. Every key asked for is
//! remembered, so [`Fields::finish`] can name the unknown keys together with
//! the valid ones; every type mismatch is reported at the value's position.

use super::error::Diag;
use super::yaml::{Node, Pos, Value};

/// Reader over one mapping.
pub struct Fields<'a> {
    entries: &'a [(Node, Node)],
    pos: Pos,
    used: Vec<bool>,
    asked: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// A reader over `node`, which must be a mapping (else an error naming
    /// `what` is reported and `None` returned).
    pub fn of(d: &mut Diag, node: &'a Node, what: &str) -> Option<Fields<'a>> {
        match &node.value {
            Value::Map(entries) => {
                let mut seen: Vec<&str> = Vec::new();
                for (k, _) in entries {
                    if let Value::Str(s) = &k.value {
                        if seen.contains(&s.as_str()) {
                            d.err(k.pos, format!("duplicate key `{s}`"));
                        }
                        seen.push(s);
                    }
                }
                Some(Fields {
                    entries,
                    pos: node.pos,
                    used: vec![false; entries.len()],
                    asked: Vec::new(),
                })
            }
            other => {
                d.err(
                    node.pos,
                    format!("{what}: expected a mapping, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// Position of the mapping itself.
    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// The value of `key` (a null value counts as absent).
    pub fn get(&mut self, key: &'static str) -> Option<&'a Node> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        let i = self
            .entries
            .iter()
            .position(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))?;
        self.used[i] = true;
        let v = &self.entries[i].1;
        (v.value != Value::Null).then_some(v)
    }

    /// Like [`get`](Self::get), reporting a missing key.
    pub fn require(&mut self, d: &mut Diag, key: &'static str, what: &str) -> Option<&'a Node> {
        let v = self.get(key);
        if v.is_none() {
            d.err(self.pos, format!("{what}: missing required option `{key}`"));
        }
        v
    }

    /// The value of `key` or of `agent_key` (the sshlog agent's name for the
    /// same option), with the name used; both given is an error.
    pub fn either(
        &mut self,
        d: &mut Diag,
        key: &'static str,
        agent_key: &'static str,
    ) -> Option<(&'static str, &'a Node)> {
        match (self.get(key), self.get(agent_key)) {
            (Some(a), Some(b)) => {
                d.err(
                    b.pos,
                    format!("`{agent_key}` and `{key}` are the same option; give one"),
                );
                Some((key, a))
            }
            (Some(a), None) => Some((key, a)),
            (None, Some(b)) => Some((agent_key, b)),
            (None, None) => None,
        }
    }

    /// Like [`either`](Self::either), reporting that neither is given.
    pub fn require_either(
        &mut self,
        d: &mut Diag,
        key: &'static str,
        agent_key: &'static str,
        what: &str,
    ) -> Option<(&'static str, &'a Node)> {
        let v = self.either(d, key, agent_key);
        if v.is_none() {
            d.err(
                self.pos,
                format!("{what}: missing required option `{key}` (or `{agent_key}`)"),
            );
        }
        v
    }

    /// The keys not asked for yet, with their positions and values; they
    /// count as used.
    pub fn take_rest(&mut self) -> Vec<(String, Pos, &'a Node)> {
        let mut out = Vec::new();
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                self.used[i] = true;
                out.push((k.scalar_text(), k.pos, v));
            }
        }
        out
    }

    /// Report every key that was never asked for, listing the valid ones.
    pub fn finish(self, d: &mut Diag, what: &str, noun: &str) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                d.err(
                    k.pos,
                    format!(
                        "unknown {noun} `{}` for {what} (valid: {})",
                        k.scalar_text(),
                        self.asked.join(", ")
                    ),
                );
            }
        }
    }

    pub fn string(&mut self, d: &mut Diag, key: &'static str) -> Option<String> {
        self.get(key).and_then(|n| as_string(d, n, key))
    }

    pub fn req_string(&mut self, d: &mut Diag, key: &'static str, what: &str) -> Option<String> {
        self.require(d, key, what)
            .and_then(|n| as_string(d, n, key))
    }

    pub fn bool_or(&mut self, d: &mut Diag, key: &'static str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(n) => match n.value {
                Value::Bool(b) => b,
                _ => {
                    type_err(d, n, key, "a boolean (true/false)");
                    default
                }
            },
        }
    }

    /// A non-negative integer no larger than `max`.
    pub fn uint_or(&mut self, d: &mut Diag, key: &'static str, default: u64, max: u64) -> u64 {
        self.get(key)
            .and_then(|n| as_uint(d, n, key, max))
            .unwrap_or(default)
    }

    /// A string or a list of strings.
    pub fn strings(&mut self, d: &mut Diag, key: &'static str) -> Option<Vec<(String, Pos)>> {
        self.get(key).and_then(|n| as_strings(d, n, key))
    }
}

fn type_err(d: &mut Diag, n: &Node, key: &str, expected: &str) {
    d.err(
        n.pos,
        format!(
            "`{key}`: expected {expected}, found {}",
            n.value.type_name()
        ),
    );
}

/// A string (numbers and booleans written bare are not strings).
pub fn as_string(d: &mut Diag, n: &Node, key: &str) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        _ => {
            type_err(d, n, key, "a string");
            None
        }
    }
}

/// A non-negative integer no larger than `max`.
pub fn as_uint(d: &mut Diag, n: &Node, key: &str, max: u64) -> Option<u64> {
    match n.value {
        Value::Int(i) if i >= 0 && (i as u64) <= max => Some(i as u64),
        Value::Int(i) => {
            d.err(n.pos, format!("`{key}`: {i} is out of range 0..={max}"));
            None
        }
        _ => {
            type_err(d, n, key, "a non-negative integer");
            None
        }
    }
}

/// A string or a list of strings, each with its position.
pub fn as_strings(d: &mut Diag, n: &Node, key: &str) -> Option<Vec<(String, Pos)>> {
    match &n.value {
        Value::Str(s) => Some(vec![(s.clone(), n.pos)]),
        Value::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                out.push((as_string(d, it, key)?, it.pos));
            }
            Some(out)
        }
        _ => {
            type_err(d, n, key, "a string or a list of strings");
            None
        }
    }
}
