//! The fuzz targets inside `cargo test`: every corpus file of every target
//! replays cleanly, and every target survives a short, fixed-seed run of
//! mutated inputs (a few seconds in a debug build).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use multus_fuzz::corpus::{self, KNOWN_CRASHES};
use multus_fuzz::runner::{self, Options};
use multus_fuzz::targets::TARGETS;

/// Mutated inputs per target in the short run.
const INPUTS: u64 = 5000;

#[test]
fn every_corpus_file_replays_without_a_finding() {
    let mut findings = Vec::new();
    for target in TARGETS {
        let seeds = corpus::load(&corpus::default_corpus_dir(), target.name).unwrap();
        assert!(!seeds.is_empty(), "fuzz/corpus/{}/ is empty", target.name);
        for seed in seeds {
            // Committed reproducers of crashes not fixed yet (see KNOWN_CRASHES).
            if corpus::is_known_crash(target.name, &seed.name) {
                continue;
            }
            if let Err(message) = runner::run_one(target, &seed.bytes) {
                findings.push(format!("{}/{}: {message}", target.name, seed.name));
            }
        }
    }
    assert!(findings.is_empty(), "findings:\n{}", findings.join("\n"));
}

#[test]
fn known_crashes_are_in_the_corpus() {
    for k in KNOWN_CRASHES {
        let path = corpus::default_corpus_dir().join(k.target).join(k.file);
        assert!(path.is_file(), "{} is listed but missing", path.display());
    }
}

#[test]
fn every_target_survives_a_short_run() {
    let artifacts = std::env::temp_dir().join(format!("multus-fuzz-smoke-{}", std::process::id()));
    for target in TARGETS {
        let mut opts = Options::new(0x5eed);
        opts.max_inputs = Some(INPUTS);
        opts.artifacts_dir = artifacts.clone();
        let report = runner::run(target, &opts).unwrap();
        if let Some(crash) = &report.crash {
            panic!(
                "{}: input {:?} ({:?}): {}",
                target.name,
                crash.input.escape_ascii().to_string(),
                crash.artifact,
                crash.message
            );
        }
        assert_eq!(
            report.inputs,
            report.seeds as u64 + INPUTS,
            "{}: every seed and every mutated input runs",
            target.name
        );
        assert!(report.outcomes > 1, "{}: only one outcome", target.name);
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let target = multus_fuzz::targets::find("networks").unwrap();
    let run = || {
        let mut opts = Options::new(42);
        opts.max_inputs = Some(300);
        let r = runner::run(target, &opts).unwrap();
        (r.inputs, r.discovered, r.outcomes)
    };
    assert_eq!(run(), run());
}

#[test]
fn command_line_runs_a_target_and_rejects_unknown_ones() {
    let bin = env!("CARGO_BIN_EXE_multus-fuzz");
    let out = Command::new(bin)
        .args(["cni-args", "--inputs", "200", "--seed", "7"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("seed 7 (pass --seed 7"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("cni-args: "))
        .unwrap();
    assert!(line.ends_with(": ok"), "{line}");
    assert!(line.contains(" inputs in "), "{line}");

    let list = Command::new(bin).arg("--list").output().unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    for t in TARGETS {
        assert!(listed.lines().any(|l| l.starts_with(t.name)), "{listed}");
    }

    let bad = Command::new(bin)
        .args(["nope", "--inputs", "1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown target \"nope\""));
}
