//! Stage 6's binary as a learner types it: a short training run that saves a
//! model, then `evaluate` and `predict` on that model, and the errors for bad
//! input (a stage 4 MLP model given to `evaluate` among them). Runs on the
//! real MNIST files of the repository, a few steps on a small subset.

use std::path::Path;
use std::process::{Command, Output};

fn ch7(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ch7-cnn"))
        .args(args)
        .output()
        .expect("the ch7-cnn binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The error a failing run prints, after checking it failed cleanly (exit code, no panic).
fn failure(args: &[&str]) -> String {
    let out = ch7(args);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    stderr
}

/// Trains the first 20 steps of one epoch of the first 3,000 images and saves the network.
fn train_small(model: &Path) -> serde_json::Value {
    let out = ch7(&[
        "--train-size",
        "3000",
        "--epochs",
        "1",
        "--steps",
        "20",
        "--save",
        model.to_str().unwrap(),
        "--quiet",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON object")
}

#[test]
fn train_save_evaluate_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cnn.safetensors");
    let summary = train_small(&model);
    // 20 Adam steps of 100 digits already get most test digits right.
    let test = summary["test_accuracy"].as_f64().unwrap();
    assert!(test > 0.7, "test accuracy {test}");
    assert_eq!(summary["steps_done"], 20);
    assert_eq!(summary["parameters"], 433_890);

    let out = ch7(&["evaluate", "--model", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    // evaluate measures the saved model on the same test set: the same accuracy.
    assert!(
        report.contains(&format!("Test accuracy: {:.2}%", 100.0 * test)),
        "{report}"
    );
    assert!(report.contains("true\\predicted"), "{report}");

    let out = ch7(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--index",
        "0",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("Test image 0: label 7"), "{shown}");

    let msg = failure(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--index",
        "10000",
    ]);
    assert!(msg.contains("--index 10000 is out of range"), "{msg}");
}

#[test]
fn an_mlp_model_given_to_evaluate_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mlp.safetensors");
    let mlp = ch6_mlp::Mlp::<f32>::new(&[784, 16, 10], ch6_mlp::Init::He, 1, 1);
    std::fs::write(&path, ch6_mlp::engine::model_file::to_bytes(&mlp)).unwrap();
    let msg = failure(&["evaluate", "--model", path.to_str().unwrap()]);
    assert!(
        msg.contains("mlp.safetensors") && msg.contains("stage 4 MLP (ch6-mlp) model"),
        "{msg}"
    );
    let msg = failure(&["evaluate", "--model", "no/such/file.safetensors"]);
    assert!(
        msg.contains("no/such/file.safetensors") && msg.contains("cannot read"),
        "{msg}"
    );
    std::fs::write(&path, b"not a model").unwrap();
    let msg = failure(&["predict", "--model", path.to_str().unwrap(), "--index", "0"]);
    assert!(msg.contains("not a valid safetensors file"), "{msg}");
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    let msg = failure(&["--batch-size", "0"]);
    assert!(
        msg.contains("--batch-size") && msg.contains("at least 1"),
        "{msg}"
    );
    let msg = failure(&["--learning-rate=-1"]);
    assert!(msg.contains("finite number above 0"), "{msg}");
    let msg = failure(&["--init", "xavier"]);
    assert!(msg.contains("he") && msg.contains("std"), "{msg}");
    let msg = failure(&["--plot", "curves.jpg"]);
    assert!(msg.contains(".png or .svg"), "{msg}");
    let msg = failure(&["seeds", "--count", "2", "--save", "m.safetensors"]);
    assert!(
        msg.contains("--save and --plot are for one network"),
        "{msg}"
    );
    let msg = failure(&["--data-dir", "/no/such/mnist", "--steps", "1"]);
    assert!(msg.contains("/no/such/mnist"), "{msg}");
    // Numbers past any sensible run are refused by their range, never overflow.
    let huge = u64::MAX.to_string();
    for (flag, value, says) in [
        ("--shift", "100", "between 0 and 13"),
        ("--shift", "-1", "0 or more"),
        ("--decay-epochs", huge.as_str(), "between 0 and 100,000"),
        ("--epochs", huge.as_str(), "at most 100,000"),
    ] {
        let msg = failure(&[flag, value]);
        assert!(msg.contains(flag) && msg.contains(says), "{msg}");
    }
}

#[test]
fn bad_input_gets_a_clear_error_and_nothing_is_lost() {
    train_cli::checks::bad_input(&train_cli::checks::Program {
        path: env!("CARGO_BIN_EXE_ch7-cnn"),
        quick: &["--epochs", "1", "--steps", "30", "--train-size", "2000"],
        diverge: &["--learning-rate", "1000"],
    });
}

/// Every flag that takes a number, at and past its type's limits: refused
/// with a message or run, never a panic, an abort or a hang.
#[test]
fn extreme_numbers_are_refused_or_run_never_panic() {
    train_cli::checks::extreme_numbers(
        env!("CARGO_BIN_EXE_ch7-cnn"),
        &[("--epochs", "1"), ("--steps", "1"), ("--count", "1")],
        20,
    );
}
