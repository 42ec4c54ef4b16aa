//! Stage 5's binary as a learner types it: short runs of each experiment on
//! the repository's MNIST files, and the clear errors for bad input, each
//! refused before any training.

use std::process::{Command, Output};

fn ch6(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ch6-regularization"))
        .args(args)
        .output()
        .expect("the ch6-regularization binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `args` expecting failure; returns stderr, which must hold each of `expected`.
fn fails_with(args: &[&str], expected: &[&str]) -> String {
    let out = ch6(args);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for e in expected {
        assert!(err.contains(e), "{args:?}: expected `{e}` in: {err}");
    }
    // Refused before training: no progress line of a run.
    assert!(!err.contains("step "), "{args:?} trained first: {err}");
    err
}

#[test]
fn bad_dropout_ratios_are_refused() {
    fails_with(
        &["train", "--dropout", "1", "--epochs", "1"],
        &["dropout ratio 1", "[0, 1)"],
    );
    fails_with(
        &["overfit", "--dropout", "-0.5", "--epochs", "1"],
        &["dropout ratio -0.5"],
    );
}

#[test]
fn negative_weight_decay_is_refused() {
    fails_with(
        &["train", "--weight-decay", "-0.01"],
        &["weight decay -0.01", "0 or more"],
    );
    fails_with(&["overfit", "--weight-decay", "-1"], &["weight decay -1"]);
}

#[test]
fn batch_norm_on_a_batch_of_one_is_refused() {
    let err = fails_with(
        &["train", "--batch-size", "1"],
        &["batch normalisation", "batch size of 1"],
    );
    assert!(err.contains("2 or more"), "{err}");
    // without batch norm a batch of one is a valid (slow) setting: check it is accepted
    let out = ch6(&[
        "train",
        "--batch-size",
        "1",
        "--no-batch-norm",
        "--train-size",
        "20",
        "--epochs",
        "1",
        "--hidden",
        "10",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn empty_search_ranges_are_refused() {
    fails_with(
        &["search", "--learning-rate-range", "1e-2..1e-6"],
        &["learning rate range", "empty"],
    );
    fails_with(
        &["search", "--weight-decay-range", "0..1e-4"],
        &["weight decay range", "above 0"],
    );
    fails_with(&["search", "--learning-rate-range", "0.1"], &["LOW..HIGH"]);
    // Three dots is not a range from 1e-3 to .1e-2.
    fails_with(
        &["search", "--learning-rate-range", "1e-3...1e-2"],
        &["LOW..HIGH", "1e-3...1e-2"],
    );
    fails_with(
        &["search", "--validation-fraction", "1"],
        &["validation fraction 1"],
    );
}

#[test]
fn train_prints_a_summary_with_its_history() {
    let out = ch6(&[
        "train",
        "--train-size",
        "2000",
        "--epochs",
        "2",
        "--hidden",
        "50",
        "--quiet",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(summary["steps_done"], 40, "2 epochs of 20 batches of 100");
    assert_eq!(summary["history"].as_array().unwrap().len(), 2);
    assert_eq!(summary["batch_norm"], true);
    // Two epochs on 2,000 images already get most digits right (about 86% when written).
    let test = summary["test_accuracy"].as_f64().unwrap();
    assert!(test > 0.75, "test accuracy {test}");
}

#[test]
fn overfit_is_deterministic_and_reports_the_gap() {
    let args = [
        "overfit",
        "--train-size",
        "100",
        "--epochs",
        "20",
        "--eval-every",
        "10",
        "--quiet",
        "--json",
    ];
    let (a, b) = (ch6(&args), ch6(&args));
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert_eq!(a.stdout, b.stdout, "the same seed gives the same numbers");
    let json: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["epochs"], serde_json::json!([10, 20]));
    assert!(text(&a.stderr).contains("gap"), "{}", text(&a.stderr));
}

#[test]
fn search_chooses_on_validation_and_tests_once() {
    let out = ch6(&[
        "search",
        "--train-size",
        "200",
        "--trials",
        "3",
        "--epochs",
        "3",
        "--show",
        "2",
        "--quiet",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            json["train_size"].as_u64(),
            json["validation_size"].as_u64()
        ),
        (Some(160), Some(40))
    );
    assert_eq!(json["trials"].as_array().unwrap().len(), 3);
    // The winner is measured on the test set once, after its last epoch.
    assert_eq!(json["winner"]["test"].as_array().unwrap().len(), 1);
    assert_eq!(json["winner"]["epochs"], serde_json::json!([3]));
}

#[test]
fn bad_input_gets_a_clear_error_and_nothing_is_lost() {
    train_cli::checks::bad_input(&train_cli::checks::Program {
        path: env!("CARGO_BIN_EXE_ch6-regularization"),
        quick: &["train", "--epochs", "1", "--train-size", "1000"],
        diverge: &["--learning-rate", "1e6"],
    });
}

#[test]
fn a_saved_network_predicts_and_evaluates_and_a_bad_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("net.safetensors");
    let model_arg = model.to_str().unwrap();
    let out = ch6(&[
        "train",
        "--train-size",
        "1000",
        "--epochs",
        "1",
        "--hidden",
        "30",
        "--quiet",
        "--save",
        model_arg,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Model saved to"));
    let out = ch6(&["evaluate", "--model", model_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let evaluated = text(&out.stdout);
    assert!(
        evaluated.contains("784-30-10 ReLU, BatchNorm, dropout 0.2, 23920 parameters"),
        "{evaluated}"
    );
    assert!(evaluated.contains("Test accuracy:"), "{evaluated}");
    let out = ch6(&["predict", "--model", model_arg, "--index", "0", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["label"], 7);
    assert_eq!(json["probabilities"].as_array().unwrap().len(), 10);
    // A file that is not a model is refused, by name.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not a model").unwrap();
    let notes_arg = notes.to_str().unwrap();
    fails_with(
        &["evaluate", "--model", notes_arg],
        &[notes_arg, "not a valid safetensors file"],
    );
    // `--save` never replaces a file that is not a model of this program.
    fails_with(
        &[
            "train",
            "--epochs",
            "1",
            "--train-size",
            "1000",
            "--save",
            notes_arg,
        ],
        &["--save", notes_arg],
    );
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "not a model");
}

/// Every flag that takes a number, at and past its type's limits: refused
/// with a message or run, never a panic, an abort or a hang.
#[test]
fn extreme_numbers_are_refused_or_run_never_panic() {
    train_cli::checks::extreme_numbers(
        env!("CARGO_BIN_EXE_ch6-regularization"),
        &[
            ("--epochs", "1"),
            ("--scales", "1"),
            ("--trials", "1"),
            ("--count", "1"),
        ],
        20,
    );
}
