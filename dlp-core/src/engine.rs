//! The compiled multi-pattern engine.
//!
//! Building a [`Scanner`] compiles every detector once. Searching works in rounds over a
//! buffer:
//!
//! 1. **Anchored patterns** (those whose every match starts with one of a small set of
//!    literals of three or more bytes, extracted from the regex by `regex-syntax`) share one
//!    Aho-Corasick automaton (case-insensitive, SIMD prefilter). Each literal hit is confirmed
//!    by that pattern's regex, anchored at the hit.
//! 2. **Unanchored patterns** (digit runs such as card and ID numbers, emails) run their own
//!    `regex-automata` meta regex (lazy DFA with its own prefilter) over the buffer.
//! 3. Candidates go through validators, entropy, exclusions, hotwords and likelihood.
//!
//! Every pattern yields leftmost-first, non-overlapping matches, exactly as a whole-buffer
//! search would. Streaming keeps an overlap of `max_len + context + 1` bytes between rounds
//! and resumes each pattern where it stopped, so a match that spans a chunk boundary is
//! found exactly once and memory stays bounded by the chunk size plus the overlap.

use crate::context::{self, Table};
use crate::detector::{
    self, Category, Definitions, DetectorSpec, SourcedSpec, CONTEXT_EXCLUSION_WINDOW, MAX_PATTERN_LEN,
};
use crate::error::{Error, Result};
use crate::finding::{self, Finding};
use crate::likelihood::{self, Likelihood};
use crate::redact::redact;
use crate::validate::{self, Outcome, Validator};
use aho_corasick::AhoCorasick;
use regex_automata::meta::{self, Regex};
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, PatternID, Span};
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What one regex call on a small window costs, in bytes of a lazy-DFA pass (a call is
/// about 100 ns; the pass about 0.5 ns a byte).
const WINDOW_CALL_COST: usize = 200;
/// Default bytes read per streaming round.
pub const DEFAULT_CHUNK_SIZE: usize = 1 << 20;
/// Largest chunk size: buffer offsets of digit positions are kept as `u32`.
const MAX_CHUNK_SIZE: usize = 256 << 20;
/// Shortest prefix literal that makes a pattern "anchored" (shorter ones hit too often).
const MIN_ANCHOR_LEN: usize = 3;
/// Most distinct prefix literals one pattern may contribute to the anchor automaton.
const MAX_ANCHORS_PER_PATTERN: usize = 256;
/// Unanchored patterns that need at least this many digits are searched only where digits
/// are dense enough ([`DigitGate`]). Below it, windows cover most digit-bearing text and the
/// gate costs more than it saves.
const MIN_GATE_DIGITS: usize = 6;

/// Which matcher generates candidates. Both give the same findings: every candidate is
/// confirmed by the same `regex-automata` regex, validated and scored the same way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// Pure Rust: Aho-Corasick over literal anchors, digit, hotword and literal gates, lazy
    /// DFAs. The default, and the only engine in builds without the `hyperscan` feature.
    #[default]
    Rust,
    /// Hyperscan reports where matches of every pattern end, in one pass over the buffer;
    /// the Rust regex then confirms each candidate in a window around it. Needs the
    /// `hyperscan` cargo feature (and libhs) and an x86-64 CPU with SSSE3.
    Hyperscan,
}

impl std::str::FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "rust" => Ok(Engine::Rust),
            "hyperscan" | "hs" => Ok(Engine::Hyperscan),
            _ => Err(format!("unknown engine {s:?}: use rust or hyperscan")),
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Rust => "rust",
            Engine::Hyperscan => "hyperscan",
        })
    }
}

impl Engine {
    /// Whether this build was compiled with the Hyperscan backend.
    pub const HYPERSCAN_BUILT: bool = cfg!(feature = "hyperscan");
}

/// Builds a [`Scanner`]: choose detectors and options, then [`ScannerBuilder::build`].
///
/// ```
/// let scanner = dlp_core::Scanner::builder().builtin().unwrap().build().unwrap();
/// let findings = scanner.scan_bytes(b"card 4539 1488 0343 6467");
/// assert_eq!(&*findings[0].info_type, "CREDIT_CARD_NUMBER");
/// assert_eq!(findings[0].quote, None); // raw values only with include_quote(true)
/// ```
#[derive(Debug, Clone)]
pub struct ScannerBuilder {
    defs: Definitions,
    include_quote: bool,
    min_likelihood: Likelihood,
    chunk_size: usize,
    fingerprint_key: Option<Vec<u8>>,
    digit_gate: bool,
    hotword_gate: bool,
    literal_gate: bool,
    engine: Engine,
}

impl Default for ScannerBuilder {
    fn default() -> Self {
        ScannerBuilder {
            defs: Definitions::default(),
            include_quote: false,
            min_likelihood: Likelihood::Possible,
            chunk_size: DEFAULT_CHUNK_SIZE,
            fingerprint_key: None,
            digit_gate: true,
            hotword_gate: true,
            literal_gate: true,
            engine: Engine::Rust,
        }
    }
}

impl ScannerBuilder {
    /// Adds the detectors embedded from `patterns/`.
    pub fn builtin(mut self) -> Result<Self> {
        self.defs.extend(detector::load_builtin()?);
        Ok(self)
    }

    /// Adds detectors from a file, or every `*.toml` in a directory.
    pub fn load_path(mut self, path: &Path) -> Result<Self> {
        self.defs.extend(detector::load_path(path)?);
        Ok(self)
    }

    /// Adds detectors from TOML text; `source` names it in errors.
    pub fn load_str(mut self, source: &str, text: &str) -> Result<Self> {
        self.defs.extend(detector::load_str(source, text)?);
        Ok(self)
    }

    /// Keeps only the detectors whose id `keep` accepts (e.g. to scan for a subset of the
    /// builtin set).
    pub fn retain(mut self, keep: impl Fn(&str) -> bool) -> Self {
        self.defs.detectors.retain(|d| keep(&d.spec.id));
        self
    }

    /// Puts the raw matched value in [`Finding::quote`] (off by default).
    pub fn include_quote(mut self, yes: bool) -> Self {
        self.include_quote = yes;
        self
    }

    /// Drops findings below this likelihood (default [`Likelihood::Possible`]).
    pub fn min_likelihood(mut self, level: Likelihood) -> Self {
        self.min_likelihood = level;
        self
    }

    /// Bytes read per streaming round (default 1 MiB; at least 1, at most 256 MiB). Memory
    /// per stream is a small multiple of this plus the overlap; small values exist for tests.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.clamp(1, MAX_CHUNK_SIZE);
        self
    }

    /// Key for [`Finding::fingerprint`]. Without one, a random key is made per scanner, so
    /// fingerprints compare only within one process.
    pub fn fingerprint_key(mut self, key: Vec<u8>) -> Self {
        self.fingerprint_key = Some(key);
        self
    }

    /// Searches patterns that need many digits only in digit-dense windows (default on). The
    /// findings are the same either way; off exists to test exactly that.
    pub fn digit_gate(mut self, on: bool) -> Self {
        self.digit_gate = on;
        self
    }

    /// Searches the unanchored patterns of detectors that require a hotword only around
    /// their hotwords (default on). Off exists to test that the findings are the same.
    pub fn hotword_gate(mut self, on: bool) -> Self {
        self.hotword_gate = on;
        self
    }

    /// Searches unanchored patterns that every match of which holds one of a few rare
    /// literals (`@` in an email, `Q~` in an Azure secret) only around those literals' hits
    /// (default on). Off exists to test that the findings are the same.
    pub fn literal_gate(mut self, on: bool) -> Self {
        self.literal_gate = on;
        self
    }

    /// Chooses the candidate generator (default [`Engine::Rust`]). [`Engine::Hyperscan`] in a
    /// build without the `hyperscan` feature makes [`ScannerBuilder::build`] fail.
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// Compiles every detector. Fails, naming the file, detector and pattern, on a regex that
    /// does not compile, can match the empty string or has no bounded length; and on a
    /// detector id defined twice.
    pub fn build(self) -> Result<Scanner> {
        let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        for s in &self.defs.detectors {
            if let Some(first) = seen.insert(&s.spec.id, &s.source) {
                return Err(Error::Detector {
                    file: s.source.clone(),
                    detector: s.spec.id.clone(),
                    problem: format!("id already defined in {first}; give the detector another id"),
                });
            }
        }
        let mut detectors = Vec::new();
        let mut patterns = Vec::new();
        let mut anchor_literals: Vec<Vec<u8>> = Vec::new();
        let mut anchor_patterns: Vec<Vec<u32>> = Vec::new();
        let mut unanchored = Vec::new();
        let mut column_only = Vec::new();
        let mut gated: Vec<DigitGate> = Vec::new();
        let mut hot_literals: Vec<Vec<u8>> = Vec::new();
        let mut hot_targets: Vec<Vec<HotTarget>> = Vec::new();
        let mut hot_gated: Vec<u32> = Vec::new();
        let mut literal_gated: Vec<u32> = Vec::new();
        // Engine::Hyperscan: patterns whose candidates Hyperscan generates, with their
        // syntax trees and longest match.
        let mut hs_pending: Vec<(u32, regex_syntax::hir::Hir, usize)> = Vec::new();
        if self.engine == Engine::Hyperscan && !Engine::HYPERSCAN_BUILT {
            return Err(Error::Engine {
                engine: self.engine.to_string(),
                problem: "this build has no Hyperscan backend: rebuild with `--features hyperscan` \
                          (needs libhs: apt-get install libhyperscan-dev), or use the rust engine"
                    .into(),
            });
        }
        #[cfg(feature = "hyperscan")]
        if self.engine == Engine::Hyperscan {
            if let Some(problem) = crate::hs::platform_error() {
                return Err(Error::Engine { engine: self.engine.to_string(), problem });
            }
        }
        let mut max_len = 1;
        let mut ctx = 0;
        for s in &self.defs.detectors {
            let err = |problem: String| Error::Detector {
                file: s.source.clone(),
                detector: s.spec.id.clone(),
                problem,
            };
            let d = compile_detector(&s.spec).map_err(err)?;
            ctx = ctx
                .max(s.spec.hotword_window_before)
                .max(s.spec.hotword_window_after)
                .max(CONTEXT_EXCLUSION_WINDOW);
            for (i, pat) in s.spec.column_patterns.iter().enumerate() {
                let c = compile_pattern(pat, detectors.len(), true)
                    .map_err(|p| err(format!("column pattern {} {pat:?}: {p}", i + 1)))?;
                max_len = max_len.max(c.max_len);
                column_only.push(patterns.len() as u32);
                patterns.push(c.pattern);
            }
            let dictionary =
                (!s.spec.dictionary.is_empty()).then(|| detector::dictionary_pattern(&s.spec.dictionary));
            for (i, pat) in s.spec.patterns.iter().chain(&dictionary).enumerate() {
                let c = compile_pattern(pat, detectors.len(), false).map_err(|p| {
                    if i == s.spec.patterns.len() {
                        err(format!("dictionary: {p}"))
                    } else {
                        err(format!("pattern {} {pat:?}: {p}", i + 1))
                    }
                })?;
                max_len = max_len.max(c.max_len);
                let pid = patterns.len() as u32;
                let folded = fold_ascii_case(&c.hir);
                let prefix = prefix_literals(&folded);
                let hotword_gated = prefix.is_none() && self.hotword_gate && s.spec.require_hotword;
                if self.engine == Engine::Hyperscan && !hotword_gated {
                    hs_pending.push((pid, c.hir, c.max_len));
                    patterns.push(c.pattern);
                    continue;
                }
                match prefix {
                    Some(lits) => {
                        for lit in lits {
                            group_by_literal(&mut anchor_literals, &mut anchor_patterns, lit, pid);
                        }
                    }
                    None if self.hotword_gate && s.spec.require_hotword => {
                        // A reportable match has a hotword within the windows (or in its key,
                        // within KEY_CONTEXT before it), so it lies in these bounds around one.
                        let target = HotTarget {
                            pattern: pid,
                            before_hit: s.spec.hotword_window_after + 2 * c.max_len,
                            after_hit: s.spec.hotword_window_before.max(context::KEY_CONTEXT) + c.max_len,
                            word_start: true,
                        };
                        for word in s.spec.hotwords.iter().flat_map(|h| hotword_spellings(h)) {
                            group_by_literal(&mut hot_literals, &mut hot_targets, word, target);
                        }
                        hot_gated.push(pid);
                    }
                    None if self.literal_gate && required_literals(&folded).is_some() => {
                        // Every match holds one of these literals and is at most max_len
                        // long, so it lies within max_len bytes on either side of a hit.
                        let target = HotTarget {
                            pattern: pid,
                            before_hit: c.max_len,
                            after_hit: c.max_len,
                            word_start: false,
                        };
                        for lit in required_literals(&folded).into_iter().flatten() {
                            group_by_literal(&mut hot_literals, &mut hot_targets, lit, target);
                        }
                        literal_gated.push(pid);
                    }
                    None => match min_digits(&c.hir) {
                        n if self.digit_gate && n >= MIN_GATE_DIGITS => {
                            let run = digit_runs(&c.hir).longest();
                            let key = (n, c.max_len, run);
                            match gated.iter_mut().find(|g| (g.min_digits, g.max_len, g.min_run) == key) {
                                Some(g) => g.patterns.push(pid),
                                None => gated.push(DigitGate {
                                    min_digits: n,
                                    max_len: c.max_len,
                                    min_run: run,
                                    patterns: vec![pid],
                                }),
                            }
                        }
                        _ => unanchored.push(pid),
                    },
                }
                patterns.push(c.pattern);
            }
            detectors.push(d);
        }
        for a in &self.defs.allow {
            let err = |problem: String| Error::DetectorFile { file: a.source.clone(), problem };
            for t in &a.allow.info_types {
                if !seen.contains_key(t.as_str()) {
                    return Err(err(format!("[[allow]] names unknown info type {t:?}")));
                }
            }
            let regexes = a
                .allow
                .patterns
                .iter()
                .map(|p| build_regex(p).map_err(|e| err(format!("[[allow]] pattern {p:?}: {e}"))))
                .collect::<Result<Vec<_>>>()?;
            for (d, s) in detectors.iter_mut().zip(&self.defs.detectors) {
                if a.allow.info_types.is_empty() || a.allow.info_types.contains(&s.spec.id) {
                    d.exclusions.extend(regexes.iter().cloned());
                    d.allowed.extend(a.allow.values.iter().map(|v| test_key(v.as_bytes())));
                }
            }
        }
        #[cfg(feature = "hyperscan")]
        let hs = (!hs_pending.is_empty())
            .then(|| HsPlan::compile(&hs_pending, patterns.len(), &mut unanchored))
            .flatten();
        #[cfg(not(feature = "hyperscan"))]
        unanchored.extend(hs_pending.iter().map(|(pid, _, _)| *pid));
        let anchors = literal_automaton(&anchor_literals, "literal")?;
        let hot_ac = literal_automaton(&hot_literals, "hotword and required-literal")?;
        let key = match self.fingerprint_key {
            Some(k) => k,
            None => finding::random_key(),
        };
        Ok(Scanner {
            specs: self.defs.detectors,
            detectors,
            patterns,
            anchors,
            anchor_patterns,
            unanchored,
            column_only,
            gated,
            hot_ac,
            hot_literal_names: hot_literals,
            hot_targets,
            hot_gated,
            literal_gated,
            #[cfg(feature = "hyperscan")]
            hs,
            max_len,
            ctx,
            chunk_size: self.chunk_size,
            include_quote: self.include_quote,
            min_likelihood: self.min_likelihood,
            fingerprinter: finding::Fingerprinter::new(&key),
            scratch: Mutex::new(Vec::new()),
        })
    }
}

/// A compiled set of detectors. Immutable, `Send + Sync`: build once, share across threads.
///
/// Scanning needs per-thread scratch space (regex caches); the scanner keeps a small pool of
/// it, taken once per scanned stream.
pub struct Scanner {
    specs: Vec<SourcedSpec>,
    detectors: Vec<CompiledDetector>,
    patterns: Vec<CompiledPattern>,
    anchors: Option<AhoCorasick>,
    anchor_patterns: Vec<Vec<u32>>,
    unanchored: Vec<u32>,
    /// Column patterns: searched only in tables with a column named after their hotwords.
    column_only: Vec<u32>,
    gated: Vec<DigitGate>,
    /// Hotwords (in every spelling a key may use) of the detectors that require one, and per
    /// hotword the patterns to search around its hits.
    hot_ac: Option<AhoCorasick>,
    hot_targets: Vec<Vec<HotTarget>>,
    /// The literals of `hot_ac`, by pattern id (for [`Scanner::plan`]).
    hot_literal_names: Vec<Vec<u8>>,
    /// Every hotword-gated pattern.
    hot_gated: Vec<u32>,
    /// Every pattern searched only around hits of its required literals (in `hot_ac` too).
    literal_gated: Vec<u32>,
    /// Engine::Hyperscan: the database that generates candidates for most patterns.
    #[cfg(feature = "hyperscan")]
    hs: Option<HsPlan>,
    max_len: usize,
    ctx: usize,
    chunk_size: usize,
    include_quote: bool,
    min_likelihood: Likelihood,
    fingerprinter: finding::Fingerprinter,
    scratch: Mutex<Vec<Scratch>>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("detectors", &self.detectors.len())
            .field("patterns", &self.patterns.len())
            .field("unanchored", &self.unanchored.len())
            .field("digit_gated", &self.gated.iter().map(|g| g.patterns.len()).sum::<usize>())
            .field("hotword_gated", &self.hot_gated.len())
            .field("literal_gated", &self.literal_gated.len())
            .field("overlap", &self.overlap())
            .finish_non_exhaustive()
    }
}

struct CompiledDetector {
    id: Arc<str>,
    category: Category,
    base: Likelihood,
    validator: Option<Validator>,
    min_entropy: Option<f64>,
    hotwords: Option<AhoCorasick>,
    before: usize,
    after: usize,
    require_hotword: bool,
    /// `column_names` as [`context::name_key`]s.
    column_names: HashSet<Vec<u8>>,
    /// Exclusion regexes, and the patterns of allow-list entries that apply.
    exclusions: Vec<Regex>,
    /// Exclusion regexes on the context before and after the value.
    exclusions_before: Vec<Regex>,
    exclusions_after: Vec<Regex>,
    test_values: HashSet<Vec<u8>>,
    /// Allow-listed values (as [`test_key`]s).
    allowed: HashSet<Vec<u8>>,
}

impl CompiledDetector {
    /// Whether a key name holds a hotword, as written or spelled as words
    /// ([`context::spaced`]).
    fn names_hotword(&self, name: &[u8]) -> bool {
        let spaced = context::spaced(name);
        self.hotwords.as_ref().is_some_and(|ac| {
            word_start_hit(ac, name, 0, name.len()) || word_start_hit(ac, &spaced, 0, spaced.len())
        })
    }

    /// Whether a table column's name identifies this detector's values: one of the
    /// `column_names`, or a name holding a hotword.
    fn names_table_column(&self, name: &[u8]) -> bool {
        self.names_column(name) || self.names_hotword(name)
    }

    /// Whether a column may hold this detector's column-pattern values: one of the
    /// `column_names` when it has some, else a name holding a hotword.
    fn column_pattern_applies(&self, name: &[u8]) -> bool {
        if self.column_names.is_empty() {
            self.names_hotword(name)
        } else {
            self.names_column(name)
        }
    }

    fn names_column(&self, name: &[u8]) -> bool {
        !self.column_names.is_empty() && self.column_names.contains(&context::name_key(name))
    }
}

/// Whether a hotword occurs within `hay[start..end]` where a word starts: a hotword whose first
/// byte is a letter must not follow a letter (`sin` is not in "using", `bic:` not in
/// "TIOCMBIC:"). `hay[0]` counts as a word start: callers pass buffers that begin at a stream's
/// start or hold enough context before `start`.
fn word_start_hit(ac: &AhoCorasick, hay: &[u8], start: usize, end: usize) -> bool {
    let input = aho_corasick::Input::new(hay).span(start..end);
    ac.find_overlapping_iter(input).any(|m| {
        let at = m.start();
        !hay[at].is_ascii_alphabetic() || at == 0 || !hay[at - 1].is_ascii_alphabetic()
    })
}

/// A hotword-gated pattern to search around a hit of one of its detector's hotwords: from
/// `before_hit` bytes before the hit to `after_hit` bytes after it.
#[derive(Clone, Copy)]
struct HotTarget {
    pattern: u32,
    before_hit: usize,
    after_hit: usize,
    /// Only hits that can count as a hotword open a window ([`hotword_can_count`]).
    word_start: bool,
}

/// Whether a hotword hit at `at` can count for a finding: where a word starts in the bytes
/// ([`word_start_hit`]) or in a key spelled as words ([`context::spaced`] splits camelCase, so
/// an upper-case letter after a lower-case one starts a word too).
fn hotword_can_count(hay: &[u8], at: usize) -> bool {
    at == 0
        || !hay[at].is_ascii_alphabetic()
        || !hay[at - 1].is_ascii_alphabetic()
        || (hay[at].is_ascii_uppercase() && hay[at - 1].is_ascii_lowercase())
}

/// Adds `item` to the group of `literal`, starting a new group for a literal not seen yet.
fn group_by_literal<T>(literals: &mut Vec<Vec<u8>>, groups: &mut Vec<Vec<T>>, literal: Vec<u8>, item: T) {
    match literals.iter().position(|l| *l == literal) {
        Some(j) => groups[j].push(item),
        None => {
            literals.push(literal);
            groups.push(vec![item]);
        }
    }
}

/// One ASCII case-insensitive automaton over `literals` (none for no literals); `what` names
/// the prefilter in the error.
fn literal_automaton(literals: &[Vec<u8>], what: &str) -> Result<Option<AhoCorasick>> {
    if literals.is_empty() {
        return Ok(None);
    }
    // A DFA: one table lookup per byte, the fastest automaton for the overlapping searches
    // that walk every buffer; its size stays small for a few hundred short literals.
    let ac = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(literals)
        .map_err(|e| Error::DetectorFile {
            file: "(all detectors)".into(),
            problem: format!("building the {what} prefilter: {e}"),
        })?;
    Ok(Some(ac))
}

/// A hotword as written, and for one with spaces, as a key would spell it: with `_`, `-`,
/// `.` or nothing between its words (`bank account` → `bank_account`, `bankAccount`, …).
fn hotword_spellings(hotword: &str) -> Vec<Vec<u8>> {
    let h = hotword.to_ascii_lowercase();
    let mut out = vec![h.clone().into_bytes()];
    if h.contains(' ') {
        for sep in ["_", "-", ".", ""] {
            out.push(h.replace(' ', sep).into_bytes());
        }
    }
    out
}

/// Unanchored patterns whose every match holds at least `min_digits` ASCII digits within at
/// most `max_len` bytes. They are searched only in windows dense enough in digits to hold
/// such a match, which skips most prose, code and base64.
struct DigitGate {
    min_digits: usize,
    max_len: usize,
    /// Every match also holds this many consecutive digits: only windows around digit runs
    /// at least this long can hold one.
    min_run: usize,
    patterns: Vec<u32>,
}

/// What every match of a regex guarantees about runs of consecutive ASCII digits.
#[derive(Clone, Copy, Debug, PartialEq)]
struct DigitRuns {
    /// Every match is digits only, at least this many.
    all: Option<usize>,
    /// Every match starts with at least this many digits.
    prefix: usize,
    /// Every match ends with at least this many digits.
    suffix: usize,
    /// Every match holds a run of at least this many digits somewhere.
    inner: usize,
}

impl DigitRuns {
    const NONE: DigitRuns = DigitRuns { all: None, prefix: 0, suffix: 0, inner: 0 };

    fn all(n: usize) -> DigitRuns {
        DigitRuns { all: Some(n), prefix: n, suffix: n, inner: n }
    }

    /// The longest run of digits every match holds.
    fn longest(self) -> usize {
        self.all.unwrap_or(self.inner.max(self.prefix).max(self.suffix))
    }

    /// Runs of a match of `self` followed by a match of `next`.
    fn then(self, next: DigitRuns) -> DigitRuns {
        match (self.all, next.all) {
            (Some(a), Some(b)) => DigitRuns::all(a + b),
            (Some(a), None) => DigitRuns {
                all: None,
                prefix: a + next.prefix,
                suffix: next.suffix,
                inner: next.inner.max(a + next.prefix),
            },
            (None, Some(b)) => DigitRuns {
                all: None,
                prefix: self.prefix,
                suffix: self.suffix + b,
                inner: self.inner.max(self.suffix + b),
            },
            (None, None) => DigitRuns {
                all: None,
                prefix: self.prefix,
                suffix: next.suffix,
                inner: self.inner.max(next.inner).max(self.suffix + next.prefix),
            },
        }
    }
}

/// The digit runs every match of `hir` is sure to hold (lower bounds).
fn digit_runs(hir: &regex_syntax::hir::Hir) -> DigitRuns {
    use regex_syntax::hir::{Class, HirKind};
    let digit_class = |ranges: &mut dyn Iterator<Item = (u32, u32)>| {
        let mut any = false;
        for (a, b) in ranges {
            if a < u32::from(b'0') || b > u32::from(b'9') {
                return false;
            }
            any = true;
        }
        any
    };
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => DigitRuns::all(0),
        HirKind::Literal(lit) => lit.0.iter().fold(DigitRuns::all(0), |acc, b| {
            acc.then(if b.is_ascii_digit() { DigitRuns::all(1) } else { DigitRuns::NONE })
        }),
        HirKind::Class(Class::Bytes(c)) => {
            if digit_class(&mut c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end())))) {
                DigitRuns::all(1)
            } else {
                DigitRuns::NONE
            }
        }
        HirKind::Class(Class::Unicode(c)) => {
            if digit_class(&mut c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end())))) {
                DigitRuns::all(1)
            } else {
                DigitRuns::NONE
            }
        }
        HirKind::Repetition(r) => {
            let sub = digit_runs(&r.sub);
            match sub.all {
                Some(n) => DigitRuns::all(n.saturating_mul(r.min as usize)),
                None if r.min == 0 => DigitRuns::NONE,
                None => DigitRuns {
                    all: None,
                    prefix: sub.prefix,
                    suffix: sub.suffix,
                    inner: if r.min >= 2 { sub.inner.max(sub.suffix + sub.prefix) } else { sub.inner },
                },
            }
        }
        HirKind::Capture(c) => digit_runs(&c.sub),
        HirKind::Concat(subs) => subs.iter().map(digit_runs).fold(DigitRuns::all(0), DigitRuns::then),
        HirKind::Alternation(subs) => {
            let alts: Vec<DigitRuns> = subs.iter().map(digit_runs).collect();
            if let Some(n) =
                alts.iter().map(|a| a.all).collect::<Option<Vec<_>>>().and_then(|v| v.into_iter().min())
            {
                return DigitRuns::all(n);
            }
            DigitRuns {
                all: None,
                prefix: alts.iter().map(|a| a.prefix).min().unwrap_or(0),
                suffix: alts.iter().map(|a| a.suffix).min().unwrap_or(0),
                inner: alts.iter().map(|a| a.longest()).min().unwrap_or(0),
            }
        }
    }
}

/// Windows that can hold a match of at most `len` bytes containing `run` consecutive digits
/// of one of `runs` (maximal digit runs, sorted): merged.
fn run_windows(runs: &[(u32, u32)], run: usize, len: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    out.clear();
    for &(a, b) in runs {
        let (a, b) = (a as usize, b as usize);
        if b - a < run {
            continue;
        }
        let (start, stop) = ((a + run).saturating_sub(len), (b + len).saturating_sub(run).min(end));
        match out.last_mut() {
            Some(w) if start <= w.1 => w.1 = w.1.max(stop),
            _ => out.push((start, stop)),
        }
    }
}

/// The intersection of two sorted lists of disjoint windows.
fn intersect(a: &[(usize, usize)], b: &[(usize, usize)], out: &mut Vec<(usize, usize)>) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (start, stop) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if start < stop {
            out.push((start, stop));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
}

/// The least number of ASCII digits any match of `hir` contains.
fn min_digits(hir: &regex_syntax::hir::Hir) -> usize {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 0,
        HirKind::Literal(lit) => lit.0.iter().filter(|b| b.is_ascii_digit()).count(),
        HirKind::Class(Class::Bytes(c)) => {
            usize::from(c.ranges().iter().all(|r| r.start() >= b'0' && r.end() <= b'9'))
        }
        HirKind::Class(Class::Unicode(c)) => {
            usize::from(c.ranges().iter().all(|r| r.start() >= '0' && r.end() <= '9'))
        }
        HirKind::Repetition(r) => (r.min as usize).saturating_mul(min_digits(&r.sub)),
        HirKind::Capture(c) => min_digits(&c.sub),
        HirKind::Concat(subs) => subs.iter().map(min_digits).fold(0, usize::saturating_add),
        HirKind::Alternation(subs) => subs.iter().map(min_digits).min().unwrap_or(0),
    }
}

/// Windows of `buf` that can hold `n` digits within `len` bytes, from the sorted positions of
/// its digits: for every run of `n` consecutive digit positions spanning less than `len`
/// bytes, the bytes a match of at most `len` bytes containing them could cover; merged.
fn dense_windows(digits: &[u32], n: usize, len: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    out.clear();
    if n == 0 || digits.len() < n {
        return;
    }
    for k in n - 1..digits.len() {
        let (first, last) = (digits[k + 1 - n] as usize, digits[k] as usize);
        if last - first < len {
            let (start, stop) = ((last + 1).saturating_sub(len), (first + len).min(end));
            match out.last_mut() {
                Some(w) if start <= w.1 => w.1 = w.1.max(stop),
                _ => out.push((start, stop)),
            }
        }
    }
}

/// Patterns longer than this go into the Hyperscan database as their head only (see
/// [`hs_head`]): long bounded repeats (`[A-Za-z0-9+/]{100,4000}`, multi-line key blocks) cost
/// Hyperscan seconds to compile and gain nothing, since the Rust regex confirms anyway.
#[cfg(feature = "hyperscan")]
const HS_HEAD_CUT_LEN: usize = 256;
/// Longest head kept of a cut pattern.
#[cfg(feature = "hyperscan")]
const HS_HEAD_LEN: usize = 128;

/// The part of `hir` Hyperscan searches for, and the window each reported end gives, as
/// (bytes before the end, bytes after it). A short pattern goes in whole: its match lies in
/// the `max_len` bytes before the end. A long one whose top level is a sequence goes in as its
/// leading items, up to [`HS_HEAD_LEN`] bytes long: every match starts with a match of that
/// head, `min..=max` bytes long, so it lies between `max` bytes before the head's end and
/// `max_len - min` bytes after it.
#[cfg(feature = "hyperscan")]
fn hs_head(hir: &regex_syntax::hir::Hir, max_len: usize) -> (regex_syntax::hir::Hir, usize, usize) {
    use regex_syntax::hir::{Hir, HirKind};
    let whole = (hir.clone(), max_len, 0);
    if max_len <= HS_HEAD_CUT_LEN {
        return whole;
    }
    /// The sequence `hir` is, with groups opened (Hyperscan reports no groups).
    fn sequence(hir: &Hir, out: &mut Vec<Hir>) {
        match hir.kind() {
            HirKind::Capture(c) => sequence(&c.sub, out),
            HirKind::Concat(items) => items.iter().for_each(|i| sequence(i, out)),
            _ => out.push(hir.clone()),
        }
    }
    let mut items = Vec::new();
    sequence(hir, &mut items);
    let (mut head, mut head_max) = (Vec::new(), 0);
    for item in items {
        match item.properties().maximum_len().map(|n| head_max + n) {
            Some(n) if n <= HS_HEAD_LEN || head.is_empty() => {
                head_max = n;
                head.push(item);
            }
            _ => break,
        }
    }
    let head = Hir::concat(head);
    let (min, max) = match (head.properties().minimum_len(), head.properties().maximum_len()) {
        (Some(min), Some(max)) if min > 0 => (min, max),
        _ => return whole,
    };
    (head, max, max_len - min)
}

/// The Hyperscan side of a scanner: one block-mode database over the patterns it generates
/// candidates for (ids are pattern ids).
#[cfg(feature = "hyperscan")]
struct HsPlan {
    db: crate::hs::Database,
    /// Each compiled pattern and how (exactly, or as a prefilter).
    modes: Vec<(u32, crate::hs::Mode)>,
    /// By pattern id: the window around each reported end that holds the match, as (bytes
    /// before, bytes after); (0, 0) for patterns not in the database.
    window: Vec<(usize, usize)>,
    /// Pattern ids that went in as their head only (for [`Scanner::plan`]).
    cut: Vec<u32>,
}

#[cfg(feature = "hyperscan")]
impl HsPlan {
    /// Compiles `pending` (pattern id, syntax tree, longest match); patterns Hyperscan
    /// cannot take at all go to `unanchored`, searched everywhere by the Rust engine.
    fn compile(
        pending: &[(u32, regex_syntax::hir::Hir, usize)],
        n_patterns: usize,
        unanchored: &mut Vec<u32>,
    ) -> Option<HsPlan> {
        let mut window = vec![(0, 0); n_patterns];
        let mut cut = Vec::new();
        let heads: Vec<(u32, regex_syntax::hir::Hir)> = pending
            .iter()
            .map(|(id, hir, len)| {
                let (head, before, after) = hs_head(hir, *len);
                if after > 0 {
                    cut.push(*id);
                }
                window[*id as usize] = (before, after);
                (*id, head)
            })
            .collect();
        let exprs: Vec<crate::hs::Expr<'_>> =
            heads.iter().map(|(id, hir)| crate::hs::Expr { id: *id, hir }).collect();
        // With no database, every pattern is in `left_out`.
        let (db, modes, left_out) = crate::hs::compile(&exprs);
        unanchored.extend(left_out.iter().map(|(id, _)| *id));
        db.map(|db| HsPlan { db, modes, window, cut })
    }
}

struct CompiledPattern {
    detector: usize,
    /// A column pattern: its matches count only in a column named after a hotword.
    column_only: bool,
    regex: Regex,
    value_group: Option<usize>,
}

struct PatternBuild {
    pattern: CompiledPattern,
    hir: regex_syntax::hir::Hir,
    max_len: usize,
}

fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

fn build_regex(pat: &str) -> std::result::Result<Regex, String> {
    Regex::builder()
        .syntax(syntax_config())
        .configure(Regex::config().utf8_empty(false))
        .build(pat)
        .map_err(|e| e.to_string())
}

fn compile_pattern(
    pat: &str,
    detector: usize,
    column_only: bool,
) -> std::result::Result<PatternBuild, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pat)
        .map_err(|e| e.to_string())?;
    let props = hir.properties();
    if props.minimum_len().unwrap_or(0) == 0 {
        return Err("can match the empty string; every match must consume at least one byte".into());
    }
    let max_len = match props.maximum_len() {
        Some(n) if n <= MAX_PATTERN_LEN => n,
        Some(n) => {
            return Err(format!(
                "can match {n} bytes, over the limit of {MAX_PATTERN_LEN}; tighten its {{m,n}} bounds"
            ))
        }
        None => {
            return Err("has no maximum length; replace + and * with bounded repeats such as {1,64}".into())
        }
    };
    let regex = build_regex(pat)?;
    let value_group = regex.group_info().to_index(PatternID::ZERO, "value");
    Ok(PatternBuild { pattern: CompiledPattern { detector, column_only, regex, value_group }, hir, max_len })
}

/// The lowercased prefix literals every match of `hir` starts with, if there are few enough
/// and all are long enough to be a useful prefilter.
fn prefix_literals(hir: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let mut lits: Vec<Vec<u8>> = seq.literals()?.iter().map(|l| l.as_bytes().to_ascii_lowercase()).collect();
    lits.sort();
    lits.dedup();
    // Drop literals that another literal is a prefix of: the shorter one already finds them.
    let mut minimal: Vec<Vec<u8>> = Vec::with_capacity(lits.len());
    for l in lits {
        if !minimal.iter().any(|m| l.starts_with(m)) {
            minimal.push(l);
        }
    }
    let ok = !minimal.is_empty()
        && minimal.len() <= MAX_ANCHORS_PER_PATTERN
        && minimal.iter().all(|l| l.len() >= MIN_ANCHOR_LEN);
    ok.then_some(minimal)
}

/// `hir` with every class that is one ASCII letter in both cases made that letter in lower
/// case: the literal automata ignore ASCII case, and `(?i)` would otherwise multiply a
/// literal into all its spellings.
fn fold_ascii_case(hir: &regex_syntax::hir::Hir) -> regex_syntax::hir::Hir {
    use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};
    let pair = |ranges: &mut dyn Iterator<Item = (u32, u32)>| -> Option<u8> {
        let v: Vec<(u32, u32)> = ranges.collect();
        match v[..] {
            [(a, a2), (b, b2)] if a == a2 && b == b2 && a < 128 && b < 128 => {
                let (a, b) = (a as u8, b as u8);
                (a.is_ascii_uppercase() && b == a.to_ascii_lowercase()).then_some(b)
            }
            _ => None,
        }
    };
    match hir.kind() {
        HirKind::Class(Class::Bytes(c)) => {
            match pair(&mut c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end())))) {
                Some(b) => Hir::literal(vec![b]),
                None => hir.clone(),
            }
        }
        HirKind::Class(Class::Unicode(c)) => {
            match pair(&mut c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end())))) {
                Some(b) => Hir::literal(vec![b]),
                None => hir.clone(),
            }
        }
        HirKind::Repetition(r) => {
            Hir::repetition(Repetition { sub: Box::new(fold_ascii_case(&r.sub)), ..r.clone() })
        }
        HirKind::Capture(c) => Hir::capture(Capture { sub: Box::new(fold_ascii_case(&c.sub)), ..c.clone() }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(fold_ascii_case).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(fold_ascii_case).collect()),
        _ => hir.clone(),
    }
}

/// Highest [`literal_set_cost`] worth gating a pattern on.
const MAX_LITERAL_GATE_COST: u32 = 40;

/// Whether a byte is frequent in text (letters, digits, whitespace, common punctuation).
fn common_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" \t\r\n.,;:\"'-_/=()".contains(&b)
}

/// A rough count of how often a set of literals hits text (lower is rarer): a literal of three
/// or more bytes is rare, one or two bytes are rare only if they hold an uncommon byte.
fn literal_set_cost(lits: &[Vec<u8>]) -> u32 {
    lits.iter()
        .map(|l| match l.len() {
            0 => u32::MAX / 1024,
            1 | 2 if l.iter().all(|&b| common_byte(b)) => 100,
            1 => 4,
            2 => 2,
            _ => 1,
        })
        .fold(0u32, u32::saturating_add)
}

/// Literals one of which every match of `hir` contains (lowercase, none a substring of
/// another), if a set rare enough to gate on exists.
fn required_literals(hir: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    let (cost, mut lits) = cheapest_required(hir)?;
    if cost > MAX_LITERAL_GATE_COST {
        return None;
    }
    lits.sort_by_key(Vec::len);
    let mut minimal: Vec<Vec<u8>> = Vec::with_capacity(lits.len());
    for l in lits {
        if !minimal.iter().any(|m| l.windows(m.len()).any(|w| w == &m[..])) {
            minimal.push(l);
        }
    }
    Some(minimal)
}

/// The cheapest literal set ([`literal_set_cost`]) one of which every match of `hir` contains:
/// the prefixes of `hir` itself, or the set of a part every match has (a member of a
/// concatenation, the body of a repetition of at least one), or the union of every
/// alternative's set.
fn cheapest_required(hir: &regex_syntax::hir::Hir) -> Option<(u32, Vec<Vec<u8>>)> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    use regex_syntax::hir::HirKind;
    let own = Extractor::new().kind(ExtractKind::Prefix).extract(hir).literals().and_then(|l| {
        let mut lits: Vec<Vec<u8>> = l.iter().map(|l| l.as_bytes().to_ascii_lowercase()).collect();
        lits.sort();
        lits.dedup();
        (!lits.is_empty() && lits.iter().all(|l| !l.is_empty())).then(|| (literal_set_cost(&lits), lits))
    });
    let part = match hir.kind() {
        HirKind::Capture(c) => cheapest_required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => cheapest_required(&r.sub),
        HirKind::Concat(subs) => subs.iter().filter_map(cheapest_required).min_by_key(|(c, _)| *c),
        HirKind::Alternation(subs) => {
            subs.iter().map(cheapest_required).try_fold((0u32, Vec::new()), |acc, alt| {
                let (c, l) = alt?;
                let mut lits = acc.1;
                lits.extend(l);
                Some((acc.0.saturating_add(c), lits))
            })
        }
        _ => None,
    };
    match (own, part) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn compile_detector(spec: &DetectorSpec) -> std::result::Result<CompiledDetector, String> {
    let hotwords = if spec.hotwords.is_empty() {
        None
    } else {
        Some(
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&spec.hotwords)
                .map_err(|e| format!("hotwords: {e}"))?,
        )
    };
    // Each list's regexes, named in errors by the list and their 1-based position.
    let regexes = |which: &str, list: &[String]| {
        list.iter()
            .enumerate()
            .map(|(i, x)| build_regex(x).map_err(|e| format!("{which} {} {x:?}: {e}", i + 1)))
            .collect::<std::result::Result<Vec<_>, _>>()
    };
    let exclusions = regexes("exclusion", &spec.exclusions)?;
    let exclusions_before = regexes("exclusions_before", &spec.exclusions_before)?;
    let exclusions_after = regexes("exclusions_after", &spec.exclusions_after)?;
    let test_values = spec.test_values.iter().map(|t| test_key(t.as_bytes())).collect();
    Ok(CompiledDetector {
        id: Arc::from(spec.id.as_str()),
        category: spec.category,
        base: spec.likelihood,
        validator: spec.validator,
        min_entropy: spec.min_entropy,
        hotwords,
        before: spec.hotword_window_before,
        after: spec.hotword_window_after,
        require_hotword: spec.require_hotword,
        column_names: spec.column_names.iter().map(|n| context::name_key(n.as_bytes())).collect(),
        exclusions,
        exclusions_before,
        exclusions_after,
        test_values,
        allowed: HashSet::new(),
    })
}

/// How test values are compared: alphanumeric bytes only, lowercased.
fn test_key(value: &[u8]) -> Vec<u8> {
    value.iter().filter(|b| b.is_ascii_alphanumeric()).map(u8::to_ascii_lowercase).collect()
}

/// Per-stream scratch space: regex caches and reusable vectors. Never shared between threads.
struct Scratch {
    caches: Vec<meta::Cache>,
    captures: Vec<Option<Captures>>,
    hits: Vec<(usize, u32)>,
    candidates: Vec<Candidate>,
    /// Per pattern: buffer offset where its next search starts (leftmost-first resumption).
    next: Vec<usize>,
    /// Per pattern: last anchored start tried this round, to skip repeated literal hits.
    tried: Vec<usize>,
    /// Positions of the ASCII digits of the round's unscanned part (digit gates).
    digits: Vec<u32>,
    /// Digit-dense windows for the current gate.
    windows: Vec<(usize, usize)>,
    /// Maximal runs of consecutive digits of the round's unscanned part, as [start, end).
    runs: Vec<(u32, u32)>,
    /// Windows around long enough digit runs for the current gate.
    run_windows: Vec<(usize, usize)>,
    /// Windows around hotword hits, as (pattern, start, end).
    hot: Vec<(u32, usize, usize)>,
    /// Findings already emitted whose value starts at or after the last round's limit, as
    /// (detector, absolute start, absolute end): a later round may meet them again.
    carried: HashSet<(usize, u64, u64)>,
    /// Engine::Hyperscan: scratch space (None if it could not be allocated: then the
    /// database's patterns are searched everywhere) and the round's (pattern, match end) hits.
    #[cfg(feature = "hyperscan")]
    hs_scratch: Option<crate::hs::Scratch>,
    #[cfg(feature = "hyperscan")]
    hs_hits: Vec<(u32, u32)>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    value_start: usize,
    detector: usize,
    value_end: usize,
    /// Found by a column pattern.
    column_only: bool,
}

/// Per-stream state carried between rounds.
struct Stream {
    lines: LineCounter,
    /// The header of a delimited table, when the stream starts with one.
    table: Option<Table>,
    /// Column patterns to search: those whose detector's hotwords name a column of `table`.
    columns: Vec<u32>,
    /// Hotword-gated patterns searched everywhere, because a column of `table` is named after
    /// their detector.
    ungated: Vec<u32>,
}

/// Tracks 1-based line numbers as the buffer slides, counting each byte's newlines once.
struct LineCounter {
    /// Buffer offset of the cursor.
    pos: usize,
    /// Line number at the cursor.
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, buf: &[u8], at: usize) -> u64 {
        if at >= self.pos {
            self.line += memchr::memchr_iter(b'\n', &buf[self.pos..at]).count() as u64;
        } else {
            self.line -= memchr::memchr_iter(b'\n', &buf[at..self.pos]).count() as u64;
        }
        self.pos = at;
        self.line
    }

    /// The buffer lost its first `n` bytes.
    fn shift(&mut self, buf: &[u8], n: usize) {
        if self.pos < n {
            self.line_at(buf, n);
        }
        self.pos -= n;
    }
}

impl Scanner {
    /// Starts a builder with no detectors.
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// The definitions this scanner was built from, in load order.
    pub fn detectors(&self) -> &[SourcedSpec] {
        &self.specs
    }

    /// Runs every detector's `examples` and `negative_examples` through this scanner and
    /// returns one line per failure: an example that does not yield its detector, or a
    /// negative example that does (at this scanner's minimum likelihood).
    pub fn check_examples(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for s in &self.specs {
            let d = &s.spec;
            for e in &d.examples {
                let found = self.scan_bytes(e.as_bytes());
                if !found.iter().any(|f| *f.info_type == *d.id) {
                    let ids: Vec<&str> = found.iter().map(|f| &*f.info_type).collect();
                    failures
                        .push(format!("{} ({}): example not found: {e:?} (found {ids:?})", d.id, s.source));
                }
            }
            for n in &d.negative_examples {
                if let Some(f) = self.scan_bytes(n.as_bytes()).iter().find(|f| *f.info_type == *d.id) {
                    failures.push(format!(
                        "{} ({}): negative example reported at {}: {n:?}",
                        d.id, s.source, f.likelihood
                    ));
                }
            }
        }
        failures
    }

    /// How each pattern is searched, one line per pattern (`detector#n: how`), for profiling.
    #[doc(hidden)]
    pub fn plan(&self) -> Vec<String> {
        let mut how = vec![String::new(); self.patterns.len()];
        for &p in self.anchor_patterns.iter().flatten() {
            how[p as usize] = "anchored".into();
        }
        for &p in &self.unanchored {
            how[p as usize] = "everywhere".into();
        }
        for &p in &self.column_only {
            how[p as usize] = "column".into();
        }
        for &p in &self.hot_gated {
            how[p as usize] = "hotword windows".into();
        }
        for (lit, targets) in self.hot_literal_names.iter().zip(&self.hot_targets) {
            for t in targets.iter().filter(|t| self.literal_gated.contains(&t.pattern)) {
                let h = &mut how[t.pattern as usize];
                if h.is_empty() {
                    h.push_str("literal windows:");
                }
                h.push_str(&format!(" {:?}", String::from_utf8_lossy(lit)));
            }
        }
        for g in &self.gated {
            for &p in &g.patterns {
                how[p as usize] = format!(
                    "digit windows ({} digits in {} bytes, a run of {})",
                    g.min_digits, g.max_len, g.min_run
                );
            }
        }
        #[cfg(feature = "hyperscan")]
        for &(p, mode) in self.hs.iter().flat_map(|h| &h.modes) {
            let head = if self.hs.iter().any(|h| h.cut.contains(&p)) { ", head only" } else { "" };
            how[p as usize] = match mode {
                crate::hs::Mode::Exact => format!("hyperscan windows{head}"),
                crate::hs::Mode::Prefilter => format!("hyperscan windows (prefilter{head})"),
            };
        }
        let mut n = vec![0usize; self.detectors.len()];
        self.patterns
            .iter()
            .zip(how)
            .map(|(p, how)| {
                n[p.detector] += 1;
                format!("{}#{}: {how}", self.detectors[p.detector].id, n[p.detector])
            })
            .collect()
    }

    /// Bytes kept between streaming rounds: longest match plus hotword context plus one.
    pub fn overlap(&self) -> usize {
        self.max_len + self.ctx + 1
    }

    /// Scans a byte slice: in one round when it fits in a chunk, else through
    /// [`Scanner::scan_reader`] so that scratch memory stays bounded by the chunk size.
    pub fn scan_bytes(&self, data: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        if data.len() > self.chunk_size + self.overlap() {
            // Reading from a slice cannot fail, so there is no error to report.
            let _bytes = self.scan_reader(data, |f| out.push(f));
            return out;
        }
        let mut scratch = self.take_scratch();
        let mut stream = self.stream(Table::detect(data, true));
        self.round(&mut scratch, data, 0, 0, data.len(), &mut stream, &mut |f| out.push(f));
        self.put_scratch(scratch);
        out
    }

    /// Scans a stream in chunks with bounded memory, calling `sink` for each finding.
    /// Returns the number of bytes read. On a read error, every byte read before it has been
    /// scanned and its findings delivered, then the error is returned.
    pub fn scan_reader<R: Read>(&self, mut reader: R, mut sink: impl FnMut(Finding)) -> io::Result<u64> {
        let overlap = self.overlap();
        let keep = self.ctx.max(context::LINE_CONTEXT) + 1;
        let mut buf: Vec<u8> = Vec::with_capacity(keep + overlap + self.chunk_size);
        // A read error ends the stream like its end would: what was read before it is still
        // scanned, then the error is returned.
        let mut failed: Option<io::Error> = None;
        // The first read takes enough to judge whether the stream starts with a table header.
        let first = (overlap + self.chunk_size).max(context::HEADER_PROBE);
        let mut eof = fill(&mut reader, &mut buf, first).unwrap_or_else(|e| {
            failed = Some(e);
            true
        });
        let mut stream = self.stream(Table::detect(&buf, eof));
        let mut scratch = self.take_scratch();
        let mut buf_start: u64 = 0;
        let mut from = 0;
        let result = loop {
            // `from` bytes of context precede the unscanned part; each round scans `chunk_size`
            // new bytes and keeps `overlap` beyond them.
            let target = from + overlap + self.chunk_size;
            if !eof {
                eof = fill(&mut reader, &mut buf, target).unwrap_or_else(|e| {
                    failed = Some(e);
                    true
                });
            }
            let last = eof && buf.len() <= target;
            let limit = if last { buf.len() } else { from + self.chunk_size };
            self.round(&mut scratch, &buf, buf_start, from, limit, &mut stream, &mut sink);
            if last {
                break match failed.take() {
                    Some(e) => Err(e),
                    None => Ok(buf_start + buf.len() as u64),
                };
            }
            let keep_from = limit.saturating_sub(keep);
            stream.lines.shift(&buf, keep_from);
            buf.drain(..keep_from);
            buf_start += keep_from as u64;
            for n in scratch.next.iter_mut() {
                *n -= keep_from;
            }
            from = limit - keep_from;
        };
        self.put_scratch(scratch);
        result
    }

    /// Scans a file by streaming it.
    pub fn scan_file(&self, path: &Path) -> Result<Vec<Finding>> {
        let io = |source| Error::Io { path: path.to_path_buf(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut out = Vec::new();
        self.scan_reader(file, |f| out.push(f)).map_err(io)?;
        Ok(out)
    }

    /// State for a new stream, given its table header if it has one.
    fn stream(&self, table: Option<Table>) -> Stream {
        let select = |patterns: &[u32], named: fn(&CompiledDetector, &[u8]) -> bool| -> Vec<u32> {
            let Some(t) = &table else { return Vec::new() };
            patterns
                .iter()
                .copied()
                .filter(|&p| {
                    let d = &self.detectors[self.patterns[p as usize].detector];
                    t.columns().iter().any(|name| named(d, name.as_bytes()))
                })
                .collect()
        };
        let columns = select(&self.column_only, CompiledDetector::column_pattern_applies);
        let ungated = select(&self.hot_gated, CompiledDetector::names_table_column);
        Stream { lines: LineCounter { pos: 0, line: 1 }, table, columns, ungated }
    }

    fn take_scratch(&self) -> Scratch {
        let pooled = self.scratch.lock().ok().and_then(|mut pool| pool.pop());
        let mut s = pooled.unwrap_or_else(|| Scratch {
            caches: self.patterns.iter().map(|p| p.regex.create_cache()).collect(),
            captures: self
                .patterns
                .iter()
                .map(|p| p.value_group.map(|_| p.regex.create_captures()))
                .collect(),
            hits: Vec::new(),
            candidates: Vec::new(),
            next: vec![0; self.patterns.len()],
            tried: vec![usize::MAX; self.patterns.len()],
            digits: Vec::new(),
            windows: Vec::new(),
            runs: Vec::new(),
            run_windows: Vec::new(),
            hot: Vec::new(),
            carried: HashSet::new(),
            #[cfg(feature = "hyperscan")]
            hs_scratch: self.hs.as_ref().and_then(|h| h.db.alloc_scratch().ok()),
            #[cfg(feature = "hyperscan")]
            hs_hits: Vec::new(),
        });
        s.next.iter_mut().for_each(|n| *n = 0);
        s.carried.clear();
        s
    }

    fn put_scratch(&self, s: Scratch) {
        if let Ok(mut pool) = self.scratch.lock() {
            pool.push(s);
        }
    }

    /// One round: finds every match starting in `[from, limit)` of `buf` (whose first byte
    /// is at stream offset `base`) and emits the resulting findings.
    #[allow(clippy::too_many_arguments)]
    fn round(
        &self,
        s: &mut Scratch,
        buf: &[u8],
        base: u64,
        from: usize,
        limit: usize,
        stream: &mut Stream,
        sink: &mut dyn FnMut(Finding),
    ) {
        s.candidates.clear();
        if let Some(ac) = &self.anchors {
            s.hits.clear();
            let input = aho_corasick::Input::new(buf).span(from..buf.len());
            for m in ac.find_overlapping_iter(input) {
                if m.start() < limit {
                    s.hits.push((m.start(), m.pattern().as_u32()));
                }
            }
            s.hits.sort_unstable();
            s.tried.iter_mut().for_each(|t| *t = usize::MAX);
            for hi in 0..s.hits.len() {
                let (start, lit) = s.hits[hi];
                for &p in &self.anchor_patterns[lit as usize] {
                    let p = p as usize;
                    if start < s.next[p] || s.tried[p] == start {
                        continue;
                    }
                    s.tried[p] = start;
                    let input = Input::new(buf).span(start..buf.len()).anchored(Anchored::Yes);
                    if let Some((m, cand)) = self.confirm(s, p, &input) {
                        s.next[p] = m.end;
                        s.candidates.push(cand);
                    }
                }
            }
        }
        #[cfg(feature = "hyperscan")]
        if let Some(hs) = &self.hs {
            self.hs_round(hs, s, buf, from, limit);
        }
        for &p in self.unanchored.iter().chain(&stream.columns).chain(&stream.ungated) {
            let p = p as usize;
            s.next[p] = self.search(s, buf, p, s.next[p], buf.len(), limit);
        }
        if let Some(ac) = &self.hot_ac {
            s.hot.clear();
            for m in ac.find_overlapping_iter(aho_corasick::Input::new(buf)) {
                let counts = hotword_can_count(buf, m.start());
                for t in &self.hot_targets[m.pattern().as_usize()] {
                    if t.word_start && !counts {
                        continue;
                    }
                    let lo = m.start().saturating_sub(t.before_hit);
                    let hi = (m.end() + t.after_hit).min(buf.len());
                    if hi > from && lo < limit && !stream.ungated.contains(&t.pattern) {
                        s.hot.push((t.pattern, lo, hi));
                    }
                }
            }
            s.hot.sort_unstable();
            let mut i = 0;
            while i < s.hot.len() {
                let (p, lo, mut hi) = s.hot[i];
                i += 1;
                while i < s.hot.len() && s.hot[i].0 == p && s.hot[i].1 <= hi {
                    hi = hi.max(s.hot[i].2);
                    i += 1;
                }
                let p = p as usize;
                let at = self.search(s, buf, p, s.next[p].max(lo), hi, limit);
                s.next[p] = s.next[p].max(at);
            }
        }
        if !self.gated.is_empty() {
            s.digits.clear();
            // Buffers are at most MAX_CHUNK_SIZE plus the overlap, so offsets fit in u32.
            s.digits.extend(
                buf[from..]
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.is_ascii_digit())
                    .map(|(i, _)| (from + i) as u32),
            );
            s.runs.clear();
            for &d in &s.digits {
                match s.runs.last_mut() {
                    Some(r) if r.1 == d => r.1 = d + 1,
                    _ => s.runs.push((d, d + 1)),
                }
            }
            for g in &self.gated {
                dense_windows(&s.digits, g.min_digits, g.max_len, buf.len(), &mut s.windows);
                if g.min_run > 1 {
                    // Both are necessary: a match lies in one window of each, so in one window
                    // of their intersection.
                    run_windows(&s.runs, g.min_run, g.max_len, buf.len(), &mut s.run_windows);
                    let dense = std::mem::take(&mut s.windows);
                    intersect(&dense, &s.run_windows, &mut s.windows);
                    s.run_windows = dense;
                }
                for &p in &g.patterns {
                    self.search_windows(s, buf, p as usize, from, limit);
                }
            }
        }
        for n in s.next.iter_mut() {
            *n = (*n).max(limit);
        }
        s.candidates.sort_unstable();
        s.candidates.dedup();
        let limit_abs = base + limit as u64;
        for i in 0..s.candidates.len() {
            let c = s.candidates[i];
            let key = (c.detector, base + c.value_start as u64, base + c.value_end as u64);
            if !s.carried.insert(key) {
                continue;
            }
            if let Some(f) = self.evaluate(buf, base, c, stream) {
                sink(f);
            }
        }
        s.carried.retain(|&(_, start, _)| start >= limit_abs);
    }

    /// Engine::Hyperscan: one Hyperscan pass over the round reports where matches of each
    /// database pattern (or of its head) end; each pattern is then searched in the windows
    /// around those ends that [`hs_head`] gives (every match it can have lies in one of them).
    #[cfg(feature = "hyperscan")]
    fn hs_round(&self, hs: &HsPlan, s: &mut Scratch, buf: &[u8], from: usize, limit: usize) {
        // One byte before `from`, so that `\b` at `from` sees its left neighbour.
        let lo = from.saturating_sub(1);
        s.hs_hits.clear();
        let scanned = match s.hs_scratch.as_mut() {
            Some(scratch) => hs.db.scan(&buf[lo..], scratch, &mut s.hs_hits).is_ok(),
            None => false,
        };
        if !scanned {
            // Same findings, found the slow way.
            for &(p, _) in &hs.modes {
                let p = p as usize;
                s.next[p] = self.search(s, buf, p, s.next[p], buf.len(), limit);
            }
            return;
        }
        s.hs_hits.sort_unstable();
        let mut i = 0;
        while i < s.hs_hits.len() {
            let p = s.hs_hits[i].0 as usize;
            s.windows.clear();
            while i < s.hs_hits.len() && s.hs_hits[i].0 as usize == p {
                let end = lo + s.hs_hits[i].1 as usize;
                i += 1;
                let (before, after) = hs.window[p];
                let start = end.saturating_sub(before).max(from);
                let end = (end + after).min(buf.len());
                if start >= limit {
                    continue;
                }
                match s.windows.last_mut() {
                    Some(w) if w.1 >= start => w.1 = w.1.max(end),
                    _ => s.windows.push((start, end)),
                }
            }
            self.search_windows(s, buf, p, from, limit);
        }
    }

    /// Searches pattern `p` in `s.windows`, which hold every match it can have in the round
    /// (so searching each window alone yields the same leftmost-first matches as the whole
    /// buffer). Many small windows cost more in calls than one pass costs in bytes; then the
    /// round's whole range is searched instead, with the same result.
    fn search_windows(&self, s: &mut Scratch, buf: &[u8], p: usize, from: usize, limit: usize) {
        let covered: usize = s.windows.iter().map(|(a, b)| b - a).sum();
        if s.windows.len() * WINDOW_CALL_COST + covered >= buf.len() - from {
            s.next[p] = self.search(s, buf, p, s.next[p], buf.len(), limit);
            return;
        }
        for w in 0..s.windows.len() {
            let (start, stop) = s.windows[w];
            if start >= limit {
                break;
            }
            let at = self.search(s, buf, p, s.next[p].max(start), stop, limit);
            s.next[p] = s.next[p].max(at);
        }
    }

    /// Collects pattern `p`'s leftmost-first, non-overlapping matches that start in
    /// `[at, limit)` and end by `end`; returns where its next search starts.
    fn search(
        &self,
        s: &mut Scratch,
        buf: &[u8],
        p: usize,
        mut at: usize,
        end: usize,
        limit: usize,
    ) -> usize {
        while at < limit && at < end {
            match self.confirm(s, p, &Input::new(buf).span(at..end)) {
                Some((m, cand)) if m.start < limit => {
                    at = m.end;
                    s.candidates.push(cand);
                }
                _ => break,
            }
        }
        at
    }

    /// Runs pattern `p` on `input`; on a match returns its span and the value candidate.
    fn confirm(&self, s: &mut Scratch, p: usize, input: &Input<'_>) -> Option<(Span, Candidate)> {
        let pat = &self.patterns[p];
        let cache = &mut s.caches[p];
        let (m, value) = match (pat.value_group, &mut s.captures[p]) {
            (Some(g), Some(caps)) => {
                pat.regex.search_captures_with(cache, input, caps);
                let m = caps.get_match()?.span();
                (m, caps.get_group(g).map_or(m, |v| v))
            }
            _ => {
                let m = pat.regex.search_with(cache, input)?.span();
                (m, m)
            }
        };
        let (value_start, value_end) = (value.start, value.end);
        Some((m, Candidate { value_start, detector: pat.detector, value_end, column_only: pat.column_only }))
    }

    fn evaluate(&self, buf: &[u8], base: u64, c: Candidate, stream: &mut Stream) -> Option<Finding> {
        let d = &self.detectors[c.detector];
        let value = &buf[c.value_start..c.value_end];
        if value.is_empty() {
            return None;
        }
        let (validated, subtype) = match d.validator.map(|v| v.outcome(value)) {
            Some(Outcome::Invalid) => return None,
            Some(Outcome::Valid(subtype)) => (true, subtype),
            Some(Outcome::Unchecked) | None => (false, None),
        };
        if let Some(min) = d.min_entropy {
            if validate::shannon_entropy(value) < min {
                return None;
            }
        }
        if d.exclusions.iter().any(|x| x.is_match(value))
            || (!d.allowed.is_empty() && d.allowed.contains(&test_key(value)))
        {
            return None;
        }
        if !d.exclusions_before.is_empty() {
            let before = &buf[c.value_start.saturating_sub(CONTEXT_EXCLUSION_WINDOW)..c.value_start];
            let before = memchr::memrchr(b'\n', before).map_or(before, |i| &before[i + 1..]);
            if d.exclusions_before.iter().any(|x| x.is_match(before)) {
                return None;
            }
        }
        if !d.exclusions_after.is_empty() {
            let after = &buf[c.value_end..(c.value_end + CONTEXT_EXCLUSION_WINDOW).min(buf.len())];
            let after = memchr::memchr(b'\n', after).map_or(after, |i| &after[..i]);
            if d.exclusions_after.iter().any(|x| x.is_match(after)) {
                return None;
            }
        }
        // Structured context: the table column or the key the value is under.
        let line = stream.lines.line_at(buf, c.value_start);
        let in_table = stream.table.as_ref().filter(|_| line > 1);
        let table_column = in_table.and_then(|t| {
            let start = context::line_start(buf, c.value_start, base == 0)?;
            t.column(&buf[start..c.value_start]).map(str::as_bytes)
        });
        let column = table_column.or_else(|| {
            context::key_before(&buf[c.value_start.saturating_sub(context::KEY_CONTEXT)..c.value_start])
        });
        let hotword = if c.column_only {
            table_column.is_some_and(|name| d.column_pattern_applies(name))
        } else {
            d.hotwords.as_ref().is_some_and(|ac| {
                word_start_hit(ac, buf, c.value_start.saturating_sub(d.before), c.value_start)
                    || word_start_hit(ac, buf, c.value_end, (c.value_end + d.after).min(buf.len()))
            }) || match table_column {
                Some(name) => d.names_table_column(name),
                None => column.is_some_and(|key| d.names_hotword(key)),
            }
        };
        if c.column_only && !hotword {
            return None;
        }
        if d.require_hotword && !hotword {
            return None;
        }
        let test_value = !d.test_values.is_empty() && d.test_values.contains(&test_key(value));
        let likelihood = likelihood::assess(d.base, validated, hotword, test_value);
        if likelihood < self.min_likelihood {
            return None;
        }
        Some(Finding {
            info_type: d.id.clone(),
            category: d.category,
            likelihood,
            byte_start: base + c.value_start as u64,
            byte_end: base + c.value_end as u64,
            line,
            row: in_table.map(|_| line - 1),
            column: column.map(|name| String::from_utf8_lossy(name).into_owned()),
            redacted: redact(d.category, value),
            fingerprint: self.fingerprinter.fingerprint(&d.id, value),
            test_value,
            subtype,
            quote: self.include_quote.then(|| String::from_utf8_lossy(value).into_owned()),
        })
    }
}

/// Reads until `buf` holds `target` bytes or the stream ends; returns true at end of stream.
/// On a read error, the bytes read before it stay in `buf`. `read_to_end` reads into the
/// vector's spare capacity, zeroing no more than it reads: a small object does not pay for
/// clearing a whole chunk.
fn fill<R: Read>(reader: &mut R, buf: &mut Vec<u8>, target: usize) -> io::Result<bool> {
    let Some(want) = target.checked_sub(buf.len()).filter(|w| *w > 0) else {
        return Ok(false);
    };
    let got = reader.by_ref().take(want as u64).read_to_end(buf)?;
    Ok(got < want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hir(p: &str) -> regex_syntax::hir::Hir {
        regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(p).unwrap()
    }

    #[cfg(feature = "hyperscan")]
    #[test]
    fn hyperscan_heads_window_every_match() {
        let short = hir(r"\bghp_[A-Za-z0-9]{36}\b");
        let (head, before, after) = hs_head(&short, 40);
        assert_eq!((head, before, after), (short, 40, 0));
        // A long pattern goes in as its head; the window from a head's end covers the match.
        let long = hir(r"\b(?:key_(?P<value>[a-z]{2,4})=[A-Za-z0-9+/]{100,2000})");
        let max_len = long.properties().maximum_len().unwrap();
        let (head, before, after) = hs_head(&long, max_len);
        assert_eq!(crate::hs::to_pcre(&head), r"\bkey\x5f(?:[a-z]){2,4}\x3d");
        assert_eq!((before, after), (9, max_len - 7));
    }

    #[test]
    fn min_digits_is_a_lower_bound() {
        let cases: &[(&str, usize)] = &[
            (r"\d{3}-\d{2}-\d{4}", 9),
            (r"\b(?:\d[ -]?){12,18}\d\b", 13),
            (r"[0-9a-f]{32}", 0),
            (r"(?:ab|\d\d)\d", 1),
            (r"4\d{3}|x", 0),
            (r"(?P<value>\d{2,5})", 2),
            (r"[1-9]\d{0,2}\.\d", 2),
        ];
        for &(p, want) in cases {
            assert_eq!(min_digits(&hir(p)), want, "{p}");
        }
    }

    #[test]
    fn digit_runs_are_lower_bounds() {
        let cases: &[(&str, usize)] = &[
            (r"\b\d{9}\b", 9),
            (r"\d{3}-\d{2}-\d{4}", 4),
            (r"\d{3}-?\d{2}-?\d{4}", 4),
            (r"(?:\d[ -]?){12,18}\d", 1),
            (r"\d{6}[-+A]\d{3}[0-9A-Y]", 6),
            (r"[A-Z]{2}\d{7}|\d{8}", 7),
            (r"12\d{2}x", 4),
            (r"\d{2}(?:\d{2})?", 2),
            (r"(?:ab|\d\d)\d", 1),
            (r"\d*x", 0),
        ];
        for &(p, want) in cases {
            assert_eq!(digit_runs(&hir(p)).longest(), want, "{p}");
        }
    }

    #[test]
    fn run_windows_and_intersections() {
        // Runs [10, 14) (4 digits) and [50, 52): a run of 3 only in the first.
        let mut out = Vec::new();
        run_windows(&[(10, 14), (50, 52)], 3, 6, 100, &mut out);
        // A match of <= 6 bytes with 3 digits of [10, 14): from 10 + 3 - 6 to 14 - 3 + 6.
        assert_eq!(out, vec![(7, 17)]);
        let mut both = Vec::new();
        intersect(&[(0, 8), (12, 30)], &[(5, 14), (20, 25), (29, 40)], &mut both);
        assert_eq!(both, vec![(5, 8), (12, 14), (20, 25), (29, 30)]);
    }

    #[test]
    fn required_literals_are_in_every_match() {
        let lits = |p: &str| required_literals(&fold_ascii_case(&hir(p)));
        let s = |v: &[&str]| Some(v.iter().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>());
        assert_eq!(lits(r"(?:^|[^a-z])(?P<value>[a-z0-9.]{1,64}@[a-z0-9.]{1,64})"), s(&["@"]));
        assert_eq!(lits(r"[A-Za-z0-9]{3}[0-9]Q~[A-Za-z0-9]{31}"), s(&["q~"]));
        assert_eq!(lits(r"(?i:EAAA)[0-9A-Z]{20}|sq0atp-[0-9A-Z]{22}"), s(&["eaaa", "sq0atp-"]));
        // A common byte alone is no gate; a part every match may skip is none either.
        assert_eq!(lits(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"), None);
        assert_eq!(lits(r"[a-z]{4}(?:@x)?"), None);
    }

    #[test]
    fn dense_windows_cover_every_possible_match() {
        // Digits at 10..14 and 100; 3 digits within 5 bytes only happen around 10..14.
        let digits = [10, 11, 12, 13, 14, 100];
        let mut out = Vec::new();
        dense_windows(&digits, 3, 5, 1000, &mut out);
        // First triple (10,11,12): [12+1-5, 10+5) = [8, 15); last (12,13,14): [10, 17).
        assert_eq!(out, vec![(8, 17)]);
        dense_windows(&digits, 7, 5, 1000, &mut out);
        assert!(out.is_empty());
        dense_windows(&digits, 1, 4, 102, &mut out);
        assert_eq!(out, vec![(7, 18), (97, 102)]);
    }
}
