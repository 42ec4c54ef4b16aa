//! Stage 4's binary as a learner types it: a short training run that saves a
//! model, then `evaluate` and `predict` on that model, and the errors for bad
//! input. Runs on the real MNIST files of the repository, on a small subset.

use std::path::Path;
use std::process::{Command, Output};

fn ch6(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ch6-mlp"))
        .args(args)
        .output()
        .expect("the ch6-mlp binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Trains 784-100-10 for one epoch on 4,000 images (validated on 1,000 more) and saves it.
fn train_small(model: &Path) -> serde_json::Value {
    let out = ch6(&[
        "--train-size",
        "5000",
        "--validation",
        "1000",
        "--epochs",
        "1",
        "--hidden",
        "100",
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
    let model = dir.path().join("small.safetensors");
    let summary = train_small(&model);
    // One epoch of 125 SGD steps already gets most digits right (86.6% when written).
    let test = summary["test_accuracy"].as_f64().unwrap();
    let validation = summary["validation_accuracy"].as_f64().unwrap();
    assert!(test > 0.8, "test accuracy {test}");
    assert!(validation > 0.8, "validation accuracy {validation}");
    assert_eq!(summary["steps_done"], 125);
    assert_eq!(summary["sizes"], serde_json::json!([784, 100, 10]));

    // A model of another stage, named as such.
    let other = dir.path().join("cnn.safetensors");
    let metadata = std::collections::BTreeMap::from([("format", "ch7-cnn")]);
    let no_tensors: [(&str, Vec<usize>, Vec<u8>); 0] = [];
    let bytes = ch6_mlp::engine::model_file::safetensors_bytes(&metadata, &no_tensors);
    std::fs::write(&other, bytes).unwrap();
    let other = (
        other.as_path(),
        "stage 6 convolutional network (ch7-cnn) model",
    );
    train_cli::checks::saved_model(env!("CARGO_BIN_EXE_ch6-mlp"), &model, test, Some(other));

    // Finite weights so large that a forward pass overflows: an error that
    // says so and names the file, not NaN probabilities or a 9.8% accuracy.
    let huge = dir.path().join("huge.safetensors");
    std::fs::copy(&model, &huge).unwrap();
    ch6_mlp::engine::model_file::rewrite(&huge, |tensors, _| {
        for (_, _, _, bytes) in tensors.iter_mut() {
            for number in bytes.chunks_mut(4) {
                number.copy_from_slice(&1e30f32.to_le_bytes());
            }
        }
    })
    .unwrap();
    let huge_path = huge.to_str().unwrap();
    for args in [
        vec!["evaluate", "--model", huge_path],
        vec!["predict", "--model", huge_path, "--index", "3"],
    ] {
        let out = ch6(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("huge.safetensors") && stderr.contains("overflow"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn bad_validation_or_sizes_give_a_clear_error() {
    let out = ch6(&["--train-size", "100", "--validation", "100"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--validation 100 leaves no training images"));

    let out = ch6(&["--hidden", "100,zero"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("expected sizes such as 100,200"));
}

#[test]
fn seeds_trains_one_network_per_seed_and_reports_their_spread() {
    let small = [
        "--train-size",
        "1500",
        "--validation",
        "500",
        "--epochs",
        "1",
        "--hidden",
        "16",
    ];
    let out = ch6(&[
        &["seeds", "--count", "3", "--seed", "7", "--json"],
        &small[..],
    ]
    .concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let runs = report["runs"].as_array().unwrap();
    let seeds: Vec<u64> = runs.iter().map(|r| r["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds, [7, 8, 9]);
    let tests: Vec<f64> = runs
        .iter()
        .map(|r| r["test_accuracy"].as_f64().unwrap())
        .collect();
    let mean = tests.iter().sum::<f64>() / 3.0;
    assert!((report["test_accuracy"]["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    let min = tests.iter().copied().fold(1.0, f64::min);
    assert_eq!(report["test_accuracy"]["min"].as_f64().unwrap(), min);
    assert!(report["validation_accuracy"]["sd"].as_f64().unwrap() >= 0.0);

    // Seed 8 of the series is the very run `--seed 8` trains on its own.
    let out = ch6(&[&["--seed", "8", "--json", "-q"], &small[..]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let single: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(single["test_accuracy"], runs[1]["test_accuracy"]);
    assert_eq!(
        single["validation_accuracy"],
        runs[1]["validation_accuracy"]
    );

    // One network's flags are refused, naming them.
    let out = ch6(&["seeds", "--save", "model.safetensors"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--save, --plot and --plot-weights are for one network"));
}

#[test]
fn bad_input_gets_a_clear_error_and_nothing_is_lost() {
    train_cli::checks::bad_input(&train_cli::checks::Program {
        path: env!("CARGO_BIN_EXE_ch6-mlp"),
        quick: &["--epochs", "1", "--train-size", "1000"],
        diverge: &["--learning-rate", "50"],
    });
}

#[test]
fn save_never_loses_a_file_and_the_same_run_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let quick = ["--epochs", "1", "--train-size", "1000", "--quiet"];
    let run = |extra: &[&str]| {
        let out = ch6(&[&quick[..], extra].concat());
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    // A new model, then the same run again: replaced, said, the same bytes.
    let (ok, stdout, stderr) = run(&["--save", &at("m.safetensors")]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("Model saved to"), "{stdout}");
    let first = std::fs::read(at("m.safetensors")).unwrap();
    let (ok, stdout, _) = run(&["--save", &at("m.safetensors")]);
    assert!(
        ok && stdout.contains("replaced the file that was there"),
        "{stdout}"
    );
    assert_eq!(std::fs::read(at("m.safetensors")).unwrap(), first);

    // Refused before training: a file that is not a model (unless --force),
    // an input file (even with --force), the same file for two outputs.
    std::fs::write(at("notes.txt"), "my notes").unwrap();
    let (ok, _, stderr) = run(&["--save", &at("notes.txt")]);
    assert!(!ok && stderr.contains("add --force"), "{stderr}");
    assert_eq!(std::fs::read(at("notes.txt")).unwrap(), b"my notes");
    let (ok, _, stderr) = run(&["--save", &at("notes.txt"), "--force"]);
    assert!(ok, "{stderr}");
    assert_eq!(std::fs::read(at("notes.txt")).unwrap(), first);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
    let input = data.join("t10k-labels-idx1-ubyte.gz");
    let before = std::fs::read(&input).unwrap();
    let (ok, _, stderr) = run(&["--save", input.to_str().unwrap(), "--force"]);
    assert!(
        !ok && stderr.contains("one of the files this run reads"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);
    let (ok, _, stderr) = run(&["--save", &at("x.png"), "--plot", &at("x.png")]);
    assert!(!ok && stderr.contains("names the same file"), "{stderr}");
    assert!(!Path::new(&at("x.png")).exists());

    // A diverged run saves nothing and leaves the old model as it was.
    let (ok, _, stderr) = run(&["--save", &at("m.safetensors"), "--learning-rate", "1e6"]);
    assert!(!ok && stderr.contains("diverged"), "{stderr}");
    assert_eq!(std::fs::read(at("m.safetensors")).unwrap(), first);
}

#[test]
fn every_optimizer_that_blows_up_is_stopped() {
    for optimizer in ["sgd", "momentum", "adagrad", "rmsprop", "adam"] {
        for rate in ["50", "1e6"] {
            let out = ch6(&[
                "--optimizer",
                optimizer,
                "--learning-rate",
                rate,
                "--epochs",
                "1",
                "--train-size",
                "2000",
                "--quiet",
            ]);
            let stderr = text(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{optimizer} at {rate}: {stderr}"
            );
            assert!(
                stderr.contains("training diverged") || stderr.contains("did not learn"),
                "{optimizer} at {rate}: {stderr}"
            );
        }
    }
}

#[test]
fn plot_weights_draws_what_the_first_layer_learned() {
    let dir = tempfile::tempdir().unwrap();
    let (model, weights) = (dir.path().join("m.safetensors"), dir.path().join("w.png"));
    let out = ch6(&[
        "--train-size",
        "2000",
        "--epochs",
        "1",
        "--hidden",
        "100",
        "--save",
        model.to_str().unwrap(),
        "--plot-weights",
        weights.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("First-layer units drawn to"));
    // 64 tiles of 28×28 in 8 columns, 3 × 3 screen pixels per weight.
    assert_eq!(train_cli::checks::png_size(&weights), (738, 798));

    let out = ch6(&["--plot-weights", "/no/such/dir/w.png", "--epochs", "1"]);
    let err = text(&out.stderr);
    assert!(err.contains("--plot-weights /no/such/dir/w.png"), "{err}");
    let out = ch6(&["seeds", "--plot-weights", "w.png"]);
    assert!(text(&out.stderr).contains("are for one network"));
}

#[test]
fn activations_and_optimizer_paths_draw_the_book_figures() {
    let dir = tempfile::tempdir().unwrap();
    let histograms = dir.path().join("h.png");
    let out = ch6(&["activations", "--plot", histograms.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    // Six rows: sigmoid and ReLU, each with std 0.01, Xavier and He.
    assert!(
        said.contains("sigmoid, std 0.01") && said.contains("ReLU, He"),
        "{said}"
    );
    assert_eq!(
        train_cli::checks::png_size(&histograms),
        (760, 70 + 6 * 170 + 10)
    );

    let paths = dir.path().join("p.png");
    let out = ch6(&["optimizer-paths", "--plot", paths.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("SGD (η = 0.95)"));
    assert_eq!(train_cli::checks::png_size(&paths), (760, 40 + 2 * 260));
    // The same figure twice: the same bytes.
    let first = std::fs::read(&paths).unwrap();
    assert!(
        ch6(&["optimizer-paths", "--plot", paths.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(std::fs::read(&paths).unwrap(), first);

    let mine = dir.path().join("mine.png");
    std::fs::write(&mine, "not a picture").unwrap();
    for command in ["activations", "optimizer-paths"] {
        let out = ch6(&[command, "--plot", mine.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(text(&out.stderr).contains("--force"), "{command}");
        let out = ch6(&[command, "--plot", "/no/such/dir/x.png"]);
        assert!(text(&out.stderr).contains("does not exist"), "{command}");
    }
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "not a picture");
}

/// Every flag that takes a number, at and past its type's limits: refused
/// with a message or run, never a panic, an abort or a hang.
#[test]
fn extreme_numbers_are_refused_or_run_never_panic() {
    train_cli::checks::extreme_numbers(
        env!("CARGO_BIN_EXE_ch6-mlp"),
        &[("--epochs", "1"), ("--iterations", "2")],
        20,
    );
}

/// Ctrl-C or SIGTERM in the middle of a run: it says so, exits with 130,
/// and leaves nothing behind.
#[test]
fn an_interrupted_run_leaves_nothing_behind() {
    let binary = env!("CARGO_BIN_EXE_ch6-mlp");
    for signal in ["INT", "TERM"] {
        train_cli::checks::interrupted(binary, &["--epochs", "1000"], signal);
    }
}
