//! Full-text search of recorded output (`--output TEXT|/REGEX/`).
//!
//! The output of a cast is decoded with the format library's fast scanner
//! and searched in chunks of whole lines (so a match split across output
//! events or zstd frames is found); a match is reported at the time of the
//! output event holding its first byte. In a regex, `^` and `$` match at
//! line ends, `\n` or `\r\n` (terminals end lines with CR LF). Sessions
//! are first checked against
//! their trigram filter from the index: a literal (or every literal prefix
//! of a regex) needs all its trigrams there.

use anyhow::{Context, Result};
use memchr::memmem;
use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::literal::Extractor;
use sshlog_format::index::filter::trigrams;
use sshlog_format::index::{scan_cast, GramEntry, ScanEvent};
use sshlog_format::text::strip_escapes;
use std::ops::ControlFlow;
use std::path::Path;

use super::query::slashed;

/// Default of `--max-hits`: output hits kept per session; the scan of a
/// session stops there.
pub const MAX_HITS: usize = 100;
/// Output is searched once this much is buffered (cut at a newline);
/// small enough that `--max-hits` stops reading a session early.
const CHUNK: usize = 256 << 10;
/// A "line" longer than this is searched in pieces.
const MAX_LINE: usize = 8 << 20;

enum Matcher {
    Literal(Box<memmem::Finder<'static>>),
    Regex(Regex),
}

/// A compiled `--output` pattern with its prefilter.
pub struct OutputMatcher {
    matcher: Matcher,
    /// Alternatives of required literals, as trigram sets: a session can
    /// match only if one set is entirely in its filter. `None`: no filter
    /// can decide.
    grams: Option<Vec<Vec<u32>>>,
    /// The pattern as given (for messages and JSON).
    pub pattern: String,
}

impl std::fmt::Debug for OutputMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputMatcher")
            .field("pattern", &self.pattern)
            .finish_non_exhaustive()
    }
}

/// One match in a session's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputHit {
    /// Time of the output event holding the first matched byte (µs).
    pub t_us: u64,
    /// The text around the match (escape sequences removed, controls
    /// escaped, at most about 100 characters).
    pub context: String,
}

impl OutputMatcher {
    /// `TEXT` (a literal) or `/REGEX/`; `ignore_case` folds case.
    pub fn parse(s: &str, ignore_case: bool) -> Result<OutputMatcher> {
        let (matcher, grams) = match slashed(s) {
            Some(re) => {
                let regex = RegexBuilder::new(re)
                    .case_insensitive(ignore_case)
                    .multi_line(true)
                    .crlf(true)
                    .build()
                    .with_context(|| format!("invalid --output regex /{re}/"))?;
                (Matcher::Regex(regex), regex_grams(re, ignore_case))
            }
            None => return Self::literal(s, ignore_case),
        };
        Ok(OutputMatcher {
            matcher,
            grams,
            pattern: s.to_owned(),
        })
    }

    /// Whether a session with this index filter may contain a match.
    /// Filters computed for another cast size (stale) are not used.
    /// A matcher for the text `s` as it is (never a regex).
    pub fn literal(s: &str, ignore_case: bool) -> Result<OutputMatcher> {
        if s.is_empty() {
            anyhow::bail!("--output needs a non-empty TEXT or /REGEX/");
        }
        let grams = (s.len() >= 3).then(|| vec![trigrams(s.as_bytes())]);
        let matcher = if ignore_case {
            let regex = RegexBuilder::new(&regex::escape(s))
                .case_insensitive(true)
                .build()
                .context("invalid --output text")?;
            Matcher::Regex(regex)
        } else {
            Matcher::Literal(Box::new(memmem::Finder::new(s.as_bytes()).into_owned()))
        };
        Ok(OutputMatcher {
            matcher,
            grams,
            pattern: s.to_owned(),
        })
    }

    pub fn may_match(&self, grams: Option<&GramEntry>, cast_size: u64) -> bool {
        let (Some(alternatives), Some(g)) = (&self.grams, grams) else {
            return true;
        };
        let Some(filter) = g.filter.as_ref().filter(|_| g.cast_size == cast_size) else {
            return true;
        };
        alternatives.iter().any(|t| filter.may_contain(t))
    }

    fn find_all(&self, hay: &[u8], mut f: impl FnMut(usize) -> bool) {
        match &self.matcher {
            Matcher::Literal(finder) => {
                for at in finder.find_iter(hay) {
                    if !f(at) {
                        return;
                    }
                }
            }
            Matcher::Regex(re) => {
                for m in re.find_iter(hay) {
                    if !f(m.start()) {
                        return;
                    }
                }
            }
        }
    }

    /// Search the output of the cast at `path`; at most `max_hits` hits.
    pub fn search_cast(&self, path: &Path, max_hits: usize) -> Result<Vec<OutputHit>> {
        let mut s = Searcher {
            m: self,
            max_hits: max_hits.max(1),
            buf: Vec::with_capacity(CHUNK + 64 * 1024),
            marks: Vec::new(),
            hits: Vec::new(),
        };
        scan_cast(path, |ev| {
            if let ScanEvent::Output { time_us, data } = ev {
                s.push(time_us, data)
            } else {
                ControlFlow::Continue(())
            }
        })
        .with_context(|| format!("cannot read {}", path.display()))?;
        let len = s.buf.len();
        s.search(len);
        s.hits.truncate(s.max_hits);
        Ok(s.hits)
    }
}

/// Trigram alternatives from the literal prefixes of a regex, when every
/// match must start with one of at least 3 bytes.
fn regex_grams(re: &str, ignore_case: bool) -> Option<Vec<Vec<u32>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(ignore_case)
        .multi_line(true)
        .crlf(true)
        .build()
        .parse(re)
        .ok()?;
    let seq = Extractor::new().extract(&hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().len() < 3) {
        return None;
    }
    Some(lits.iter().map(|l| trigrams(l.as_bytes())).collect())
}

struct Searcher<'a> {
    m: &'a OutputMatcher,
    max_hits: usize,
    /// Output not searched yet.
    buf: Vec<u8>,
    /// (offset in buf, event time): where each event's bytes start.
    marks: Vec<(usize, u64)>,
    hits: Vec<OutputHit>,
}

impl Searcher<'_> {
    fn push(&mut self, time_us: u64, data: &[u8]) -> ControlFlow<()> {
        if data.is_empty() {
            return ControlFlow::Continue(());
        }
        self.marks.push((self.buf.len(), time_us));
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            let cut = match memchr::memrchr(b'\n', &self.buf) {
                Some(nl) => nl + 1,
                None if self.buf.len() >= MAX_LINE => self.buf.len(),
                None => return ControlFlow::Continue(()),
            };
            self.search(cut);
        }
        if self.hits.len() >= self.max_hits {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Search `buf[..cut]`, then drop it.
    fn search(&mut self, cut: usize) {
        let hay = &self.buf[..cut];
        let marks = &self.marks;
        let hits = &mut self.hits;
        let max_hits = self.max_hits;
        self.m.find_all(hay, |at| {
            let i = marks.partition_point(|m| m.0 <= at).saturating_sub(1);
            let t_us = marks.get(i).map_or(0, |m| m.1);
            hits.push(OutputHit {
                t_us,
                context: context(hay, at),
            });
            hits.len() < max_hits
        });
        self.buf.drain(..cut);
        let keep = self.marks.partition_point(|m| m.0 <= cut).saturating_sub(1);
        self.marks.drain(..keep);
        for m in &mut self.marks {
            m.0 = m.0.saturating_sub(cut);
        }
    }
}

/// The line around `at`, cleaned for display.
fn context(hay: &[u8], at: usize) -> String {
    let line_start = memchr::memrchr(b'\n', &hay[..at]).map_or(0, |i| i + 1);
    let line_end = memchr::memchr(b'\n', &hay[at..]).map_or(hay.len(), |i| at + i);
    let from = line_start.max(at.saturating_sub(200));
    let to = line_end.min(at + 400);
    let text = strip_escapes(&String::from_utf8_lossy(&hay[from..to]));
    let text = text.trim();
    let mut out: String = text.chars().take(100).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    crate::table::escape_controls(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_stripped_from_context() {
        assert_eq!(
            context(b"a\n\x1b[31merror:\x1b[0m disk full\r\nnext", 9),
            "error: disk full"
        );
        assert_eq!(strip_escapes("\x1b]0;title\x07x\x1b]2;t\x1b\\y"), "xy");
    }

    #[test]
    fn regex_literals_feed_the_filter() {
        // needle0 … needle9: one alternative per digit.
        assert_eq!(
            regex_grams("needle[0-9]+", false).map(|v| v.len()),
            Some(10)
        );
        assert!(regex_grams("a.*b", false).is_none());
        assert!(regex_grams("(foo|ba)x", false).is_some());
        assert!(regex_grams("(fooo|b)", false).is_none());
        assert!(regex_grams("error", true).is_some());
    }
}
