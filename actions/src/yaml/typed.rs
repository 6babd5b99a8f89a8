//! Typed configuration from the positioned YAML tree: a `serde` type is
//! deserialized from a [`Node`] and every error points at the node it is
//! about (`line L column C`), unknown keys included. This is how sshlogd's
//! settings are read: one YAML parser (yaml-rust2) for settings and actions.

use serde::de::DeserializeOwned;

use super::{Node, Pos, Value};

/// A typed value could not be read from the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedError {
    pub pos: Pos,
    pub message: String,
}

impl std::fmt::Display for TypedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.pos.line, self.pos.col, self.message
        )
    }
}

impl std::error::Error for TypedError {}

/// Deserializes `T` from `node`.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, TypedError> {
    let json = node.to_json();
    serde_path_to_error::deserialize::<_, T>(json).map_err(|e| {
        use serde_path_to_error::Segment;
        let message = e.inner().to_string();
        let mut path: Vec<Step> = e
            .path()
            .iter()
            .filter_map(|s| match s {
                Segment::Seq { index } => Some(Step::Index(*index)),
                Segment::Map { key } => Some(Step::Key(key.clone())),
                Segment::Enum { .. } | Segment::Unknown => None,
            })
            .collect();
        // An unknown key's path ends at the key: point at the key, not its value.
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next());
        let pos = match (unknown, path.last()) {
            (Some(key), Some(Step::Key(last))) if last == key => {
                path.pop();
                key_of(locate(node, &path), key).unwrap_or(node.pos)
            }
            _ => locate(node, &path).pos,
        };
        TypedError { pos, message }
    })
}

/// One step of a path into the tree.
enum Step {
    Key(String),
    Index(usize),
}

/// The position of `key` in mapping `node`.
fn key_of(node: &Node, key: &str) -> Option<Pos> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.scalar_text() == key)
            .map(|(k, _)| k.pos),
        _ => None,
    }
}

/// Deserializes `T` from YAML text; an empty document is `T::default()`.
pub fn from_text<T: DeserializeOwned + Default>(text: &str) -> Result<T, TypedError> {
    match super::parse(text) {
        Ok(Some(node)) if node.value != Value::Null => from_node(&node),
        Ok(_) => Ok(T::default()),
        Err(e) => Err(TypedError {
            pos: e.pos,
            message: e.to_string(),
        }),
    }
}

/// The node at `path`, or the deepest one found.
fn locate<'a>(node: &'a Node, path: &[Step]) -> &'a Node {
    let Some((first, rest)) = path.split_first() else {
        return node;
    };
    let child = match (&node.value, first) {
        (Value::Map(entries), Step::Key(key)) => entries
            .iter()
            .find(|(k, _)| k.scalar_text() == *key)
            .map(|(_, v)| v),
        (Value::Seq(items), Step::Index(i)) => items.get(*i),
        _ => None,
    };
    match child {
        Some(c) => locate(c, rest),
        None => node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        size: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        inner: Inner,
        #[serde(default)]
        ports: Vec<u16>,
    }

    fn read(text: &str) -> Result<Outer, TypedError> {
        from_node(&parse(text).expect("syntax").expect("a document"))
    }

    #[test]
    fn reads_values_and_points_at_bad_ones() {
        let ok = read("name: a\ninner:\n  size: 3\nports: [22, 2222]\n").expect("valid");
        assert_eq!(ok.inner.size, 3);
        assert_eq!(ok.ports, [22, 2222]);
        let e = read("name: a\ninner:\n  size: lots\n").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (3, 9), "{e}");
        assert!(e.message.contains("invalid type"), "{e}");
        let e = read("name: a\ninner:\n  size: 1\nports: [22, 70000]\n").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (4, 13), "{e}");
    }

    #[test]
    fn unknown_keys_point_at_the_key() {
        let e = read("name: a\ninner:\n  size: 1\n  colour: red\n").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (4, 3), "{e}");
        assert!(
            e.to_string()
                .starts_with("line 4 column 3: unknown field `colour`"),
            "{e}"
        );
    }
}
