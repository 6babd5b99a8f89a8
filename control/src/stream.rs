//! Lines streamed after the first answer: follow items and watch items.

use serde::{Deserialize, Serialize};
use sshlog_format::sidecar::Record;

/// One line of a `follow` stream after its [`FollowHello`](crate::FollowHello).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FollowItem {
    /// Output bytes starting at output `offset` of the session.
    Output {
        #[serde(rename = "o", with = "crate::base64_bytes")]
        data: Vec<u8>,
        offset: u64,
    },
    /// The terminal was resized to `[cols, rows]`.
    Resize {
        #[serde(rename = "r")]
        size: (u16, u16),
    },
    /// `{"end":true}`: the session ended; the stream closes.
    End { end: bool },
    /// The follower was too slow; this many updates were dropped.
    Lagged { lagged: u64 },
}

/// One line of a `watch` stream after its [`Ack`](crate::Ack); `R` is the
/// record type ([`Record`] or, to pass records on untouched, JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WatchItem<R = Record> {
    /// An event: its record and its event-log line.
    Event { record: R, line: String },
    /// The watcher was too slow; this many events were dropped.
    Lagged { lagged: u64 },
}

/// A streamed item as a JSON line.
pub(crate) fn item_line<T: Serialize>(item: &T) -> String {
    match serde_json::to_string(item) {
        Ok(text) => text + "\n",
        Err(e) => crate::refusal_line(&format!("cannot encode the item: {e}")),
    }
}

impl FollowItem {
    /// The item as sent: JSON and a newline.
    pub fn line(&self) -> String {
        item_line(self)
    }
}

impl<R: Serialize> WatchItem<R> {
    /// The item as sent: JSON and a newline.
    pub fn line(&self) -> String {
        item_line(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::decode_item;
    use serde_json::{json, Value};

    #[test]
    fn follow_items_on_the_wire() {
        let cases = [
            (
                FollowItem::Output {
                    data: b"hi".to_vec(),
                    offset: 7,
                },
                r#"{"o":"aGk=","offset":7}"#,
            ),
            (FollowItem::Resize { size: (100, 30) }, r#"{"r":[100,30]}"#),
            (FollowItem::End { end: true }, r#"{"end":true}"#),
            (FollowItem::Lagged { lagged: 4 }, r#"{"lagged":4}"#),
        ];
        for (item, text) in cases {
            assert_eq!(item.line(), format!("{text}\n"));
            assert_eq!(
                decode_item::<FollowItem>(text.as_bytes()).expect("decodes"),
                item
            );
        }
        assert!(decode_item::<FollowItem>(br#"{"o":"!","offset":1}"#).is_err());
        assert!(decode_item::<FollowItem>(br#"{"what":1}"#).is_err());
    }

    #[test]
    fn watch_items_keep_records_as_sent() {
        let text = r#"{"record":{"type":"command_start","argv":["ls"]},"line":"x"}"#;
        let item: WatchItem<Value> = decode_item(text.as_bytes()).expect("decodes");
        assert_eq!(
            item,
            WatchItem::Event {
                record: json!({"type":"command_start","argv":["ls"]}),
                line: "x".into()
            }
        );
        assert_eq!(item.line(), format!("{text}\n"));
        let lag: WatchItem<Value> = decode_item(br#"{"lagged":2}"#).expect("lag");
        assert_eq!(lag, WatchItem::Lagged { lagged: 2 });
        assert!(decode_item::<WatchItem<Value>>(br#"{"ok":true}"#).is_err());
    }
}
