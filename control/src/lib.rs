//! The control protocol of sshlogd, defined once for both ends.
//!
//! sshlogd listens on a Unix stream socket (`/run/sshlog/sshlogd.sock` by
//! default, mode 0660, group `sshlog`). A client sends one [`Request`] as a JSON
//! line and reads answer lines:
//!
//! | request | answer |
//! |---|---|
//! | `{"cmd":"ping"}` | [`Pong`]: `{"ok":true,"version":"…"}` |
//! | `{"cmd":"sessions"}` | [`SessionList`]: `{"ok":true,"sessions":[`[`SessionInfo`]`…]}` |
//! | `{"cmd":"stats"}` | [`StatsAnswer`]: `{"ok":true,"stats":`[`Stats`]`}` |
//! | `{"cmd":"watch","user":"bob","types":["command_start"]}` | [`Ack`], then one [`WatchItem`] per event until the client hangs up |
//! | `{"cmd":"follow","target":"pts/3"}` | [`FollowHello`], then [`FollowItem`]s until `{"end":true}` |
//! | `{"cmd":"inject","target":"pts/3","data":"<base64>"}` | [`Ack`] when `allow_injection` is set |
//! | `{"cmd":"kill","target":"pts/3"}` | [`Ack`] when `allow_kill` is set: the session's sshd is ended |
//! | `{"cmd":"report","record":{…}}` | [`Ack`]: the web console reports a `web_login` event |
//!
//! Every first answer line carries `"ok"`; `{"ok":false,"error":"…"}` is a
//! [`Refusal`]. [`answer_line`] and [`refusal_line`] write answers,
//! [`decode_answer`] reads them; streamed items have no `ok` field.
//!
//! Readers ignore fields they do not know, so a newer daemon can add some.
//! Clients that print whatever a daemon sends (`sshlog stats`) read a body type
//! generic over its contents, e.g. `StatsAnswer<serde_json::Map<…>>`.

mod answer;
mod base64_bytes;
mod request;
mod session;
mod stats;
mod stream;

pub use answer::{
    answer_line, decode_answer, decode_item, refusal_line, Ack, AnswerError, FollowHello, Pong,
    Purged, PurgedRecording, Refusal, SessionList, StatsAnswer,
};
pub use request::{Request, RequestError};
pub use session::SessionInfo;
pub use stats::{
    ActionReport, ActionReports, ActionStats, KernelTotals, RecordingStats, Stats, StoreStats,
};
pub use stream::{FollowItem, WatchItem};
