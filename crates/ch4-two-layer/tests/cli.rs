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
        (&["--steps", "-3"], "whole number of at least 1"),
        (&["--batch-size", "0"], "--batch-size"),
        (&["--learning-rate", "-1"], "finite number above 0"),
        (&["--hidden", "0"], "--hidden"),
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
