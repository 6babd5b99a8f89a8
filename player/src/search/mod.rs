//! `sshlog search`: find recorded sessions by user, client, start time,
//! command, exit code, event type and output text.
//!
//! Metadata comes from the index (`<log_dir>/index/`, see
//! `sshlog_format::index`), so those criteria never read recordings; days
//! or sessions the index lacks are read from their sidecars (with a note on
//! stderr). `--output` then scans the casts of the sessions still in the
//! running, in parallel, skipping those whose trigram filter rules the
//! text out.
//!
//! Modules: [`when`] (time arguments), [`query`] (criteria), [`source`]
//! (index or sidecars), [`output`] (cast scanning), [`print`] (results).

pub mod output;
pub mod print;
pub mod query;
pub mod source;
pub mod store;
pub mod when;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;
use rayon::prelude::*;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use self::output::{OutputHit, OutputMatcher};
use self::print::Match;
use self::query::{check_event_type, Cidr, CmdPattern, Query};
use crate::style::Style;

/// Long help of `sshlog search`.
pub const LONG_ABOUT: &str = "Find recorded sessions.\n\n\
    Prints one line per matching session (start time, user, client, terminal, session \
    id, cast file) and, for --cmd, --exit-code and --output, one indented line per \
    hit with its position in the recording (`+1:23.4`), ready for `sshlog play ID \
    --from 1:23.4`. All criteria must hold. Sessions are listed by start time.\n\n\
    The metadata comes from the index under LOG_DIR/index (kept up to date by sshlogd, \
    or built with `sshlog index`); days without an index are read from the session \
    sidecars, with a note on stderr. --output reads the recordings themselves, skipping \
    those the index proves cannot contain the text.\n\n\
    PATTERN: --cmd takes a glob matched against the command name (`nmap`), the whole \
    command line (`*/etc/shadow*`) and the line with the program's directory removed \
    (`nmap -sS *`), or /REGEX/ searched in the command line. --output takes TEXT \
    (exact bytes) or /REGEX/; matches are found within lines and across the pieces \
    the output was recorded in.\n\n\
    TIME (--since, --until: the session's start): relative to now (`45m`, `2h`, \
    `3d`, `1w`, `1h30m`), `today`, `yesterday`, or absolute: RFC 3339 \
    (`2026-11-28T10:00:00Z`) or local time (`2026-11-28 10:00`, `2026-11-28`).";

/// Examples and exit status of `sshlog search`.
pub const AFTER_HELP: &str = "\
EXAMPLES:
  sshlog search --user alice --since 2d
  sshlog search --cmd nmap
  sshlog search --cmd '/^sudo .*(passwd|shadow)/' --json
  sshlog search --cmd 'rm -rf *' --exit-code 0 --since '2026-11-28 08:00'
  sshlog search --client 192.0.2.0/24 --event file_upload
  sshlog search --output 'Permission denied' --since 1w
  sshlog search --output '/ssh-rsa AAAA[0-9A-Za-z+\\/]{20}/' --limit 5

EXIT STATUS:
  0 if a session matched, 1 if none did, 2 on error (like grep).";

/// Arguments of `sshlog search`.
#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// Sessions that ran a matching command: GLOB or /REGEX/.
    #[arg(long, value_name = "PATTERN")]
    pub cmd: Option<String>,

    /// Sessions of this user.
    #[arg(long, short = 'u', value_name = "USER")]
    pub user: Option<String>,

    /// Sessions of the connection whose sshd had this pid (also written as
    /// the sshlog agent's recording name, `ssh_1352`).
    #[arg(long, value_name = "PID|ssh_PID", value_parser = parse_pid)]
    pub pid: Option<u32>,

    /// Sessions from this client address or network (IP or CIDR).
    #[arg(long, value_name = "IP|CIDR")]
    pub client: Option<String>,

    /// Sessions that started at or after TIME.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Sessions that started at or before TIME.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Sessions with a command that exited with N (the same command as
    /// --cmd, if given).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub exit_code: Option<i32>,

    /// Sessions whose terminal output contains TEXT or matches /REGEX/.
    #[arg(long, short = 'o', value_name = "TEXT|/REGEX/")]
    pub output: Option<String>,

    /// Make --output ignore case.
    #[arg(long, short = 'i')]
    pub ignore_case: bool,

    /// Sessions with an event of this type (repeat or separate with
    /// commas: all must be present).
    #[arg(
        long = "event",
        short = 'e',
        value_name = "TYPE",
        value_delimiter = ','
    )]
    pub events: Vec<String>,

    /// Print one JSON object per session (the global `--json`).
    #[arg(skip)]
    pub json: bool,

    /// Keep at most N output hits per session (the rest of a session's
    /// output is not read).
    #[arg(long, value_name = "N", default_value_t = output::MAX_HITS)]
    pub max_hits: usize,

    /// Stop after N sessions.
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,

    /// Ignore the index: read every sidecar.
    #[arg(long)]
    pub no_index: bool,

    /// Search the fleet store instead of LOG_DIR:
    /// s3://BUCKET[/PREFIX]?endpoint=URL&region=R&credentials_file=FILE
    /// (credentials also from SSHLOG_STORE_ACCESS_KEY_ID and
    /// SSHLOG_STORE_SECRET_ACCESS_KEY). Without --since, the last month.
    #[arg(long, value_name = "URL", env = "SSHLOG_STORE")]
    pub store: Option<String>,

    /// Only sessions recorded on this host (its store host id; with --store).
    #[arg(long, value_name = "HOST_ID", requires = "store")]
    pub host: Option<String>,
}

/// `1352` or `ssh_1352` (with any suffix the agent's files had).
fn parse_pid(s: &str) -> Result<u32, String> {
    s.parse()
        .ok()
        .or_else(|| crate::locate::agent_name(s))
        .ok_or_else(|| format!("expected an sshd pid such as 1352 or ssh_1352, found `{s}`"))
}

impl SearchArgs {
    /// Compile the criteria.
    pub fn query(&self) -> Result<Query> {
        let now = Utc::now();
        let time = |s: &Option<String>| -> Result<_> {
            s.as_deref()
                .map(|s| when::parse_when(s, now).map_err(anyhow::Error::msg))
                .transpose()
        };
        for t in &self.events {
            check_event_type(t)?;
        }
        Ok(Query {
            cmd: self.cmd.as_deref().map(CmdPattern::parse).transpose()?,
            user: self.user.clone(),
            sshd_pid: self.pid,
            client: self.client.as_deref().map(Cidr::parse).transpose()?,
            since: time(&self.since).context("--since")?,
            until: time(&self.until).context("--until")?,
            exit_code: self.exit_code,
            events: self.events.clone(),
            output: self
                .output
                .as_deref()
                .map(|o| OutputMatcher::parse(o, self.ignore_case))
                .transpose()?,
        })
    }
}

/// Run `sshlog search`; the exit status is 0 with matches, 1 without, 2
/// on error (printed as one line on stderr).
pub fn main(args: &SearchArgs, log_dir: &Path) -> ExitCode {
    let mut out = io::stdout().lock();
    let mut err = io::stderr();
    match run(args, log_dir, &mut out, &mut err, Style::detect()) {
        Ok(Outcome { matched, errors }) => {
            if errors > 0 {
                ExitCode::from(2)
            } else if matched {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(err, "sshlog: {}", crate::app::one_line(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// What a search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// At least one session was printed.
    pub matched: bool,
    /// Sessions that could not be read (reported on `err`).
    pub errors: usize,
}

/// Sessions whose casts are scanned together (in parallel) before their
/// results are printed.
const BATCH: usize = 64;

/// Search and print; notes and per-session errors go to `err`.
pub fn run(
    args: &SearchArgs,
    log_dir: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
    style: Style,
) -> Result<Outcome> {
    let q = args.query()?;
    let from = q.since.map(|t| t.date_naive());
    let to = q.until.map(|t| t.date_naive());
    let store = args
        .store
        .as_deref()
        .map(store::StoreSource::open)
        .transpose()?;
    let got = match &store {
        Some(st) => st.collect(
            args.host.as_deref(),
            from,
            to,
            q.output.is_some(),
            q.user.as_deref(),
        )?,
        None => source::collect(log_dir, from, to, !args.no_index, q.output.is_some())?,
    };
    notes(err, &got)?;
    let mut errors = got.errors.len();
    for e in &got.errors {
        writeln!(err, "sshlog: {}", crate::app::one_line(e))?;
    }
    let limit = args.limit.unwrap_or(usize::MAX);
    let candidates: Vec<(&source::Session, Vec<usize>)> = got
        .sessions
        .iter()
        .filter_map(|s| q.check(&s.entry).map(|hits| (s, hits)))
        .collect();
    let mut printed = 0usize;
    let emit = |m: Match, out: &mut dyn Write, printed: &mut usize| -> Result<()> {
        if args.json {
            print::json_line(out, &m, log_dir)?;
        } else {
            print::text(out, &m, log_dir, style)?;
        }
        *printed += 1;
        Ok(())
    };
    match &q.output {
        None => {
            for (s, commands) in candidates.into_iter().take(limit) {
                emit(
                    Match {
                        entry: &s.entry,
                        commands,
                        output: Vec::new(),
                        host: s.host.as_deref(),
                        cast: store.as_ref().and_then(|st| st.cast_location(s)),
                    },
                    out,
                    &mut printed,
                )?;
            }
        }
        Some(m) => {
            let todo: Vec<_> = candidates
                .into_iter()
                .filter(|(s, _)| m.may_match(s.grams.as_ref(), s.entry.cast_size))
                .collect();
            // Small batches when few sessions are wanted (--limit).
            let batch_len = BATCH.min(
                limit
                    .saturating_mul(2)
                    .max(2 * rayon::current_num_threads()),
            );
            'batches: for batch in todo.chunks(batch_len) {
                let results: Vec<Result<Vec<OutputHit>>> = batch
                    .par_iter()
                    .map(|(s, _)| {
                        let cast = match &store {
                            Some(st) => st.cast(s)?,
                            None => s.entry.cast_path(log_dir),
                        };
                        match cast {
                            Some(p) => m.search_cast(&p, args.max_hits),
                            None => Ok(Vec::new()),
                        }
                    })
                    .collect();
                for ((s, commands), hits) in batch.iter().zip(results) {
                    if printed >= limit {
                        break 'batches;
                    }
                    match hits {
                        Ok(hits) if hits.is_empty() => {}
                        Ok(output) => emit(
                            Match {
                                entry: &s.entry,
                                commands: commands.clone(),
                                output,
                                host: s.host.as_deref(),
                                cast: store.as_ref().and_then(|st| st.cast_location(s)),
                            },
                            out,
                            &mut printed,
                        )?,
                        Err(e) => {
                            errors += 1;
                            writeln!(err, "sshlog: {}", crate::app::one_line(&format!("{e:#}")))?;
                        }
                    }
                }
                out.flush()?;
                if printed >= limit {
                    break;
                }
            }
        }
    }
    out.flush()?;
    Ok(Outcome {
        matched: printed > 0,
        errors,
    })
}

fn notes(err: &mut dyn Write, got: &source::Collected) -> io::Result<()> {
    if let (Some(first), Some(last)) = (got.unindexed_days.first(), got.unindexed_days.last()) {
        let n = got.unindexed_days.len();
        let days = if n == 1 {
            format!("{first} has no index")
        } else {
            format!("{n} days ({first} … {last}) have no index")
        };
        writeln!(
            err,
            "sshlog: note: {days}: read the session sidecars instead (`sshlog index` builds it)"
        )?;
    }
    if got.unindexed_sessions > 0 {
        writeln!(
            err,
            "sshlog: note: {} sessions are not in the index yet (live, or changed since): read from their sidecars",
            got.unindexed_sessions
        )?;
    }
    Ok(())
}
