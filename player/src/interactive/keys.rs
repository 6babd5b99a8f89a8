//! The keys of interactive playback and what they do.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// How far the arrow keys seek (µs of recording time).
pub const SEEK_STEP_US: u64 = 5_000_000;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Space: pause or resume.
    TogglePause,
    /// `.`: show the next output while paused.
    Step,
    /// `+`: twice as fast.
    Faster,
    /// `-`: half as fast.
    Slower,
    /// Right arrow: 5 s forward.
    Forward,
    /// Left arrow: 5 s back.
    Back,
    /// `]`: next command marker.
    NextMarker,
    /// `[`: previous command marker.
    PrevMarker,
    /// `q`, Ctrl+C: quit.
    Quit,
}

/// The action of a key press, if it has one.
pub fn action(key: &KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') | KeyCode::Char('C') if ctrl => Action::Quit,
        _ if ctrl => return None,
        KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('.') => Action::Step,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Faster,
        KeyCode::Char('-') | KeyCode::Char('_') => Action::Slower,
        KeyCode::Right => Action::Forward,
        KeyCode::Left => Action::Back,
        KeyCode::Char(']') => Action::NextMarker,
        KeyCode::Char('[') => Action::PrevMarker,
        KeyCode::Char('q') | KeyCode::Char('Q') => Action::Quit,
        _ => return None,
    })
}

/// One-line key help for the status line.
pub const HELP: &str = "space pause  . step  \u{2190}/\u{2192} 5s  [/] marker  +/- speed  q quit";

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn keys_map_to_actions() {
        let none = KeyModifiers::NONE;
        assert_eq!(
            action(&key(KeyCode::Char(' '), none)),
            Some(Action::TogglePause)
        );
        assert_eq!(
            action(&key(KeyCode::Char(']'), none)),
            Some(Action::NextMarker)
        );
        assert_eq!(action(&key(KeyCode::Left, none)), Some(Action::Back));
        assert_eq!(
            action(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action(&key(KeyCode::Char('x'), none)), None);
        assert_eq!(
            action(&key(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            None
        );
        let mut release = key(KeyCode::Char('q'), none);
        release.kind = KeyEventKind::Release;
        assert_eq!(action(&release), None);
    }
}
