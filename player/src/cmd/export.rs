//! `sshlog export`: a recording as a plain asciicast v2 or v3 file (what
//! `asciinema play`/`cat` read), or as a text transcript rendered through a
//! terminal emulator (the rule is in [`crate::render`]).
//!
//! The recording is streamed: memory stays bounded for any size. A file
//! given with `-o` is written under a temporary name next to it and renamed
//! when complete, so a failed export leaves nothing half-written (and never
//! overwrites the recording it reads).

use crate::control::io_message;
use crate::render::Transcript;
use anyhow::{anyhow, bail, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sshlog_format::cast::{open_cast_reader, CastVersion, CastWriter};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `long_about` of `sshlog export`.
pub const LONG_ABOUT: &str = "Export a recording as asciicast or as text.\n\n\
    SESSION|FILE is a session id (UUID, looked up in the log directory like `sshlog \
    play` does) or a `.cast` / `.cast.zst` file (asciicast v1, v2 or v3).\n\n\
    The text format shows what a person saw: the output is run through a terminal \
    emulator, and the transcript holds the lines that scrolled off the screen, each \
    screen wiped by a clear, then the final screen. Programs that draw with the cursor \
    (top) appear as the screen they left; programs on the alternate screen (vim, less) \
    leave no trace, as in a terminal's scrollback.\n\n\
    Output goes to stdout unless -o names a file, which is written completely or not at \
    all. A progress bar is shown on stderr (when it is a terminal) for exports taking \
    more than a second.";

/// `after_help` of `sshlog export`.
pub const AFTER_HELP: &str = "\
EXAMPLES:
  sshlog export 018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e --format txt | less
  sshlog export ID --format asciicast-v2 -o session.cast && asciinema play session.cast
  sshlog export session.cast.zst --format asciicast-v3 -o session-v3.cast
  sshlog export session.cast.zst -f txt | grep -n 'rm -rf'";

/// Output formats of `sshlog export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Plain asciicast v2 with every event (`asciinema play`/`cat` 2.x, web players).
    #[value(name = "asciicast-v2")]
    AsciicastV2,
    /// Plain asciicast v3 with every event (asciinema 3).
    #[value(name = "asciicast-v3")]
    AsciicastV3,
    /// Text as it was on the screen: no escape codes, trailing spaces trimmed.
    Txt,
}

/// Arguments of `sshlog export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// A session id (UUID) or a `.cast` / `.cast.zst` file.
    #[arg(value_name = "SESSION|FILE")]
    pub file: String,

    /// Output format.
    #[arg(long, short = 'f', value_name = "FORMAT")]
    pub format: ExportFormat,

    /// Write to FILE instead of stdout (`-` is stdout).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Fetch the session (by id) from the fleet store (see `sshlog search --store`).
    #[arg(long, value_name = "URL", env = "SSHLOG_STORE")]
    pub store: Option<String>,
}

/// `sshlog export`; `stdout` receives the export unless `-o FILE`.
pub fn run(args: &ExportArgs, log_dir: &Path, stdout: &mut dyn Write) -> Result<()> {
    let (_store, path) =
        crate::search::store::StoreSource::locate(args.store.as_deref(), &args.file, log_dir)?;
    let shown = path.display().to_string();
    let file = File::open(&path).map_err(|e| anyhow!("cannot open {shown}: {}", io_message(&e)))?;
    let meta = file
        .metadata()
        .map_err(|e| anyhow!("cannot open {shown}: {}", io_message(&e)))?;
    if meta.is_dir() {
        bail!("cannot export {shown}: it is a directory");
    }
    let progress = Progress::new(meta.len());
    let counting = Counting {
        inner: file,
        count: Arc::clone(&progress.read),
    };
    let target = args.output.as_deref().filter(|p| *p != Path::new("-"));
    let Some(target) = target else {
        let mut out = BufWriter::with_capacity(1 << 16, stdout);
        return export(counting, args.format, &mut out, &progress, &shown);
    };
    let partial = partial_name(target);
    let created = File::create(&partial)
        .map_err(|e| anyhow!("cannot create {}: {}", partial.display(), io_message(&e)))?;
    let mut out = BufWriter::with_capacity(1 << 16, created);
    let result = export(counting, args.format, &mut out, &progress, &shown)
        .and_then(|()| out.flush().map_err(Into::into))
        .and_then(|()| {
            std::fs::rename(&partial, target)
                .map_err(|e| anyhow!("cannot write {}: {}", target.display(), io_message(&e)))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// `DIR/.NAME.partial-PID` for `DIR/NAME`.
fn partial_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Streams the recording read from `input` to `out` in `format`.
fn export(
    input: Counting,
    format: ExportFormat,
    out: &mut dyn Write,
    progress: &Progress,
    shown: &str,
) -> Result<()> {
    let reader = open_cast_reader(input).map_err(|e| anyhow!("cannot export {shown}: {e}"))?;
    let mut header = reader.header().clone();
    let failed = |e: &dyn std::fmt::Display| anyhow!("cannot export {shown}: {e}");
    let mut events = 0u64;
    let mut reader = reader;
    match format {
        ExportFormat::Txt => {
            let mut t = Transcript::new(header.height, header.width, out);
            for ev in reader.by_ref() {
                t.event(&ev.map_err(|e| failed(&e))?)?;
                events += 1;
                progress.tick(events);
            }
            t.finish()?;
        }
        ExportFormat::AsciicastV2 | ExportFormat::AsciicastV3 => {
            header.version = if format == ExportFormat::AsciicastV2 {
                CastVersion::V2
            } else {
                CastVersion::V3
            };
            let mut w = CastWriter::new(out, &header)?;
            for ev in reader.by_ref() {
                w.write_event(&ev.map_err(|e| failed(&e))?)?;
                events += 1;
                progress.tick(events);
            }
            w.finish()?;
        }
    }
    progress.finish();
    if reader.truncated() {
        eprintln!(
            "sshlog: note: {shown} ends in an incomplete event (still being recorded, or cut short)"
        );
    }
    Ok(())
}

/// A reader that counts the bytes it delivered.
struct Counting {
    inner: File,
    count: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A progress bar on stderr, shown once an export has run for a second
/// (and only when stderr is a terminal).
struct Progress {
    total: u64,
    read: Arc<AtomicU64>,
    started: Instant,
    enabled: bool,
    bar: std::cell::OnceCell<ProgressBar>,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            total,
            read: Arc::default(),
            started: Instant::now(),
            enabled: io::stderr().is_terminal(),
            bar: std::cell::OnceCell::new(),
        }
    }

    /// Called per event; looks at the clock every 4096 events.
    fn tick(&self, events: u64) {
        if !self.enabled || !events.is_multiple_of(4096) {
            return;
        }
        let bar = match self.bar.get() {
            Some(b) => b,
            None if self.started.elapsed() >= Duration::from_secs(1) => {
                let bar =
                    ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template(
                    "{spinner} exporting {bar:30} {bytes}/{total_bytes} ({eta} left)",
                ) {
                    bar.set_style(style);
                }
                self.bar.get_or_init(|| bar)
            }
            None => return,
        };
        bar.set_position(self.read.load(Ordering::Relaxed));
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}
