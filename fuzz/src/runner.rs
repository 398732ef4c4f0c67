//! The fuzz loop: replay the corpus, then mutate corpus entries until the
//! time or input budget is spent, running each input under `catch_unwind`.
//!
//! There is no coverage instrumentation (stable Rust, no cargo-fuzz).
//! Instead a mutated input joins the in-memory corpus when it produces an
//! outcome not seen before (an error message with its quoted parts and
//! digits removed, or the target's description of what it accepted), which
//! is a rough stand-in for "reached new code".

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
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

/// A hash of an outcome with the input-specific parts left out (quoted
/// text, digits, words that occur in the input, as in upstream's
/// `more than one default network is specified: a,b`, and words that are
/// not prose), so that "the same error about other bytes" counts once.
fn outcome_key(outcome: &str, input: &[u8]) -> u64 {
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
    let input = String::from_utf8_lossy(input);
    let mut h = fnv1a(b"");
    for word in kept.split_whitespace().take(40) {
        let bare =
            word.trim_matches(|c: char| matches!(c, ':' | ',' | '(' | ')' | '[' | ']' | '.'));
        let letters: Vec<u8> = bare.bytes().filter(|b| !b.is_ascii_digit()).collect();
        // Prose words only: anything else is input echoed back unquoted.
        let prose = letters.iter().any(u8::is_ascii_alphabetic)
            && letters.iter().all(|b| {
                b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'[' | b']')
            });
        if !prose || input.contains(bare) {
            continue;
        }
        h = (h ^ fnv1a(&letters)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
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
        elapsed: Duration::ZERO,
        slowest: (Duration::ZERO, 0),
        crash: None,
    };
    let mut seen = HashSet::new();
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
        result.map(|outcome| seen.insert(outcome_key(&outcome, input)))
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
        mutate::mutate(&mut rng, &mut input, &pool[other], &tokens, opts.max_len);
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
    report.outcomes = seen.len();
    report.elapsed = start.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_key_ignores_quoted_text_and_digits() {
        assert_eq!(
            outcome_key(r#"err:invalid pair "a=b=c" at line 1 column 7"#, b""),
            outcome_key(r#"err:invalid pair "x" at line 3 column 12"#, b"")
        );
        assert_eq!(
            outcome_key(r#"err:invalid type: string "a`b'c", expected a map"#, b""),
            outcome_key(r#"err:invalid type: string "", expected a map"#, b"")
        );
        assert_eq!(
            outcome_key("err:mismatch @ 'a\"b' (item 1)", b""),
            outcome_key("err:mismatch @ 'x' (item 2)", b"")
        );
        assert_eq!(
            outcome_key(
                "err:more than one default network is specified: a,b",
                b"a,b"
            ),
            outcome_key(
                "err:more than one default network is specified: c,d",
                b"c,d"
            )
        );
        assert_ne!(
            outcome_key("err:invalid pair", b""),
            outcome_key("err:unknown key", b"")
        );
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
            run: boom,
        };
        assert_eq!(run_one(&target, b"fine"), Ok("ok".to_owned()));
        let message = run_one(&target, b"boom").unwrap_err();
        assert!(message.contains("found the bomb"), "{message}");
        assert!(message.contains("runner.rs"), "{message}");
    }
}
