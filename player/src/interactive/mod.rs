//! Interactive `sshlog play`: used when stdin and stdout are terminals
//! (unless `--no-keys`). The recording is emulated in a `vt100` terminal of
//! its own size and that screen is drawn on the real terminal (in its
//! alternate screen), with a status line below when there is room.
//!
//! Keys: space pause/resume, `.` next output while paused, `+`/`-` speed
//! ×2/÷2, ←/→ seek 5 s, `]`/`[` next/previous command marker, `q` or
//! Ctrl+C quit. Seeking rebuilds the screen from the nearest sync point
//! through the frame index (see [`crate::seekable`]).
//!
//! Timing follows the non-interactive player: recording time runs at
//! `--speed`, pauses between events longer than the idle time limit are
//! shortened to it, `--from` is the start position and `--to` the end.
//!
//! For the tests: in debug builds, `SSHLOG_PLAY_TEST_PANIC=1` panics after
//! the first screen is drawn (the terminal must still be restored).

pub mod keys;
pub mod term;
pub mod view;

use crate::cli::PlayArgs;
use crate::cmd::play::{Played, Timing};
use crate::render;
use crate::seekable::{Playhead, SeekableCast};
use anyhow::{anyhow, Context, Result};
use crossterm::event::{self, Event as TermEvent};
use keys::{Action, SEEK_STEP_US};
use sshlog_format::cast::Event;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use view::View;

/// Slowest and fastest speed reachable with `-` and `+`.
const MIN_SPEED: f64 = 1.0 / 64.0;
const MAX_SPEED: f64 = 1024.0;
/// Longest wait between two looks at the keyboard, the clock and signals.
const TICK: Duration = Duration::from_millis(100);
/// `[` while playing skips the marker just passed if it is this recent.
const PREV_MARKER_GRACE_US: u64 = 1_000_000;

/// Whether `args` asks for interactive playback and the terminal allows it.
pub fn wanted(args: &PlayArgs) -> bool {
    !args.no_keys && io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Plays `path` interactively.
pub fn run(args: &PlayArgs, path: &Path) -> Result<Played> {
    let rec = SeekableCast::open(path)?;
    play(args, &rec, &path.display().to_string())
}

/// Plays an opened recording interactively; `shown` names it in errors.
pub fn play(args: &PlayArgs, rec: &SeekableCast, shown: &str) -> Result<Played> {
    let timing = Timing::new(args, rec.header());
    let stop = stop_flag()?;
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    let guard = term::TerminalGuard::enter()?;
    let mut out = io::stdout().lock();
    let result = Player::new(rec, timing).and_then(|mut p| {
        p.run(&mut out, View::new(cols, rows), &stop)
            .map(|()| p.played)
    });
    drop(out);
    drop(guard);
    result.map_err(|e| anyhow!("cannot play {shown}: {e:#}"))
}

/// A flag set by SIGTERM, SIGHUP and SIGINT (Ctrl+C itself is a key in
/// raw mode).
fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install a signal handler")?;
    }
    Ok(stop)
}

/// The playback state.
struct Player<'r> {
    rec: &'r SeekableCast,
    vt: vt100::Parser,
    head: Playhead,
    timing: Timing,
    /// Last position (µs of recording time).
    end_us: u64,
    /// Recording time shown while paused, and where the clock restarts.
    anchor_pos: u64,
    /// Wall clock time of `anchor_pos`.
    anchor: Instant,
    paused: bool,
    /// Time of the last event applied (for the idle limit).
    last_event_us: u64,
    /// The idle limit was applied to the gap before the next event.
    gap_done: bool,
    /// Label of the last marker reached.
    marker: Option<String>,
    /// A short message for the status line, and until when.
    note: Option<(String, Instant)>,
    played: Played,
}

impl<'r> Player<'r> {
    fn new(rec: &'r SeekableCast, timing: Timing) -> Result<Player<'r>> {
        let duration = rec.duration_us();
        let end_us = timing.to_us.map_or(duration, |to| to.min(duration));
        let start = timing.from_us.min(end_us);
        let (vt, head) = rec.screen_at(start)?;
        Ok(Player {
            rec,
            vt,
            head,
            timing,
            end_us,
            anchor_pos: start,
            anchor: Instant::now(),
            paused: false,
            last_event_us: start,
            gap_done: false,
            marker: None,
            note: None,
            played: Played::default(),
        })
    }

    /// Current recording time.
    fn now_us(&self) -> u64 {
        if self.paused {
            return self.anchor_pos;
        }
        let run = self.anchor.elapsed().as_secs_f64() * self.timing.speed * 1e6;
        self.anchor_pos.saturating_add(run as u64).min(self.end_us)
    }

    /// Restarts the clock at `pos`.
    fn set_clock(&mut self, pos: u64) {
        self.anchor_pos = pos;
        self.anchor = Instant::now();
    }

    fn run(&mut self, out: &mut dyn Write, mut view: View, stop: &AtomicBool) -> Result<()> {
        let mut first = true;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let mut wait = TICK;
            if !self.paused {
                match self.play_until_now()? {
                    Some(due) => wait = wait.min(due),
                    None => {
                        self.draw(out, &mut view)?;
                        return Ok(());
                    }
                }
            }
            self.draw(out, &mut view)?;
            if first {
                first = false;
                if cfg!(debug_assertions) && std::env::var_os("SSHLOG_PLAY_TEST_PANIC").is_some() {
                    panic!("SSHLOG_PLAY_TEST_PANIC is set");
                }
            }
            if !event::poll(wait)? {
                continue;
            }
            match event::read()? {
                TermEvent::Key(k) => {
                    if let Some(a) = keys::action(&k) {
                        if a == Action::Quit {
                            return Ok(());
                        }
                        self.act(a)?;
                    }
                }
                TermEvent::Resize(cols, rows) => view.resize(cols, rows),
                _ => {}
            }
        }
    }

    /// Applies the events that are due; returns how long until the next
    /// one, or `None` at the end.
    fn play_until_now(&mut self) -> Result<Option<Duration>> {
        loop {
            let now = self.now_us();
            let Some(ev) = self.head.peek(self.rec)? else {
                return Ok(None);
            };
            let t = ev.time_us();
            if t > self.end_us {
                return Ok(None);
            }
            if t <= now {
                self.apply_next()?;
                continue;
            }
            if !self.gap_done {
                self.gap_done = true;
                if let Some(limit) = self.timing.idle_limit {
                    let limit = u64::try_from(limit.as_micros()).unwrap_or(u64::MAX);
                    let gap = t - self.last_event_us.max(now.min(t));
                    if gap > limit {
                        // Skip the excess of the pause.
                        let pos = now + (gap - limit);
                        self.set_clock(pos);
                        continue;
                    }
                }
            }
            let due = (t - now) as f64 / 1e6 / self.timing.speed;
            return Ok(Some(Duration::from_secs_f64(due.min(TICK.as_secs_f64()))));
        }
    }

    /// Applies the next event; returns whether it was output.
    fn apply_next(&mut self) -> Result<bool> {
        let Some(ev) = self.head.peek(self.rec)? else {
            return Ok(false);
        };
        render::apply(&mut self.vt, ev);
        self.last_event_us = ev.time_us();
        self.gap_done = false;
        let is_output = match ev {
            Event::Output { data, .. } => {
                self.played.events += 1;
                self.played.bytes += data.len() as u64;
                true
            }
            Event::Marker { label, .. } => {
                self.marker = Some(label.clone());
                false
            }
            _ => false,
        };
        self.head.advance();
        Ok(is_output)
    }

    /// Shows the screen at `pos` and continues from there.
    fn seek(&mut self, pos: u64) -> Result<()> {
        let pos = pos.min(self.end_us);
        let (vt, head) = self.rec.screen_at(pos)?;
        self.vt = vt;
        self.head = head;
        self.last_event_us = pos;
        self.gap_done = false;
        self.set_clock(pos);
        Ok(())
    }

    fn note(&mut self, text: &str) {
        self.note = Some((text.to_string(), Instant::now() + Duration::from_secs(2)));
    }

    fn act(&mut self, action: Action) -> Result<()> {
        let now = self.now_us();
        match action {
            Action::TogglePause => {
                self.set_clock(now);
                self.paused = !self.paused;
            }
            Action::Step => {
                if self.paused {
                    let mut shown = None;
                    while self
                        .head
                        .peek(self.rec)?
                        .is_some_and(|e| e.time_us() <= self.end_us)
                    {
                        let t = self.head.peek(self.rec)?.map_or(now, Event::time_us);
                        if self.apply_next()? {
                            shown = Some(t);
                            break;
                        }
                    }
                    match shown {
                        Some(t) => self.set_clock(t.max(now)),
                        None => self.note("end of the recording"),
                    }
                }
            }
            Action::Faster | Action::Slower => {
                self.set_clock(now);
                let s = if action == Action::Faster {
                    self.timing.speed * 2.0
                } else {
                    self.timing.speed / 2.0
                };
                self.timing.speed = s.clamp(MIN_SPEED, MAX_SPEED);
            }
            Action::Forward => {
                let to = now.saturating_add(SEEK_STEP_US);
                if to >= self.end_us {
                    self.paused = true;
                    self.note("end of the recording");
                }
                self.seek(to)?;
            }
            Action::Back => self.seek(now.saturating_sub(SEEK_STEP_US))?,
            Action::NextMarker => match self.rec.next_marker(now)? {
                Some((t, label)) if t <= self.end_us => {
                    self.seek(t)?;
                    self.marker = Some(label);
                }
                _ => self.note("no later marker"),
            },
            Action::PrevMarker => {
                let before = if self.paused {
                    now
                } else {
                    now.saturating_sub(PREV_MARKER_GRACE_US)
                };
                match self.rec.prev_marker(before)? {
                    Some((t, label)) => {
                        self.seek(t)?;
                        self.marker = Some(label);
                    }
                    None => self.note("no earlier marker"),
                }
            }
            Action::Quit => {}
        }
        Ok(())
    }

    fn status(&mut self) -> String {
        let state = if self.paused {
            "\u{275a}\u{275a} paused"
        } else {
            "\u{25b6} playing"
        };
        let mut s = format!(
            " {state}  {} / {}  x{}",
            clock(self.now_us()),
            clock(self.end_us),
            speed(self.timing.speed)
        );
        if let Some(m) = &self.marker {
            s.push_str(&format!("  [{}]", crate::table::escape_controls(m)));
        }
        if let Some((text, until)) = &self.note {
            if Instant::now() < *until {
                s.push_str(&format!("  ({text})"));
            } else {
                self.note = None;
            }
        }
        s.push_str("  | ");
        s.push_str(keys::HELP);
        s
    }

    fn draw(&mut self, out: &mut dyn Write, view: &mut View) -> Result<()> {
        let status = self.status();
        view.draw(out, self.vt.screen(), &status)?;
        Ok(())
    }
}

/// `M:SS` or `H:MM:SS`.
fn clock(us: u64) -> String {
    let s = us / 1_000_000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `2`, `0.5`, `0.125`.
fn speed(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_formats() {
        assert_eq!(clock(61_500_000), "1:01");
        assert_eq!(clock(3_723_000_000), "1:02:03");
        assert_eq!(speed(2.0), "2");
        assert_eq!(speed(0.125), "0.125");
        assert_eq!(speed(1.0 / 64.0), "0.0156");
    }
}
