//! [`GramFilter`]: a one-hash Bloom filter of the byte trigrams of a
//! session's output (ASCII letters folded to lower case), sized to the
//! session.
//!
//! A literal of `n` ≥ 3 bytes can occur in the output only if all its
//! `n - 2` trigrams are in the filter. The builder hashes every trigram into
//! 2^20 bits, then halves the table (OR-ing the halves, which is the same
//! as hashing into the smaller table) while at most a quarter of the bits
//! would be set. With a fill ratio `f` ≤ 0.25 a literal with `q` trigrams
//! passes a session that lacks it with probability about `f^q` (under 0.1 %
//! for 6 characters). Output so varied that more than half of the 2^20
//! bits are set gets no filter: such sessions are always scanned.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// log2 of the table size the builder starts with (2^20 bits, 128 KiB:
/// it stays in the L2 cache while every output byte is hashed).
pub const MAX_LOG2: u8 = 20;
/// log2 of the smallest table (512 bits, 64 bytes).
pub const MIN_LOG2: u8 = 9;
/// Tables are halved while the fill ratio stays at or below this.
pub const TARGET_FILL: f64 = 0.25;
/// No filter is kept when the full-size table is fuller than this.
pub const MAX_FILL: f64 = 0.5;

/// The finished filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GramFilter {
    log2: u8,
    words: Vec<u64>,
}

/// Words in the builder's table (2^[`MAX_LOG2`] bits).
const WORDS: usize = 1 << (MAX_LOG2 - 6);

/// Output bytes between two counts of the table's bits (for
/// [`GramBuilder::saturated`]).
const COUNT_EVERY: usize = 256 << 10;

/// Output lower-cased at a time by [`GramBuilder::push`].
const LOWER_CHUNK: usize = 4096;

/// A builder keeps the bits it set in a sorted list (4 bytes a bit) until
/// the list is this long or [`FEW_BYTES`] of output came: a quiet session
/// then holds a few KiB instead of the 128 KiB table.
const FEW_BITS: usize = 4096;
/// Output after which a builder takes its table (a busy session: one bit
/// set per byte costs less in the table than in the list).
const FEW_BYTES: usize = 256 << 10;

/// The bits a builder has set.
#[derive(Debug, Clone)]
enum Bits {
    /// Sorted, distinct bit numbers.
    Few(Vec<u32>),
    /// The table, [`WORDS`] long.
    Table(Vec<u64>),
}

/// Builds a [`GramFilter`] from a stream of output bytes; trigrams spanning
/// two `push` calls count.
#[derive(Debug, Clone)]
pub struct GramBuilder {
    bits: Bits,
    state: u32,
    seen: u8,
    /// Output bytes pushed.
    pushed: usize,
    /// Bits set at the last count; past [`MAX_FILL`] of the table the
    /// filter could not be used, so further output is not looked at.
    ones: u32,
    /// Bytes pushed since that count.
    uncounted: usize,
}

impl Default for GramBuilder {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn hash(trigram: u32) -> u32 {
    (u64::from(trigram).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
}

/// The trigrams of `s` (ASCII letters lower-cased), as the filter sees them.
pub fn trigrams(s: &[u8]) -> Vec<u32> {
    let mut out: Vec<u32> = s
        .windows(3)
        .map(|w| {
            u32::from(w[0].to_ascii_lowercase()) << 16
                | u32::from(w[1].to_ascii_lowercase()) << 8
                | u32::from(w[2].to_ascii_lowercase())
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Calls `set` with the bit number (below 2^[`MAX_LOG2`]) of every trigram
/// of `data`, the first two after `state` (the last bytes seen, updated).
/// The output is lower-cased a chunk at a time (a loop the compiler
/// vectorises) and each trigram read from the chunk, with no dependency
/// from one byte to the next.
#[inline]
fn each_bit(state: &mut u32, data: &[u8], mut set: impl FnMut(usize)) {
    let mut buf = [0u8; LOWER_CHUNK + 2];
    for chunk in data.chunks(LOWER_CHUNK) {
        buf[0] = (*state >> 8) as u8;
        buf[1] = *state as u8;
        for (d, s) in buf[2..].iter_mut().zip(chunk) {
            *d = s.to_ascii_lowercase();
        }
        let lowered = &buf[..chunk.len() + 2];
        for w in lowered.windows(3) {
            let trigram = u32::from(w[0]) << 16 | u32::from(w[1]) << 8 | u32::from(w[2]);
            set(hash(trigram) as usize & ((1 << MAX_LOG2) - 1));
        }
        let n = lowered.len();
        *state = u32::from(lowered[n - 2]) << 8 | u32::from(lowered[n - 1]);
    }
}

/// The table with the bits of `few` set.
fn table_of(few: &[u32]) -> Vec<u64> {
    let mut words = vec![0; WORDS];
    for &bit in few {
        words[bit as usize >> 6] |= 1u64 << (bit & 63);
    }
    words
}

impl GramBuilder {
    /// An empty builder (small; the 128 KiB table comes with the output).
    pub fn new() -> Self {
        GramBuilder {
            bits: Bits::Few(Vec::new()),
            state: 0,
            seen: 0,
            pushed: 0,
            ones: 0,
            uncounted: 0,
        }
    }

    /// Add output bytes (none once [`Self::saturated`]). Every output byte
    /// of a busy session passes through here: one multiply and one bit set
    /// each.
    pub fn push(&mut self, data: &[u8]) {
        if self.saturated() {
            return;
        }
        let mut data = data;
        while self.seen < 2 {
            let Some((&b, rest)) = data.split_first() else {
                return;
            };
            self.state = (self.state << 8) | u32::from(b.to_ascii_lowercase());
            self.seen += 1;
            data = rest;
        }
        self.pushed = self.pushed.saturating_add(data.len());
        if let Bits::Few(few) = &self.bits {
            if self.pushed > FEW_BYTES {
                self.bits = Bits::Table(table_of(few));
            }
        }
        match &mut self.bits {
            Bits::Table(words) => {
                let Some(words) = words.first_chunk_mut::<WORDS>() else {
                    return;
                };
                // `bit >> 6` < WORDS: no bounds check.
                each_bit(&mut self.state, data, |bit| {
                    words[bit >> 6] |= 1u64 << (bit & 63)
                });
            }
            Bits::Few(few) => {
                each_bit(&mut self.state, data, |bit| {
                    if let Err(at) = few.binary_search(&(bit as u32)) {
                        few.insert(at, bit as u32);
                    }
                });
                if few.len() > FEW_BITS {
                    self.bits = Bits::Table(table_of(few));
                }
                return;
            }
        }
        self.uncounted += data.len();
        if self.uncounted >= COUNT_EVERY {
            self.count();
        }
    }

    /// Counts the bits set.
    fn count(&mut self) {
        if let Bits::Table(words) = &self.bits {
            self.ones = words.iter().map(|w| w.count_ones()).sum();
        }
        self.uncounted = 0;
    }

    /// The table is fuller than [`MAX_FILL`]: [`Self::finish`] gives no
    /// filter whatever comes next (binary output: random data, compressed
    /// files; printable text has too few distinct trigrams to get there),
    /// so the caller may stop feeding it. The bits are counted every
    /// 256 KiB of output, so this can turn true up to that much late.
    pub fn saturated(&self) -> bool {
        f64::from(self.ones) > MAX_FILL * (1u64 << MAX_LOG2) as f64
    }

    /// Shrink to the smallest table within [`TARGET_FILL`]; `None` when even
    /// the full table is fuller than [`MAX_FILL`].
    pub fn finish(self) -> Option<GramFilter> {
        let mut words = match self.bits {
            Bits::Few(few) => table_of(&few),
            Bits::Table(words) => words,
        };
        let mut log2 = MAX_LOG2;
        if fill(&words, log2) > MAX_FILL {
            return None;
        }
        while log2 > MIN_LOG2 {
            let half = words.len() / 2;
            let folded: Vec<u64> = (0..half).map(|i| words[i] | words[i + half]).collect();
            if fill(&folded, log2 - 1) > TARGET_FILL {
                break;
            }
            words = folded;
            log2 -= 1;
        }
        Some(GramFilter { log2, words })
    }
}

fn fill(words: &[u64], log2: u8) -> f64 {
    let ones: u64 = words.iter().map(|w| u64::from(w.count_ones())).sum();
    ones as f64 / (1u64 << log2) as f64
}

impl GramFilter {
    /// Size of the table in bits (a power of two).
    pub fn bits(&self) -> u64 {
        1 << self.log2
    }

    /// Share of bits set (the false-positive rate of one trigram).
    pub fn fill(&self) -> f64 {
        fill(&self.words, self.log2)
    }

    /// Whether the trigram (from [`trigrams`]) may be in the output.
    pub fn contains(&self, trigram: u32) -> bool {
        let h = hash(trigram) & ((1u32 << self.log2) - 1);
        self.words
            .get((h >> 6) as usize)
            .is_some_and(|w| w & (1u64 << (h & 63)) != 0)
    }

    /// Whether a literal with these trigrams may occur in the output
    /// (always true for literals shorter than 3 bytes: no trigrams).
    pub fn may_contain(&self, trigrams: &[u32]) -> bool {
        trigrams.iter().all(|&t| self.contains(t))
    }

    fn to_base64(&self) -> String {
        let mut bytes = Vec::with_capacity(self.words.len() * 8);
        for w in &self.words {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        STANDARD.encode(bytes)
    }

    fn from_base64(log2: u8, s: &str) -> Result<GramFilter, String> {
        if !(MIN_LOG2..=MAX_LOG2).contains(&log2) {
            return Err(format!("filter size 2^{log2} out of range"));
        }
        let bytes = STANDARD.decode(s).map_err(|e| format!("filter: {e}"))?;
        if bytes.len() as u64 * 8 != 1u64 << log2 {
            return Err("filter length does not match its size".into());
        }
        let words = bytes
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                u64::from_le_bytes(a)
            })
            .collect();
        Ok(GramFilter { log2, words })
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    log2: u8,
    bits: String,
}

impl Serialize for GramFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire {
            log2: self.log2,
            bits: self.to_base64(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for GramFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        GramFilter::from_base64(w.log2, &w.bits).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A quiet session keeps a short list of bits; a busy one (many
    /// distinct trigrams, or much output) takes the table. Both give the
    /// filter of the table built from the start.
    #[test]
    fn quiet_sessions_keep_a_list_busy_ones_a_table() {
        let line = b"drwxr-xr-x 2 alice alice 4096 Dec  6 21:53 projects\r\n";
        let mut quiet = GramBuilder::new();
        for _ in 0..1000 {
            quiet.push(line);
        }
        assert!(matches!(&quiet.bits, Bits::Few(few) if few.len() < 100));
        let mut busy = GramBuilder::new();
        let mut words = String::new();
        for i in 0..20_000 {
            words.push_str(&format!("{i:x}z{}q ", i * 7919));
        }
        busy.push(words.as_bytes());
        assert!(
            matches!(busy.bits, Bits::Table(_)),
            "many distinct trigrams"
        );
        let mut long = GramBuilder::new();
        for _ in 0..(FEW_BYTES / line.len() + 2) {
            long.push(line);
        }
        assert!(matches!(long.bits, Bits::Table(_)), "much output");

        let mut table = GramBuilder::new();
        table.bits = Bits::Table(vec![0; WORDS]);
        for _ in 0..1000 {
            table.push(line);
        }
        assert_eq!(quiet.finish(), table.finish());
        let mut table = GramBuilder::new();
        table.bits = Bits::Table(vec![0; WORDS]);
        table.push(words.as_bytes());
        assert_eq!(busy.finish(), table.finish());
    }

    proptest! {
        /// However the output is cut into reads (some longer than a
        /// lower-casing chunk), the filter is the same and holds every
        /// trigram of the output, case folded.
        #[test]
        fn any_cut_gives_the_same_filter(
            data in proptest::collection::vec(any::<u8>(), 0..10_000),
            cuts in proptest::collection::vec(0usize..10_000, 0..6),
        ) {
            let mut whole = GramBuilder::new();
            whole.push(&data);
            let mut cut = GramBuilder::new();
            let mut at: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            at.sort_unstable();
            let mut from = 0;
            for c in at.into_iter().chain([data.len()]) {
                cut.push(&data[from..c]);
                from = c;
            }
            let (whole, cut) = (whole.finish(), cut.finish());
            prop_assert_eq!(&whole, &cut);
            if let Some(f) = whole {
                prop_assert!(f.may_contain(&trigrams(&data)));
                prop_assert!(f.may_contain(&trigrams(&data.to_ascii_uppercase())));
            }
        }
    }

    #[test]
    fn high_entropy_output_saturates_and_is_not_looked_at_further() {
        let mut b = GramBuilder::new();
        let mut pushed = 0;
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut chunk = Vec::new();
        while !b.saturated() {
            chunk.clear();
            for _ in 0..4096 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.push(x as u8); // binary: 2^24 trigrams, unlike text
            }
            b.push(&chunk);
            pushed += chunk.len();
            assert!(
                pushed < 8 << 20,
                "not saturated after {pushed} random bytes"
            );
        }
        let Bits::Table(before) = b.bits.clone() else {
            panic!("a saturated builder has its table");
        };
        b.push(b"anything more");
        assert!(
            matches!(&b.bits, Bits::Table(after) if *after == before),
            "nothing pushed after saturation"
        );
        assert!(b.finish().is_none(), "a saturated table gives no filter");
    }

    #[test]
    fn finds_what_was_pushed_across_pushes() {
        let mut b = GramBuilder::new();
        b.push(b"hello wor");
        b.push(b"ld, NEEDLE in a haystack\r\n");
        let f = b.finish().expect("small output has a filter");
        assert_eq!(f.bits(), 1 << MIN_LOG2);
        for s in ["world", "needle", "NeEdLe", "o wo", "hay"] {
            assert!(f.may_contain(&trigrams(s.as_bytes())), "{s}");
        }
        let absent = ["zebra", "xylophone", "qqq"];
        let misses = absent
            .iter()
            .filter(|s| !f.may_contain(&trigrams(s.as_bytes())))
            .count();
        assert!(misses >= 2, "filter too full: {}", f.fill());
        assert!(
            f.may_contain(&trigrams(b"ab")),
            "short literals always pass"
        );
    }

    #[test]
    fn empty_output_matches_nothing() {
        let f = GramBuilder::new().finish().expect("filter");
        assert!(!f.may_contain(&trigrams(b"abc")));
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let mut b = GramBuilder::new();
        b.push(b"some output");
        let f = b.finish().expect("filter");
        let json = serde_json::to_string(&f).expect("ser");
        let back: GramFilter = serde_json::from_str(&json).expect("de");
        assert_eq!(back, f);
        assert!(serde_json::from_str::<GramFilter>(r#"{"log2":9,"bits":"AAAA"}"#).is_err());
        assert!(serde_json::from_str::<GramFilter>(r#"{"log2":40,"bits":""}"#).is_err());
    }

    #[test]
    fn random_bytes_get_no_filter() {
        let mut b = GramBuilder::new();
        let mut x: u64 = 0x1234_5678;
        let mut data = vec![0u8; 8 << 20];
        for byte in &mut data {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *byte = x as u8;
        }
        b.push(&data);
        assert!(b.finish().is_none());
    }
}
