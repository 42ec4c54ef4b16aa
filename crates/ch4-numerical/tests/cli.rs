//! Stage 1's program (`cargo run -p ch4-numerical`) as a user meets it: flags checked with clear errors,
//! divergence stopped with advice, `--json` and `--plot` written, and the same
//! `--seed` giving the same numbers.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ch4-numerical"))
        .args(args)
        .output()
        .expect("the ch4-numerical binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON object on stdout")
}

const SHORT: &[&str] = &[
    "--steps",
    "20",
    "--eval-every",
    "10",
    "--train-size",
    "2000",
    "--quiet",
    "--json",
];

#[test]
fn invalid_values_are_refused_with_the_flag_named() {
    for (args, expected) in [
        (&["--batch-size", "0"][..], "--batch-size"),
        (&["--learning-rate", "-1"], "finite number above 0"),
        (&["--learning-rate", "NaN"], "finite number above 0"),
        (&["--train-size", "60001"], "60000 training images"),
        (&["--steps", "many"], "--steps"),
        (&["--plot", "curves.jpg"], ".png or .svg"),
        (&["--gradient", "analytic"], "naive"),
        (&["--no-such-flag"], "--no-such-flag"),
    ] {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let msg = stderr(&out);
        assert!(msg.contains(expected), "{args:?}: {msg}");
        assert!(!msg.contains("panicked"), "{args:?}: {msg}");
    }
}

#[test]
fn a_missing_data_dir_is_named_with_a_fix() {
    let out = run(&["--data-dir", "/no/such/dir", "--steps", "1"]);
    assert!(!out.status.success());
    let msg = stderr(&out);
    assert!(
        msg.contains("/no/such/dir") && msg.contains("--data-dir"),
        "{msg}"
    );
}

#[test]
fn a_huge_learning_rate_stops_with_a_divergence_message() {
    // Softmax regression's gradients are bounded, so only an absurd rate
    // pushes the weights to infinity and the loss to NaN.
    let out = run(&[
        "--learning-rate",
        "1e308",
        "--steps",
        "50",
        "--train-size",
        "1000",
        "--quiet",
    ]);
    assert!(!out.status.success(), "training should stop");
    let msg = stderr(&out);
    assert!(
        msg.contains("training diverged") && msg.contains("smaller --learning-rate"),
        "{msg}"
    );
    assert!(
        msg.contains("this run used 1e308") && msg.contains("for example 1e307"),
        "{msg}"
    );
}

#[test]
fn json_reports_the_run_and_the_same_seed_repeats_it() {
    let a = json(SHORT);
    assert_eq!(a["stage"], "ch4-numerical");
    assert_eq!(a["parameters"], 7850);
    assert_eq!(a["steps_done"], 20);
    assert_eq!(a["batch_size"], 100);
    assert_eq!(a["history"].as_array().unwrap().len(), 2);
    let acc = a["test_accuracy"].as_f64().unwrap();
    // 20 steps already lift a 10-class guesser far above chance (10%).
    assert!(acc > 0.5, "test accuracy {acc}");
    assert!(a["ms_per_gradient"].as_f64().unwrap() > 0.0);

    let b = json(SHORT);
    for key in ["test_accuracy", "final_loss"] {
        assert_eq!(
            a[key], b[key],
            "{key} differs between runs with the same seed"
        );
    }
    let losses = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["loss"].clone())
            .collect()
    };
    assert_eq!(losses(&a), losses(&b));

    let mut other_seed = SHORT.to_vec();
    other_seed.extend(["--seed", "7"]);
    assert_ne!(losses(&a), losses(&json(&other_seed)));
}

#[test]
fn plot_writes_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curves.png");
    let mut args = SHORT.to_vec();
    args.extend(["--plot", path.to_str().unwrap()]);
    json(&args);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
}

#[test]
fn naive_and_fast_runs_learn_the_same_way() {
    // Two steps with each method from the same seed: the gradients agree to
    // 1e-9, so the losses agree to many digits.
    let args = [
        "--steps",
        "2",
        "--eval-every",
        "1",
        "--train-size",
        "500",
        "--quiet",
        "--json",
    ];
    let fast = json(&[&args[..], &["--gradient", "fast"]].concat());
    let naive = json(&[&args[..], &["--gradient", "naive"]].concat());
    let loss = |v: &serde_json::Value, i: usize| v["history"][i]["loss"].as_f64().unwrap();
    for i in 0..2 {
        assert!((loss(&fast, i) - loss(&naive, i)).abs() < 1e-8);
    }
    assert_eq!(naive["gradient_method"], "naive");
}

#[test]
fn bad_input_gets_a_clear_error_and_nothing_is_lost() {
    train_cli::checks::bad_input(&train_cli::checks::Program {
        path: env!("CARGO_BIN_EXE_ch4-numerical"),
        quick: &[
            "--steps",
            "20",
            "--train-size",
            "1000",
            "--eval-every",
            "10",
        ],
        diverge: &["--learning-rate", "1e308"],
    });
}

#[test]
fn plot_weights_draws_the_ten_templates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.png");
    let mut args = SHORT.to_vec();
    args.extend(["--plot-weights", path.to_str().unwrap()]);
    json(&args);
    // Two rows of five 28×28 tiles, each pixel drawn 4 × 4, with captions.
    assert_eq!(train_cli::checks::png_size(&path), (632, 380));

    let out = run(&["--plot-weights", "/no/such/dir/w.png", "--steps", "1"]);
    assert!(!out.status.success());
    let msg = stderr(&out);
    assert!(
        msg.contains("--plot-weights /no/such/dir/w.png") && msg.contains("does not exist"),
        "{msg}"
    );
    let out = run(&["--plot-weights", "w.jpg"]);
    assert!(stderr(&out).contains(".png or .svg"), "{}", stderr(&out));
}

#[test]
fn gradient_field_draws_the_figure_and_checks_its_path_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.png");
    let out = run(&["gradient-field", "--plot", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(train_cli::checks::png_size(&path), (760, 760));
    // Drawn again, the same bytes: the picture is deterministic.
    let first = std::fs::read(&path).unwrap();
    assert!(
        run(&["gradient-field", "--plot", path.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(std::fs::read(&path).unwrap(), first);

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "mine").unwrap();
    let out = run(&["gradient-field", "--plot", text.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(".png or .svg"), "{}", stderr(&out));
    let png = dir.path().join("notes.png");
    std::fs::write(&png, "mine").unwrap();
    let out = run(&["gradient-field", "--plot", png.to_str().unwrap()]);
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&png).unwrap(), "mine");
}

/// Every flag that takes a number, at and past its type's limits: refused
/// with a message or run, never a panic, an abort or a hang.
#[test]
fn extreme_numbers_are_refused_or_run_never_panic() {
    train_cli::checks::extreme_numbers(
        env!("CARGO_BIN_EXE_ch4-numerical"),
        &[("--steps", "2")],
        20,
    );
}
