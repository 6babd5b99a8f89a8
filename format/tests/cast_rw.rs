//! Reading and writing plain asciicast v1/v2/v3 text.

use std::io::Cursor;

use serde_json::json;
use sshlog_format::cast::{CastReader, CastVersion, CastWriter, Event, Header};
use sshlog_format::FormatError;

fn read(text: &str) -> (Header, Vec<Event>) {
    let r = CastReader::new(Cursor::new(text.as_bytes().to_vec())).expect("header");
    let h = r.header().clone();
    let ev = r.collect::<Result<Vec<_>, _>>().expect("events");
    (h, ev)
}

fn write(header: &Header, events: &[Event]) -> String {
    let mut w = CastWriter::new(Vec::new(), header).unwrap();
    for e in events {
        w.write_event(e).unwrap();
    }
    String::from_utf8(w.finish().unwrap()).unwrap()
}

fn out(t: u64, s: &[u8]) -> Event {
    Event::Output {
        time_us: t,
        data: s.to_vec(),
    }
}

#[test]
fn reads_asciinema_v2() {
    let text = r#"{"version": 2, "width": 80, "height": 24, "timestamp": 1504467315, "title": "Demo", "env": {"TERM": "xterm-256color", "SHELL": "/bin/zsh"}}
[0.248848, "o", "\u001b[1;31mHello \u001b[32mWorld!\u001b[0m\n"]
[1.001376, "o", "I am \rThis is on the next line"]
[1.5, "i", "ls\r"]
[2.0, "r", "100x40"]
[2.5, "m", "chapter"]
[3.0, "z", {"custom": true}]
"#;
    let (h, ev) = read(text);
    assert_eq!(h.version, CastVersion::V2);
    assert_eq!((h.width, h.height, h.timestamp), (80, 24, Some(1504467315)));
    assert_eq!(h.title.as_deref(), Some("Demo"));
    assert_eq!(h.term_type.as_deref(), Some("xterm-256color"));
    assert_eq!(ev.len(), 6);
    assert_eq!(
        ev[0],
        out(248_848, b"\x1b[1;31mHello \x1b[32mWorld!\x1b[0m\n")
    );
    assert_eq!(ev[1].time_us(), 1_001_376);
    assert_eq!(
        ev[2],
        Event::Input {
            time_us: 1_500_000,
            data: b"ls\r".to_vec()
        }
    );
    assert_eq!(
        ev[3],
        Event::Resize {
            time_us: 2_000_000,
            cols: 100,
            rows: 40
        }
    );
    assert_eq!(
        ev[4],
        Event::Marker {
            time_us: 2_500_000,
            label: "chapter".into()
        }
    );
    assert_eq!(
        ev[5],
        Event::Other {
            time_us: 3_000_000,
            code: "z".into(),
            data: json!({"custom": true})
        }
    );
}

#[test]
fn reads_asciinema_v3() {
    let text = "{\"version\": 3, \"term\": {\"cols\": 80, \"rows\": 24, \"type\": \"xterm-256color\"}, \"timestamp\": 1504467315, \"env\": {\"SHELL\": \"/bin/bash\"}}\n\
# a comment\n\
[0.248848, \"o\", \"hello\"]\n\
\n\
[1.001376, \"o\", \" world\"]\n\
#another\n\
[0.5, \"r\", \"90x30\"]\n\
[0.25, \"x\", \"3\"]\n";
    let (h, ev) = read(text);
    assert_eq!(h.version, CastVersion::V3);
    assert_eq!(h.term_type.as_deref(), Some("xterm-256color"));
    assert_eq!(ev[0].time_us(), 248_848);
    assert_eq!(ev[1].time_us(), 1_250_224);
    assert_eq!(
        ev[2],
        Event::Resize {
            time_us: 1_750_224,
            cols: 90,
            rows: 30
        }
    );
    assert_eq!(
        ev[3],
        Event::Exit {
            time_us: 2_000_224,
            status: 3
        }
    );
}

#[test]
fn reads_pretty_printed_v1() {
    let text = r#"{
  "version": 1,
  "width": 80,
  "height": 24,
  "duration": 1.515658,
  "command": "/bin/zsh",
  "title": "",
  "env": {"TERM": "xterm-256color", "SHELL": "/bin/zsh"},
  "stdout": [
    [0.248848, "\u001b[1;31mHello"],
    [1.001376, " World"],
    [0.265434, "!\n"]
  ]
}
"#;
    let (h, ev) = read(text);
    assert_eq!(h.version, CastVersion::V1);
    assert_eq!(h.command.as_deref(), Some("/bin/zsh"));
    assert!(h.extra.contains_key("duration"));
    assert_eq!(
        ev,
        vec![
            out(248_848, b"\x1b[1;31mHello"),
            out(1_250_224, b" World"),
            out(1_515_658, b"!\n")
        ]
    );
    // A v1 header is written back as v2.
    let text2 = write(&h, &ev);
    assert!(text2.starts_with("{\"version\":2,"), "{text2}");
    let (h2, ev2) = read(&text2);
    assert_eq!(h2.version, CastVersion::V2);
    assert_eq!(ev2, ev);
}

#[test]
fn writes_six_decimals_and_v3_intervals() {
    let mut h = Header::new(CastVersion::V3, 80, 24);
    h.term_type = Some("xterm".into());
    let ev = [
        out(1, b"a"),
        Event::Resize {
            time_us: 1_500_000,
            cols: 1,
            rows: 2,
        },
        Event::Exit {
            time_us: 2_000_000,
            status: 0,
        },
    ];
    let text = write(&h, &ev);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"version":3,"term":{"cols":80,"rows":24,"type":"xterm"}}"#
    );
    assert_eq!(lines[1], r#"[0.000001,"o","a"]"#);
    assert_eq!(lines[2], r#"[1.499999,"r","1x2"]"#);
    assert_eq!(lines[3], r#"[0.500000,"x","0"]"#);
    assert_eq!(read(&text).1, ev);
}

#[test]
fn non_utf8_gets_companion_and_roundtrips() {
    let h = Header::new(CastVersion::V2, 80, 24);
    let ev = [
        out(10, b"ok \xff\xfe"),
        Event::Input {
            time_us: 20,
            data: b"\x80x".to_vec(),
        },
    ];
    let text = write(&h, &ev);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[1], "[0.000010,\"o\",\"ok \u{FFFD}\u{FFFD}\"]");
    assert_eq!(lines[2], r#"[0.000010,"b","b2sg//4="]"#);
    assert_eq!(lines[4], r#"[0.000020,"B","gHg="]"#);
    assert_eq!(read(&text).1, ev);
}

#[test]
fn split_multibyte_char_is_held_back() {
    let h = Header::new(CastVersion::V2, 80, 24);
    let euro = "€".as_bytes();
    let ev = [
        out(1, &[b'a', euro[0]]),
        Event::Input {
            time_us: 2,
            data: b"k".to_vec(),
        },
        out(3, &euro[1..]),
        out(4, &[0xF0, 0x9F]), // held until finish
    ];
    let text = write(&h, &ev);
    // Only the dangling bytes flushed by finish() need a companion.
    assert_eq!(text.matches(",\"b\",").count(), 1, "{text}");
    let (_, back) = read(&text);
    assert_eq!(back[0], out(1, b"a"));
    assert_eq!(back[2], out(3, "€".as_bytes()));
    assert_eq!(back[3], out(4, b""));
    assert_eq!(back[4], out(4, &[0xF0, 0x9F]));
    assert_eq!(back.len(), 5);
}

#[test]
fn companion_without_matching_event_is_other() {
    let text =
        "{\"version\":2,\"width\":1,\"height\":1}\n[1.0,\"o\",\"plain\"]\n[1.0,\"b\",\"/w==\"]\n";
    let (_, ev) = read(text);
    assert_eq!(ev.len(), 2);
    assert!(matches!(&ev[1], Event::Other { code, .. } if code == "b"));
}

#[test]
fn truncated_last_line_stops_cleanly() {
    let text = "{\"version\":2,\"width\":1,\"height\":1}\n[1.0,\"o\",\"a\"]\n[2.0,\"o\",\"b";
    let mut r = CastReader::new(Cursor::new(text.as_bytes().to_vec())).unwrap();
    assert_eq!(r.next().unwrap().unwrap(), out(1_000_000, b"a"));
    assert!(r.next().is_none());
    assert!(r.truncated());
}

#[test]
fn garbage_in_the_middle_reports_line_number() {
    let text = "{\"version\":2,\"width\":1,\"height\":1}\n[1.0,\"o\",\"a\"]\nnot json\n[2.0,\"o\",\"b\"]\n";
    let r = CastReader::new(Cursor::new(text.as_bytes().to_vec())).unwrap();
    let got: Vec<_> = r.collect();
    assert_eq!(got.len(), 2);
    match &got[1] {
        Err(FormatError::Json { line, .. }) => assert_eq!(*line, 3),
        other => panic!("unexpected {other:?}"),
    }
    let text = "{\"version\":2,\"width\":1,\"height\":1}\n[\"x\",\"o\",\"a\"]\n";
    let err = CastReader::new(Cursor::new(text.as_bytes().to_vec()))
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().starts_with("line 2:"), "{err}");
}

#[test]
fn bad_headers() {
    assert!(matches!(
        CastReader::new(Cursor::new(Vec::new())),
        Err(FormatError::Empty)
    ));
    assert!(matches!(
        CastReader::new(Cursor::new(b"{\"version\":9}\n".to_vec())),
        Err(FormatError::UnsupportedVersion(_))
    ));
    assert!(CastReader::new(Cursor::new(b"{\"version\":2,\n".to_vec())).is_err());
    assert!(CastReader::new(Cursor::new(b"\xff\xfe\n".to_vec())).is_err());
}
