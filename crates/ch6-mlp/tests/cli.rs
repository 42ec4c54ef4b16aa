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

    let out = ch6(&["evaluate", "--model", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    // evaluate measures the saved model on the same test set: the same accuracy.
    assert!(
        report.contains(&format!("Test accuracy: {:.2}%", 100.0 * test)),
        "{report}"
    );
    assert!(report.contains("true\\predicted"), "{report}");
    assert_eq!(
        report
            .lines()
            .filter(|l| l.trim_end().ends_with('%'))
            .count(),
        10,
        "{report}"
    );

    let out = ch6(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--index",
        "0",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let lines: Vec<&str> = shown.lines().collect();
    assert!(lines[..28].iter().all(|l| l.len() == 56), "{shown}");
    // Test image 0 is a 7.
    assert!(
        lines[28].starts_with("Test image 0: label 7, predicted"),
        "{shown}"
    );
    assert_eq!(lines[29..].len(), 3, "top 3: {shown}");

    // `--json`: the label and all ten probabilities, the top three as shown above.
    let out = ch6(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--index",
        "0",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["index"].as_u64(), json["label"].as_u64()),
        (Some(0), Some(7))
    );
    let p: Vec<f64> = json["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(p.len(), 10);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{p:?}");
    let top = (0..10).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
    let first = format!("  {top}: {:6.2}%", 100.0 * p[top]);
    assert_eq!(lines[29], first, "{shown}");
}

#[test]
fn a_bad_model_file_or_index_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("broken.safetensors");
    std::fs::write(&model, b"not a model at all").unwrap();
    let out = ch6(&["evaluate", "--model", model.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("broken.safetensors") && err.contains("not a valid safetensors file"),
        "{err}"
    );

    let missing = dir.path().join("missing.safetensors");
    let out = ch6(&[
        "predict",
        "--model",
        missing.to_str().unwrap(),
        "--index",
        "3",
    ]);
    assert!(text(&out.stderr).contains("cannot read the model file"));

    let out = ch6(&["--train-size", "100", "--validation", "100"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--validation 100 leaves no training images"));

    let out = ch6(&["--hidden", "100,zero"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("expected sizes such as 100,200"));
}

#[test]
fn an_index_past_the_test_set_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.safetensors");
    let out = ch6(&[
        "--train-size",
        "200",
        "--validation",
        "0",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--save",
        model.to_str().unwrap(),
        "-q",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ch6(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--index",
        "10000",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--index 10000 is out of range"));
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
fn predict_and_evaluate_on_an_empty_test_set_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    train_small(&model);
    let some = mnist::Dataset::from_parts(vec![0; 784], vec![1]);
    mnist::write_dir(dir.path(), &some, &some.first(0)).unwrap();
    for command in ["predict", "evaluate"] {
        let mut args = vec![command, "--model", model.to_str().unwrap()];
        args.extend(["--data-dir", dir.path().to_str().unwrap()]);
        if command == "predict" {
            args.extend(["--index", "0"]);
        }
        let out = ch6(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("holds no images"), "{stderr}");
    }
}

#[test]
fn plot_weights_and_gallery_draw_what_the_saved_model_learned() {
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

    let gallery = dir.path().join("wrong.png");
    let out = ch6(&[
        "evaluate",
        "--model",
        model.to_str().unwrap(),
        "--gallery",
        gallery.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Misclassified digits drawn to"));
    // 24 digits (a model of 2,000 images gets far more than 24 wrong) in 6
    // columns of 112 pixels, with captions.
    assert_eq!(train_cli::checks::png_size(&gallery), (756, 676));

    // The gallery's path is checked before the model is read, and never the model itself.
    let out = ch6(&[
        "evaluate",
        "--model",
        model.to_str().unwrap(),
        "--gallery",
        "/no/such/dir/g.png",
    ]);
    let err = text(&out.stderr);
    assert!(
        err.contains("--gallery /no/such/dir/g.png") && err.contains("does not exist"),
        "{err}"
    );
    let out = ch6(&[
        "evaluate",
        "--model",
        model.to_str().unwrap(),
        "--gallery",
        "g.jpg",
    ]);
    assert!(text(&out.stderr).contains(".png or .svg"));
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
