//! The fuzz loop: replay the corpus, then mutate corpus entries until the
//! time or input budget is spent, running each input under `catch_unwind`.
//!
//! There is no coverage instrumentation (stable Rust, no cargo-fuzz).
//! Instead a mutated input joins the in-memory corpus when it produces an
//! outcome not seen before (the error's variant and message with the
//! input-specific parts removed, or the target's description of what it
//! accepted; see `Outcomes`), which is a rough stand-in for "reached new
//! code".

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::Error;
use crate::corpus::{self, Seed};
use crate::dict::COMMON_TOKENS;
use crate::mutate;
use crate::rng::{Rng, fnv1a};
use crate::targets::Target;

/// Largest in-memory corpus (seeds plus discovered inputs).
const POOL_CAP: usize = 4096;
/// Words of an outcome that make its kind (see [`Outcomes`]).
const KIND_WORDS: usize = 4;
/// Words of an outcome that make its detail.
const DETAIL_WORDS: usize = 16;
/// Details kept per kind.
const DETAILS_PER_KIND: usize = 64;
/// Stack of the worker thread: deep but bounded recursion in a parser must
/// not look like a crash of the fuzzer.
const WORKER_STACK: usize = 64 << 20;

/// How to run a target.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed of the mutation sequence (mixed with the target name).
    pub seed: u64,
    /// Stop mutating after this long.
    pub duration: Option<Duration>,
    /// Stop after this many mutated inputs (the corpus replay not counted).
    pub max_inputs: Option<u64>,
    /// Where `<target>/` seed directories are.
    pub corpus_dir: PathBuf,
    /// Where `<target>/crash-<hash>` files are written.
    pub artifacts_dir: PathBuf,
    /// Longest mutated input, in bytes.
    pub max_len: usize,
}

impl Options {
    /// The in-tree corpus and artifacts directories, 16 KiB inputs, and no
    /// budget (set `duration` or `max_inputs`).
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            duration: None,
            max_inputs: None,
            corpus_dir: corpus::default_corpus_dir(),
            artifacts_dir: corpus::default_artifacts_dir(),
            max_len: 16 * 1024,
        }
    }
}

/// A panic (or broken invariant) and the input that caused it.
#[derive(Debug, Clone)]
pub struct Crash {
    /// The input.
    pub input: Vec<u8>,
    /// The panic message with its location.
    pub message: String,
    /// The corpus file, when the input came from the corpus unchanged.
    pub seed_file: Option<String>,
    /// Where the input was written, or why it could not be.
    pub artifact: Result<PathBuf, String>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target.
    pub target: &'static str,
    /// Corpus files replayed.
    pub seeds: usize,
    /// Corpus files skipped as known crashes.
    pub skipped: usize,
    /// Mutated inputs that reached a new outcome and joined the corpus.
    pub discovered: usize,
    /// Distinct outcomes seen.
    pub outcomes: usize,
    /// Inputs run, corpus replay included.
    pub inputs: u64,
    /// Inputs the parser accepted (outcome `ok...`).
    pub accepted: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The slowest input's time and length.
    pub slowest: (Duration, usize),
    /// The finding that stopped the run, if any.
    pub crash: Option<Crash>,
}

impl Report {
    /// Inputs per second over the whole run.
    pub fn rate(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

thread_local! {
    /// Set while a target runs on this thread: the panic hook then records
    /// the message instead of printing it.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that captures panics of target
/// calls and leaves every other panic to the previous hook.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(Cell::get) {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs one input through `target`: the outcome, or the panic message.
pub fn run_one(target: &Target, input: &[u8]) -> Result<String, String> {
    install_hook();
    CAPTURING.with(|c| c.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    CAPTURING.with(|c| c.set(false));
    result.map_err(|payload| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-string payload".to_owned())
    })
}

/// The prose words of an outcome, without its input-specific parts:
/// quoted text, digits and words that are not prose (input echoed back
/// unquoted, as in upstream's `more than one default network is
/// specified: a,b`).
fn outcome_words(outcome: &str) -> Vec<Vec<u8>> {
    let mut kept = String::with_capacity(128);
    // The quote character that opened the quoted part we are in, if any.
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in outcome.chars() {
        if kept.len() >= 1000 {
            break;
        }
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '"' | '`' | '\'') => quote = Some(c),
            None => kept.push(c),
        }
    }
    kept.split_whitespace()
        .filter_map(|word| {
            let bare =
                word.trim_matches(|c: char| matches!(c, ':' | ',' | '(' | ')' | '[' | ']' | '.'));
            let letters: Vec<u8> = bare.bytes().filter(|b| !b.is_ascii_digit()).collect();
            let prose = letters.iter().any(u8::is_ascii_alphabetic)
                && letters.iter().all(|b| {
                    b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'[' | b']')
                });
            prose.then_some(letters)
        })
        .collect()
}

/// The outcomes seen so far, as keys: an outcome's kind (its first
/// [`KIND_WORDS`] prose words) and its detail (the first [`DETAIL_WORDS`]).
/// A kind keeps at most [`DETAILS_PER_KIND`] details: the fixed part of a
/// message comes first, and whatever input it echoes later must not make
/// every input look new.
#[derive(Debug, Default)]
struct Outcomes {
    kinds: HashMap<u64, HashSet<u64>>,
    total: usize,
}

impl Outcomes {
    /// Records `outcome`; true when it counts as new.
    fn insert(&mut self, outcome: &str) -> bool {
        let (mut kind, mut detail) = (fnv1a(b""), fnv1a(b""));
        for (i, word) in outcome_words(outcome).iter().take(DETAIL_WORDS).enumerate() {
            let h = fnv1a(word);
            if i < KIND_WORDS {
                kind = (kind ^ h).wrapping_mul(0x0000_0100_0000_01b3);
            }
            detail = (detail ^ h).wrapping_mul(0x0000_0100_0000_01b3);
        }
        let details = self.kinds.entry(kind).or_default();
        if details.len() >= DETAILS_PER_KIND || !details.insert(detail) {
            return false;
        }
        self.total += 1;
        true
    }
}

/// Writes a crashing input to `artifacts/<target>/crash-<hash>`.
fn save_artifact(opts: &Options, target: &str, input: &[u8]) -> Result<PathBuf, String> {
    let dir = opts.artifacts_dir.join(target);
    let path = dir.join(format!("crash-{:016x}", fnv1a(input)));
    fs::create_dir_all(&dir)
        .and_then(|()| fs::write(&path, input))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Fuzzes `target` with `opts` on a worker thread with a large stack.
pub fn run(target: &'static Target, opts: &Options) -> Result<Report, Error> {
    let seeds = corpus::load(&opts.corpus_dir, target.name)?;
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name(format!("fuzz-{}", target.name))
            .stack_size(WORKER_STACK)
            .spawn_scoped(s, || fuzz(target, opts, seeds))
            .map_err(Error::Thread)?;
        worker.join().map_err(|_| Error::Worker)
    })
}

fn fuzz(target: &'static Target, opts: &Options, seeds: Vec<Seed>) -> Report {
    let start = Instant::now();
    let mut report = Report {
        target: target.name,
        seeds: 0,
        skipped: 0,
        discovered: 0,
        outcomes: 0,
        inputs: 0,
        accepted: 0,
        elapsed: Duration::ZERO,
        slowest: (Duration::ZERO, 0),
        crash: None,
    };
    let mut seen = Outcomes::default();
    let mut pool: Vec<Vec<u8>> = Vec::with_capacity(seeds.len());
    let tokens: Vec<&[u8]> = COMMON_TOKENS
        .iter()
        .chain(target.tokens)
        .map(|t| t.as_bytes())
        .collect();

    let mut check = |input: &[u8], report: &mut Report| -> Result<bool, String> {
        let t0 = Instant::now();
        let result = run_one(target, input);
        let took = t0.elapsed();
        report.inputs += 1;
        if took > report.slowest.0 {
            report.slowest = (took, input.len());
        }
        result.map(|outcome| {
            report.accepted += u64::from(outcome.starts_with("ok"));
            seen.insert(&outcome)
        })
    };

    for seed in seeds {
        if corpus::is_known_crash(target.name, &seed.name) {
            report.skipped += 1;
            continue;
        }
        report.seeds += 1;
        if let Err(message) = check(&seed.bytes, &mut report) {
            report.crash = Some(Crash {
                artifact: save_artifact(opts, target.name, &seed.bytes),
                input: seed.bytes,
                message,
                seed_file: Some(seed.name),
            });
            break;
        }
        pool.push(seed.bytes);
    }
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let seeds_len = pool.len();

    let mut rng = Rng::new(opts.seed ^ fnv1a(target.name.as_bytes()));
    let mut mutated: u64 = 0;
    while report.crash.is_none() {
        if opts.max_inputs.is_some_and(|max| mutated >= max) {
            break;
        }
        if mutated.is_multiple_of(32) && opts.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        let base = rng.below(pool.len());
        let other = rng.below(pool.len());
        let mut input = pool[base].clone();
        mutate::mutate(
            &mut rng,
            &mut input,
            &pool[other],
            &tokens,
            target.json,
            opts.max_len,
        );
        mutated += 1;
        match check(&input, &mut report) {
            Ok(true) => {
                report.discovered += 1;
                if pool.len() < POOL_CAP {
                    pool.push(input);
                } else if pool.len() > seeds_len {
                    // Full: replace a discovered input, never a seed.
                    let slot = seeds_len + rng.below(pool.len() - seeds_len);
                    pool[slot] = input;
                }
            }
            Ok(_) => {}
            Err(message) => {
                report.crash = Some(Crash {
                    artifact: save_artifact(opts, target.name, &input),
                    input,
                    message,
                    seed_file: None,
                });
            }
        }
    }
    report.outcomes = seen.total;
    report.elapsed = start.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(outcome: &str) -> Vec<String> {
        outcome_words(outcome)
            .into_iter()
            .map(|w| String::from_utf8(w).unwrap())
            .collect()
    }

    #[test]
    fn outcome_words_leave_out_quoted_text_digits_and_echoed_input() {
        assert_eq!(
            words(r#"err: Json: invalid pair "a=b=c" at line 1 column 7"#),
            ["err", "Json", "invalid", "pair", "at", "line", "column"]
        );
        assert_eq!(
            words(r#"err:invalid type: string "a`b'c", expected a map"#),
            words(r#"err:invalid type: string "", expected a map"#)
        );
        assert_eq!(words("mismatch @ 'a\"b' (item 1)"), ["mismatch", "item"]);
        assert_eq!(
            words("more than one default network is specified: a,b"),
            words("more than one default network is specified: c,d")
        );
    }

    #[test]
    fn a_kind_keeps_a_bounded_number_of_details() {
        let mut seen = Outcomes::default();
        assert!(seen.insert("err: Json: failed to parse: x"));
        assert!(!seen.insert("err: Json: failed to parse: x"));
        assert!(seen.insert("err: Json: unknown field"));
        let new = (0..200)
            .filter(|i| {
                let echo: String = (0..8)
                    .map(|b| if i >> b & 1 == 1 { 'a' } else { 'b' })
                    .collect();
                seen.insert(&format!(
                    "err: MoreThanOne: more than one default network: {echo}"
                ))
            })
            .count();
        assert_eq!(new, DETAILS_PER_KIND);
        assert_eq!(seen.total, 2 + DETAILS_PER_KIND);
    }

    fn boom(input: &[u8]) -> String {
        assert!(input != b"boom", "found the bomb");
        String::from("ok")
    }

    #[test]
    fn panics_are_caught_with_their_message() {
        let target = Target {
            name: "boom",
            about: "test",
            tokens: &[],
            json: false,
            run: boom,
        };
        assert_eq!(run_one(&target, b"fine"), Ok("ok".to_owned()));
        let message = run_one(&target, b"boom").unwrap_err();
        assert!(message.contains("found the bomb"), "{message}");
        assert!(message.contains("runner.rs"), "{message}");
    }
}
