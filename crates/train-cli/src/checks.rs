//! What every stage's program must do with bad input, as one set of checks
//! that each stage's `tests/cli.rs` runs against its own binary: empty data,
//! unsafe output paths, sizes past memory, negative counts, a training run
//! that blows up, and errors printed without a backtrace. A new stage gets
//! them all by calling [`bad_input`]. The stages whose networks are saved
//! (4 to 7) also call [`saved_model`]: what `predict` and `evaluate`, the
//! subcommands they share, must do with a saved model and with bad ones.
//! Every stage calls [`extreme_numbers`]: every flag of every subcommand
//! that takes a value, given numbers at and past the limits of its type.

use std::path::Path;
use std::process::{Command, Output};

/// How a stage's program is run by the checks.
pub struct Program<'a> {
    /// The binary (`env!("CARGO_BIN_EXE_<stage>")`).
    pub path: &'a str,
    /// The arguments of a short run that trains and learns (above chance),
    /// for example `["--steps", "20", "--train-size", "500"]`.
    pub quick: &'a [&'a str],
    /// Arguments added to `quick` that make training fail by a learning rate
    /// far too large, for example `["--learning-rate", "1e6"]`.
    pub diverge: &'a [&'a str],
}

impl Program<'_> {
    /// Runs the program with `quick`, then `args`, with `RUST_BACKTRACE=1`
    /// set as many Rust users have it, and `$MNIST_DIR` unset.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(self.path)
            .args(self.quick)
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .env_remove("MNIST_DIR")
            .output()
            .expect("the stage's binary runs")
    }

    /// Runs it expecting failure: returns stderr, after checking that the
    /// exit status says so and that it is a message, not a panic or a backtrace.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{args:?} should fail:\n{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.to_lowercase().contains("stack backtrace"),
            "{args:?}: a message, not a panic or a backtrace:\n{stderr}"
        );
        assert_eq!(
            out.status.code(),
            Some(if stderr.contains("For more information, try '--help'") {
                2
            } else {
                1
            }),
            "{args:?}: exit status 1 for errors, 2 for bad flags (clap's), never a signal:\n{stderr}"
        );
        stderr
    }
}

fn assert_says(stderr: &str, wanted: &str, case: &str) {
    assert!(
        stderr.contains(wanted),
        "{case}: expected `{wanted}` in:\n{stderr}"
    );
}

/// Runs every check against `program`; panics (fails the test) with the case
/// and the program's output on the first one that does not hold.
pub fn bad_input(program: &Program) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let at = |name: &str| dir.path().join(name).to_string_lossy().into_owned();

    // Empty training or test set: a clear error, not a panic or NaN%.
    let some = mnist::Dataset::from_parts(vec![0; 3 * mnist::IMAGE_SIZE], vec![1, 2, 3]);
    let none = some.first(0);
    for (name, train, test) in [("no-train", &none, &some), ("no-test", &some, &none)] {
        std::fs::create_dir(at(name)).unwrap();
        mnist::write_dir(Path::new(&at(name)), train, test).unwrap();
        let stderr = program.fails(&["--data-dir", &at(name)]);
        assert_says(&stderr, "holds no images", name);
    }

    // Where the data directory came from is said.
    let stderr = program.fails(&["--data-dir", &at("nowhere")]);
    assert_says(&stderr, "--data-dir", "a missing --data-dir");
    let out = Command::new(program.path)
        .args(program.quick)
        .env("MNIST_DIR", at("nowhere"))
        .output()
        .unwrap();
    assert_says(
        &String::from_utf8_lossy(&out.stderr),
        "$MNIST_DIR=",
        "a missing $MNIST_DIR",
    );

    // Output paths are checked before training, and nothing is replaced
    // that this program did not write (unless --force).
    std::fs::write(at("notes.png"), "my notes").unwrap();
    let stderr = program.fails(&["--plot", &at("notes.png")]);
    assert_says(
        &stderr,
        "add --force",
        "--plot onto a file that is not a chart",
    );
    assert!(
        !stderr.contains("step "),
        "checked before training:\n{stderr}"
    );
    assert_eq!(std::fs::read(at("notes.png")).unwrap(), b"my notes");
    let stderr = program.fails(&["--plot", &at("no/such/dir/c.png")]);
    assert_says(&stderr, "does not exist", "--plot into a missing directory");
    std::fs::create_dir(at("folder.png")).unwrap();
    let stderr = program.fails(&["--plot", &at("folder.png")]);
    assert_says(&stderr, "is a directory", "--plot onto a directory");

    // Negative counts say what was expected.
    let stderr = program.fails(&["--batch-size", "-1"]);
    assert_says(&stderr, "must be at least 1", "--batch-size -1");
    let stderr = program.fails(&["--seed", "-1"]);
    assert_says(&stderr, "must be 0 or more", "--seed -1");

    // Sizes past memory are refused before anything is allocated.
    for batch in ["100000000", &usize::MAX.to_string()] {
        let stderr = program.fails(&["--batch-size", batch]);
        assert_says(&stderr, "would need about", "a huge --batch-size");
    }

    // A learning rate far too large: the loss blows up and training stops
    // (or, where the loss cannot grow, the run ends at chance level), it
    // says so with the flag to change, and exits 1.
    let mut args = program.diverge.to_vec();
    args.push("--quiet");
    let stderr = program.fails(&args);
    assert!(
        stderr.contains("training diverged") || stderr.contains("did not learn"),
        "a learning rate far too large:\n{stderr}"
    );
    assert_says(
        &stderr,
        "smaller --learning-rate",
        "the advice names the flag",
    );

    // A good run writes its chart atomically and says when it replaced one.
    for replaced in [false, true] {
        let out = program.run(&["--plot", &at("curves.png"), "--quiet"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            stdout.contains("replaced the file that was there"),
            replaced,
            "{stdout}"
        );
        assert!(crate::is_plot(Path::new(&at("curves.png"))));
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

/// Runs `predict` and `evaluate` of the program at `binary` on the model it
/// saved at `model`, whose run reported `test_accuracy`, and panics (failing
/// the test) when one of these does not hold:
/// - `evaluate` measures the same accuracy and prints a confusion matrix with
///   a recall for each of the ten digits, and `--gallery` draws 24 digits;
/// - `predict` draws test image 0 (a 7) with the three best guesses, and
///   `--json` gives all ten probabilities, summing to 1, the first as drawn;
/// - an index past the test set, an empty test set, a file that is not a
///   model, a missing file and (when given) `other`, a model of another
///   stage whose name is in `other_says`, are refused, naming what is wrong.
pub fn saved_model(binary: &str, model: &Path, test_accuracy: f64, other: Option<(&Path, &str)>) {
    let run = |args: &[&str]| Command::new(binary).args(args).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let model_path = model.to_str().unwrap();
    let program = Program {
        path: binary,
        quick: &[],
        diverge: &[],
    };

    let out = run(&["evaluate", "--model", model_path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    // evaluate measures the saved model on the same test set: the same accuracy.
    let said = format!("Test accuracy: {:.2}%", 100.0 * test_accuracy);
    assert!(report.contains(&said), "{report}");
    assert!(report.contains("true\\predicted"), "{report}");
    let recalls = report
        .lines()
        .filter(|l| l.trim_end().ends_with('%'))
        .count();
    assert_eq!(recalls, 10, "{report}");

    let out = run(&["predict", "--model", model_path, "--index", "0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let lines: Vec<&str> = shown.lines().collect();
    assert!(lines[..28].iter().all(|l| l.len() == 56), "{shown}");
    // Test image 0 is a 7.
    let verdict = "Test image 0: label 7, predicted";
    assert!(lines[28].starts_with(verdict), "{shown}");
    assert_eq!(lines[29..].len(), 3, "top 3: {shown}");

    // `--json`: the label and all ten probabilities, the top three as shown above.
    let out = run(&["predict", "--model", model_path, "--index", "0", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["index"].as_u64(), json["label"].as_u64()),
        (Some(0), Some(7))
    );
    let p: Vec<f64> = (json["probabilities"].as_array().unwrap().iter())
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(p.len(), 10);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{p:?}");
    let top = (0..10).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
    assert_eq!(
        lines[29],
        format!("  {top}: {:6.2}%", 100.0 * p[top]),
        "{shown}"
    );

    let stderr = program.fails(&["predict", "--model", model_path, "--index", "10000"]);
    assert_says(
        &stderr,
        "--index 10000 is out of range",
        "an index past the test set",
    );

    let dir = tempfile::tempdir().unwrap();
    // 24 digits (a small model gets far more than 24 wrong) in 6 columns of
    // 112 pixels, with captions; the gallery is checked before the model is read.
    let gallery = dir.path().join("wrong.png");
    let gallery_path = gallery.to_str().unwrap();
    let out = run(&["evaluate", "--model", model_path, "--gallery", gallery_path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Misclassified digits drawn to"));
    assert_eq!(png_size(&gallery), (756, 676));
    let stderr = program.fails(&[
        "evaluate",
        "--model",
        model_path,
        "--gallery",
        "/no/such/dir/g.png",
    ]);
    assert_says(
        &stderr,
        "--gallery /no/such/dir/g.png",
        "a gallery in a missing directory",
    );
    assert_says(
        &stderr,
        "does not exist",
        "a gallery in a missing directory",
    );
    let stderr = program.fails(&["evaluate", "--model", model_path, "--gallery", "g.jpg"]);
    assert_says(&stderr, ".png or .svg", "a gallery that is not a picture");

    let some = mnist::Dataset::from_parts(vec![0; mnist::IMAGE_SIZE], vec![1]);
    mnist::write_dir(dir.path(), &some, &some.first(0)).unwrap();
    let data = ["--data-dir", dir.path().to_str().unwrap()];
    for command in [&["predict", "--index", "0"][..], &["evaluate"][..]] {
        let args = [command, &["--model", model_path], &data[..]].concat();
        assert_says(
            &program.fails(&args),
            "holds no images",
            "an empty test set",
        );
    }

    let broken = dir.path().join("broken.safetensors");
    std::fs::write(&broken, b"not a model at all").unwrap();
    let stderr = program.fails(&["evaluate", "--model", broken.to_str().unwrap()]);
    assert_says(&stderr, "broken.safetensors", "a file that is not a model");
    assert_says(
        &stderr,
        "not a valid safetensors file",
        "a file that is not a model",
    );
    let missing = dir.path().join("missing.safetensors");
    let stderr = program.fails(&[
        "predict",
        "--model",
        missing.to_str().unwrap(),
        "--index",
        "3",
    ]);
    assert_says(&stderr, "missing.safetensors", "a missing model");
    assert_says(&stderr, "cannot read the model file", "a missing model");
    if let Some((other, says)) = other {
        let stderr = program.fails(&["evaluate", "--model", other.to_str().unwrap()]);
        assert_says(&stderr, says, "another stage's model");
    }
}

/// The width and height of the PNG file at `path`, from its header; panics
/// (failing the test) when the file is missing or not a PNG.
pub fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}

/// The numbers [`extreme_numbers`] gives every flag: the edges of the
/// integer types, past them, negative, huge and tiny floats, NaN and infinity.
pub const EXTREMES: [&str; 12] = [
    "0",
    "1",
    "-1",
    "0.5",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "1e308",
    "-1e308",
    "1e-320",
    "NaN",
    "inf",
];

/// The subcommands listed under `Commands:` in a `--help` text (not `help`).
fn subcommands(help: &str) -> Vec<String> {
    let listed = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1);
    let listed = listed.take_while(|l| l.starts_with("  "));
    let names = listed.filter_map(|l| l.split_whitespace().next());
    names.filter(|n| *n != "help").map(String::from).collect()
}

/// The flags of a `--help` text that take a value, but not files
/// (`<FILE>`, `<PATH>`, `<DIR>`): `--epochs <N>` gives `epochs`.
fn flags_with_values(help: &str) -> Vec<String> {
    let mut flags = Vec::new();
    for line in help.lines() {
        let Some(start) = line.find("--") else {
            continue;
        };
        if !line[..start].trim().trim_end_matches(',').starts_with('-')
            && !line[..start].trim().is_empty()
        {
            continue;
        }
        let mut words = line[start + 2..].split_whitespace();
        let (Some(flag), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let is_file = ["<FILE>", "<PATH>", "<DIR>"].contains(&value);
        if value.starts_with('<') && !is_file && !flags.iter().any(|f| f == flag) {
            flags.push(flag.to_string());
        }
    }
    flags
}

/// Gives every flag that takes a value, of `binary` and of each of its
/// subcommands, each of [`EXTREMES`], on a data set of 30 made-up images,
/// with the `short` flags (`[("--steps", "2")]`: a short run) where the
/// subcommand has them and they are not the flag tried, and panics (failing
/// the test) listing every case that panicked, died of a signal or ran past
/// `limit` seconds. A number must be refused by its flag's range with a
/// message, or run: never overflow, abort or hang. Files are never written
/// (file flags are left out) and nothing of the repository is read.
pub fn extreme_numbers(binary: &str, short: &[(&str, &str)], limit: u64) {
    use wait_timeout::ChildExt;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = mnist::Dataset::from_parts(
        (0..30 * mnist::IMAGE_SIZE)
            .map(|i| (i * 7 % 256) as u8)
            .collect(),
        (0..30).map(|i| (i % 10) as u8).collect(),
    );
    mnist::write_dir(dir.path(), &data, &data.first(10)).expect("a small data set");
    let data_dir = dir.path().to_str().expect("a UTF-8 temporary path");
    let help = |args: &[&str]| {
        let out = Command::new(binary).args(args).arg("--help").output();
        String::from_utf8_lossy(&out.expect("the binary runs").stdout).into_owned()
    };
    let mut commands = vec![None];
    commands.extend(subcommands(&help(&[])).into_iter().map(Some));
    let (mut cases, mut wrong) = (0, Vec::new());
    for command in &commands {
        let text = help(
            command
                .as_slice()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
        );
        let takes_data = text.contains("--data-dir");
        for flag in flags_with_values(&text).iter().filter(|f| *f != "data-dir") {
            for value in EXTREMES {
                let mut args: Vec<String> = command.iter().cloned().collect();
                args.push(format!("--{flag}={value}"));
                if takes_data {
                    args.extend(["--data-dir".into(), data_dir.into(), "--quiet".into()]);
                }
                for (other, n) in short {
                    let listed = text.contains(&format!("{other} <"));
                    if listed && other[2..] != *flag {
                        args.extend([other.to_string(), n.to_string()]);
                    }
                }
                cases += 1;
                let mut child = Command::new(binary)
                    .args(&args)
                    .current_dir(dir.path())
                    .env_remove("MNIST_DIR")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("the binary runs");
                let status = child
                    .wait_timeout(std::time::Duration::from_secs(limit))
                    .expect("waiting for the binary");
                let Some(status) = status else {
                    let _ = child.kill();
                    let _ = child.wait();
                    wrong.push(format!("{args:?}: still running after {limit} s"));
                    continue;
                };
                let mut stderr = String::new();
                use std::io::Read;
                let _ = child
                    .stderr
                    .take()
                    .map(|mut e| e.read_to_string(&mut stderr));
                let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                if stderr.contains("panicked") || !matches!(status.code(), Some(0..=2)) {
                    wrong.push(format!("{args:?}: {status}: {first}"));
                }
            }
        }
    }
    assert!(cases > 0, "{binary}: no flag takes a value?");
    assert!(
        wrong.is_empty(),
        "{} of {cases} extreme numbers were not handled:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Starts `binary` with `args` (a run of several seconds at least) and
/// `--save` into a temporary directory, stops it after two seconds with
/// `signal` (`"INT"`, as Ctrl-C sends, or `"TERM"`), and panics (failing the
/// test) unless it exits with status 130, saying it was interrupted, and
/// leaves no file behind: no model, no temporary file.
pub fn interrupted(binary: &str, args: &[&str], signal: &str) {
    use wait_timeout::ChildExt;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let model = dir.path().join("m.safetensors");
    let mut child = Command::new(binary)
        .args(args)
        .arg("--save")
        .arg(&model)
        .arg("--quiet")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -{signal}");
    let status = child
        .wait_timeout(std::time::Duration::from_secs(30))
        .expect("waiting")
        .expect("the run stops within 30 s of the signal");
    let mut stderr = String::new();
    use std::io::Read;
    let _ = child
        .stderr
        .take()
        .map(|mut e| e.read_to_string(&mut stderr));
    assert_eq!(status.code(), Some(130), "SIG{signal}: {status}; {stderr}");
    assert!(stderr.contains("interrupted"), "SIG{signal}: {stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "SIG{signal} left {left:?}");
}
