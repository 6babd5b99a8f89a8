//! Unit tests of seeking: sync points, frame states, screens at a time.

use super::*;

fn p(chunk: usize) -> Pos {
    Pos {
        chunk,
        event: 0,
        offset: 0,
    }
}

#[test]
fn sequences_are_found_in_order() {
    let buf = b"a\x1b[H\x1b[2Jb\x1b[?1049hc\x1bcd\x1b[?47l\x1b[2J";
    let kinds: Vec<Seq> = sync_sequences(buf).into_iter().map(|(_, k)| k).collect();
    assert_eq!(
        kinds,
        [Seq::Clear, Seq::EnterAlt, Seq::Reset, Seq::LeaveAlt]
    );
}

#[test]
fn clears_inside_the_alternate_screen_are_skipped() {
    // File order: clear(1) enter(2) clear(3) leave(4); scanned backwards.
    let mut s = SyncScan::default();
    assert_eq!(s.step(Seq::LeaveAlt, p(4)), None);
    assert_eq!(s.step(Seq::Clear, p(3)), None);
    assert_eq!(s.step(Seq::EnterAlt, p(2)), None);
    assert_eq!(s.step(Seq::Clear, p(1)), None);
    // Start of file reached: the main-screen clear.
    assert_eq!(s.candidate, Some(p(1)));
}

#[test]
fn the_latest_main_screen_clear_wins() {
    // leave(1) clear(2) clear(3), then T.
    let mut s = SyncScan::default();
    assert_eq!(s.step(Seq::Clear, p(3)), None);
    assert_eq!(s.step(Seq::Clear, p(2)), None);
    assert_eq!(s.step(Seq::LeaveAlt, p(1)), Some(p(3)));
    // A reset is a sync point by itself.
    let mut s = SyncScan::default();
    assert_eq!(s.step(Seq::Reset, p(5)), Some(p(5)));
}
