//! `multus-fuzz`: fuzz one target or all of them for a given time.
//!
//! ```text
//! cargo run -p multus-fuzz --profile fuzz -- all --seconds 60
//! cargo run -p multus-fuzz --profile fuzz -- networks --seconds 600 --seed 42
//! cargo run -p multus-fuzz --profile fuzz -- networks --replay fuzz/artifacts/networks/crash-…
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use multus_fuzz::Error;
use multus_fuzz::runner::{self, Options, Report};
use multus_fuzz::targets::{self, TARGETS, Target};

/// Mutation fuzzer for the multus-rs parsers (stable Rust).
#[derive(Debug, Parser)]
#[command(name = "multus-fuzz")]
struct Cli {
    /// Target to fuzz, or `all` to fuzz every target in turn.
    target: Option<String>,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
    /// Seconds to fuzz each target (default 10 unless --inputs is given).
    #[arg(long)]
    seconds: Option<f64>,
    /// Stop each target after this many mutated inputs.
    #[arg(long)]
    inputs: Option<u64>,
    /// Seed of the mutation sequence; printed when not given.
    #[arg(long)]
    seed: Option<u64>,
    /// Run this one file through the target and print the outcome.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Corpus directory (holds one directory per target).
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Where crashing inputs are written (one directory per target).
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
    /// Longest mutated input, in bytes.
    #[arg(long, default_value_t = 16 * 1024)]
    max_len: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list {
        for t in TARGETS {
            println!("{:<16} {}", t.name, t.about);
        }
        return ExitCode::SUCCESS;
    }
    if !cfg!(panic = "unwind") {
        eprintln!(
            "multus-fuzz: built with panic = \"abort\", so a panic cannot be caught; \
             build with `--profile fuzz` (or the dev profile)"
        );
        return ExitCode::from(2);
    }
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("multus-fuzz: {e}");
            ExitCode::from(2)
        }
    }
}

/// Ok(true) when nothing was found.
fn run(cli: &Cli) -> Result<bool, Error> {
    let Some(name) = cli.target.as_deref() else {
        return Err(Error::NoTarget);
    };
    let selected: Vec<&'static Target> = if name == "all" {
        TARGETS.iter().collect()
    } else {
        vec![targets::find(name).ok_or_else(|| Error::UnknownTarget {
            name: name.to_owned(),
        })?]
    };
    if let Some(path) = &cli.replay {
        let input = std::fs::read(path).map_err(|source| Error::ReadInput {
            path: path.clone(),
            source,
        })?;
        let mut clean = true;
        for t in selected {
            match runner::run_one(t, &input) {
                Ok(outcome) => println!("{}: {outcome}", t.name),
                Err(message) => {
                    clean = false;
                    println!("{}: PANIC\n{message}", t.name);
                }
            }
        }
        return Ok(clean);
    }

    let seed = cli.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let mut opts = Options::new(seed);
    opts.max_inputs = cli.inputs;
    opts.duration = match (cli.seconds, cli.inputs) {
        (Some(s), _) => Some(Duration::from_secs_f64(s.max(0.0))),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    opts.max_len = cli.max_len;
    if let Some(dir) = &cli.corpus {
        opts.corpus_dir = dir.clone();
    }
    if let Some(dir) = &cli.artifacts {
        opts.artifacts_dir = dir.clone();
    }
    println!("seed {seed} (pass --seed {seed} to repeat this run)");

    let mut clean = true;
    for t in selected {
        let report = runner::run(t, &opts)?;
        print_report(&report);
        // The other targets still run: one finding does not hide the next.
        clean &= report.crash.is_none();
    }
    Ok(clean)
}

fn print_report(r: &Report) {
    let known = if r.skipped > 0 {
        format!(", {} known crash(es) skipped", r.skipped)
    } else {
        String::new()
    };
    println!(
        "{}: {} inputs in {:.1} s ({:.0}/s, {:.1}% accepted), corpus {} seeds + {} found{known}, {} outcomes, slowest {:.2} ms ({} bytes): {}",
        r.target,
        r.inputs,
        r.elapsed.as_secs_f64(),
        r.rate(),
        100.0 * r.accepted as f64 / r.inputs.max(1) as f64,
        r.seeds,
        r.discovered,
        r.outcomes,
        r.slowest.0.as_secs_f64() * 1e3,
        r.slowest.1,
        if r.crash.is_some() { "CRASH" } else { "ok" },
    );
    if let Some(c) = &r.crash {
        if let Some(file) = &c.seed_file {
            println!("  corpus file: {file}");
        }
        match &c.artifact {
            Ok(path) => println!("  input: {}", path.display()),
            Err(e) => println!("  input not saved: {e}"),
        }
        println!("  input (escaped): {}", c.input.escape_ascii());
        println!("  panic: {}", c.message);
        println!(
            "  replay: cargo run -p multus-fuzz --profile fuzz -- {} --replay <input>",
            r.target
        );
    }
}
