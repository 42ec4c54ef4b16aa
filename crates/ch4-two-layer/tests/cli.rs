//! Stage 2's program (`cargo run -p ch4-two-layer`) as a user meets it,
//! before any training: `--help` shows the defaults the program declares,
//! and bad flag values are refused with the flag named.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ch4-two-layer"))
        .args(args)
        .output()
        .expect("the ch4-two-layer binary runs")
}

#[test]
fn help_shows_the_stages_defaults() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        ("--steps", "[default: 200]"),
        ("--batch-size", "[default: 100]"),
        ("--learning-rate", "[default: 1]"),
        ("--eval-every", "[default: 25]"),
        ("--hidden", "[default: 50]"),
        ("--gradient", "[default: fast]"),
    ] {
        assert!(
            help.lines()
                .any(|l| l.contains(line.0) && l.contains(line.1)),
            "{line:?} missing from:\n{help}"
        );
    }
}

#[test]
fn invalid_values_are_refused_with_the_flag_named() {
    for (args, expected) in [
        (&["--steps", "0"][..], "--steps"),
        (&["--steps", "-3"], "must be at least 1, got -3"),
        (&["--batch-size", "0"], "--batch-size"),
        (&["--learning-rate", "-1"], "finite number above 0"),
        (&["--hidden", "0"], "--hidden"),
        (&["--hidden", "-5"], "must be at least 1"),
        (&["--gradient", "analytic"], "naive"),
    ] {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(msg.contains(expected), "{args:?}: {msg}");
        assert!(!msg.contains("panicked"), "{args:?}: {msg}");
    }
}

#[test]
fn bad_input_gets_a_clear_error_and_nothing_is_lost() {
    train_cli::checks::bad_input(&train_cli::checks::Program {
        path: env!("CARGO_BIN_EXE_ch4-two-layer"),
        quick: &["--steps", "40", "--train-size", "500", "--eval-every", "10"],
        diverge: &["--learning-rate", "1e9"],
    });
}

/// A short run's JSON summary.
fn json(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON object on stdout")
}

#[test]
fn a_short_run_learns_reports_json_and_the_same_seed_repeats_it() {
    let short = [
        "--steps",
        "30",
        "--eval-every",
        "15",
        "--train-size",
        "1000",
        "--hidden",
        "20",
        "--quiet",
        "--json",
    ];
    let a = json(&short);
    assert_eq!(a["stage"], "ch4-two-layer");
    // 784·20 + 20 + 20·10 + 10 weights and biases.
    assert_eq!(a["parameters"], 15_910);
    assert_eq!(a["steps_done"], 30);
    assert_eq!(a["history"].as_array().unwrap().len(), 2);
    let acc = a["test_accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.2,
        "30 steps lift the network above chance (10%): {acc}"
    );
    // Seconds differ between runs; the numbers the seed decides do not.
    let learned = |v: &serde_json::Value| -> Vec<(serde_json::Value, serde_json::Value)> {
        let history = v["history"].as_array().unwrap();
        history
            .iter()
            .map(|e| (e["loss"].clone(), e["test_accuracy"].clone()))
            .collect()
    };
    assert_eq!(learned(&a), learned(&json(&short)));
    let other = json(&[&short[..], &["--seed", "7"]].concat());
    assert_ne!(a["final_loss"], other["final_loss"]);
}

/// Every flag that takes a number, at and past its type's limits: refused
/// with a message or run, never a panic, an abort or a hang.
#[test]
fn extreme_numbers_are_refused_or_run_never_panic() {
    train_cli::checks::extreme_numbers(
        env!("CARGO_BIN_EXE_ch4-two-layer"),
        &[("--steps", "2")],
        20,
    );
}
