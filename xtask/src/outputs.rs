//! `cargo xtask book --refresh` and `--check-outputs`: the program outputs
//! the book shows, generated, and kept from going stale.
//!
//! Every program output a chapter shows is one of the [`RUNS`] below: the
//! command as a reader types it (dev profile, no `--release`), run from the
//! workspace root with stdout and stderr in one stream as a terminal shows
//! them, written to `book/src/generated/run-<name>.txt` with the command as
//! its first line. Chapters include those files. Times are the one thing a
//! run does not repeat, so every duration and rate is replaced by `…`
//! (the book's times come from the bench run, in the benchmarks chapter);
//! everything else is decided by the seed, so a fresh run must give the same
//! text. `--check-outputs` re-runs the runs marked `checked` (those quick
//! enough for CI) and fails, with a diff, when a file differs from a fresh
//! run; `--refresh` rewrites every file. The [`MODEL_RUN`] also writes the
//! file the book ships as it is ([`DEFAULT_MODEL`], the default stage 4 network,
//! for the draw-a-digit page): `--refresh` copies it into the book and
//! `--check-outputs` compares it byte for byte.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};
use regex::Regex;

use crate::workspace_root;

/// One program run whose output a chapter shows.
pub struct Run {
    /// `book/src/generated/run-<name>.txt`.
    pub name: &'static str,
    /// What follows `cargo run -q` (`-p ch4-numerical -- --steps 10`), as typed.
    pub args: &'static str,
    /// Re-run by `--check-outputs` (and so by CI); the long runs are only
    /// refreshed.
    pub checked: bool,
}

impl Run {
    /// [`Run::args`] word by word.
    pub fn words(&self) -> Vec<&'static str> {
        self.args.split_whitespace().collect()
    }
}

const fn run(name: &'static str, args: &'static str, checked: bool) -> Run {
    Run {
        name,
        args,
        checked,
    }
}

/// The runs, in the order of the book, one a line. A run that reads a saved
/// model comes after the run that saves it (at [`MODEL`]).
#[rustfmt::skip]
pub const RUNS: &[Run] = &[
    run("ch4-numerical", "-p ch4-numerical -- --plot book/src/img/ch4-numerical.png --plot-weights book/src/img/ch4-numerical-weights.png", true),
    run("ch4-numerical-gradient-field", "-p ch4-numerical -- gradient-field --plot book/src/img/ch4-gradient-field.png", true),
    run("ch4-two-layer", "-p ch4-two-layer -- --plot book/src/img/ch4-two-layer.png", true),
    run("ch4-two-layer-book-recipe", "-p ch4-two-layer -- --steps 2000 --eval-every 100", false),
    run("ch5-backprop", "-p ch5-backprop -- --plot book/src/img/ch5-backprop.png", true),
    run("ch5-backprop-xor", "-p ch5-backprop -- xor", true),
    run("ch5-apple-shopping", "-p ch5-backprop --example apple_shopping", true),
    run("ch6-mlp", "-p ch6-mlp -- --save target/xtask/model.safetensors --plot book/src/img/ch6-mlp.png --plot-weights book/src/img/ch6-mlp-weights.png", true),
    run("ch6-mlp-init-std", "-p ch6-mlp -- --init std --epochs 5", false),
    run("ch6-mlp-numpy-mlp", "-p ch6-mlp -- --preset numpy-mlp", false),
    run("ch6-mlp-keras", "-p ch6-mlp -- --preset keras", false),
    run("ch6-mlp-seeds-numpy-mlp", "--release -p ch6-mlp -- seeds --preset numpy-mlp --count 10", false),
    run("ch6-mlp-seeds-keras", "--release -p ch6-mlp -- seeds --preset keras --count 10", false),
    run("ch6-mlp-evaluate", "-p ch6-mlp -- evaluate --model target/xtask/model.safetensors --gallery book/src/img/ch6-mlp-gallery.png", true),
    run("ch6-mlp-predict", "-p ch6-mlp -- predict --index 340 --model target/xtask/model.safetensors", true),
    run("ch6-mlp-compare-init", "-p ch6-mlp -- compare-init --plot book/src/img/ch6-compare-init.png", true),
    run("ch6-mlp-compare-optimizers", "-p ch6-mlp -- compare-optimizers --plot book/src/img/ch6-compare-optimizers.png", true),
    run("ch6-mlp-optimizer-paths", "-p ch6-mlp -- optimizer-paths --plot book/src/img/ch6-optimizer-paths.png", true),
    run("ch6-mlp-activations", "-p ch6-mlp -- activations --plot book/src/img/ch6-activations.png", true),
    run("ch6-regularization", "-p ch6-regularization -- --plot book/src/img/ch6-regularization-overfit.png", true),
    run("ch6-regularization-batchnorm", "-p ch6-regularization -- batchnorm --plot book/src/img/ch6-regularization-batchnorm.png", false),
    run("ch6-regularization-search", "-p ch6-regularization -- search --plot book/src/img/ch6-regularization-search.png", false),
    run("ch6-regularization-seeds", "--release -p ch6-regularization -- seeds --count 10", false),
    run("ch6-mlp-seeds-60k", "--release -p ch6-mlp -- seeds --count 10", false),
    run("ch7-cnn", "-p ch7-cnn -- --plot book/src/img/ch7-cnn.png", true),
    run("ch7-cnn-std", "-p ch7-cnn -- --init std --epochs 1 --plot book/src/img/ch7-cnn-std.png", false),
    run("ch7-cnn-seeds", "--release -p ch7-cnn -- seeds --count 3 --epochs 10 --shift 2 --decay-epochs 3", false),
];

/// A duration, in whatever unit the program chose for it: `38.3 s`, `18.32 ms`, `3.0 min`.
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d[\d,]*(?:\.\d+)?(?:e-?\d+)? ?(?:s|ms|µs|ns|min|h)\b").unwrap()
});
/// A rate: `52.2 steps/s`.
static RATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d[\d,]*(?:\.\d+)? ?(steps/s|images/s)").unwrap());
/// A line of timings without units of their own.
static TIMING_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^(Seconds per epoch:).*$").unwrap());

/// `text` with every time replaced by `…`.
pub fn without_times(text: &str) -> String {
    let text = RATE.replace_all(text, "… $1");
    let text = DURATION.replace_all(&text, "…");
    TIMING_LINE.replace_all(&text, "$1 …").into_owned()
}

/// The command as the reader types it.
fn typed(run: &Run) -> String {
    format!("cargo run {}", run.args)
}

/// Runs `run` from `root` and returns its transcript: the command, then what
/// it printed (stdout and stderr in the order written), times left out.
fn transcript(run: &Run, root: &Path) -> Result<String> {
    std::fs::create_dir_all(root.join("target/xtask"))?;
    let log_path = root.join(format!("target/xtask/run-{}.log", run.name));
    let log = std::fs::File::create(&log_path)?;
    eprintln!("  {}", typed(run));
    if run.name == MODEL_RUN {
        // As in CI's clean checkout: a new file, not a replaced one.
        let _ = std::fs::remove_file(root.join(MODEL));
    }
    let status = crate::cargo()
        .args(["run", "-q", "--locked"])
        .args(run.words())
        .current_dir(root)
        .env_remove("MNIST_DIR")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("cannot run `{}`", typed(run)))?;
    let printed = std::fs::read_to_string(&log_path)?;
    if !status.success() {
        bail!("`{}` failed ({status}):\n{printed}", typed(run));
    }
    Ok(format!("$ {}\n{}", typed(run), without_times(&printed)))
}

/// `book/src/generated/run-<name>.txt` under `root`: the transcript a chapter includes.
pub fn generated(root: &Path, run: &Run) -> PathBuf {
    root.join(format!("book/src/generated/run-{}.txt", run.name))
}

/// The model the [`MODEL_RUN`] saves (`--save`) and the next runs read.
const MODEL: &str = "target/xtask/model.safetensors";

/// The run that saves [`MODEL`], whose bytes the book ships as
/// [`DEFAULT_MODEL`]: the network the draw-a-digit page runs (`cargo xtask
/// book` turns it into the page's script, see `draw.rs`). The run writes the
/// same bytes every time, so `--check-outputs` compares them byte for byte.
pub const MODEL_RUN: &str = "ch6-mlp";

/// The book's copy of the default stage 4 network.
pub const DEFAULT_MODEL: &str = "book/src/generated/ch6-mlp.safetensors";

/// `--refresh`: writes every run's transcript into `book/src/generated/`,
/// or only those of the runs named in `only`.
pub fn refresh(only: &[String]) -> Result<()> {
    let root = workspace_root();
    if let Some(unknown) = only.iter().find(|n| !RUNS.iter().any(|r| &r.name == n)) {
        let names: Vec<&str> = RUNS.iter().map(|r| r.name).collect();
        bail!(
            "--only {unknown}: no such run; the runs are {}",
            names.join(", ")
        );
    }
    let chosen = RUNS
        .iter()
        .filter(|r| only.is_empty() || only.iter().any(|n| n == r.name));
    let chosen: Vec<&Run> = chosen.collect();
    eprintln!("Running the {} programs the book shows ...", chosen.len());
    for run in chosen {
        std::fs::write(generated(&root, run), transcript(run, &root)?)?;
        if run.name == MODEL_RUN {
            std::fs::copy(root.join(MODEL), root.join(DEFAULT_MODEL))
                .with_context(|| format!("cannot copy {MODEL} to {DEFAULT_MODEL}"))?;
        }
    }
    Ok(())
}

/// `--check-outputs`: re-runs the checked runs and compares their
/// transcripts, and the files they write into the book (every argument under
/// `book/`, such as their pictures) byte for byte.
pub fn check() -> Result<()> {
    let root = workspace_root();
    let mut stale = Vec::new();
    eprintln!("Checking the book's program outputs against fresh runs ...");
    for run in RUNS.iter().filter(|r| r.checked) {
        let files = run.words().into_iter().filter(|a| a.starts_with("book/"));
        let before: Vec<_> = files
            .map(|f| (f, std::fs::read(root.join(f)).ok()))
            .collect();
        let fresh = transcript(run, &root)?;
        for (file, old) in before {
            if std::fs::read(root.join(file)).ok() != old {
                stale.push(format!("{file} differs from the file a fresh run wrote"));
            }
        }
        let path = generated(&root, run);
        let book = std::fs::read_to_string(&path).unwrap_or_default();
        if book != fresh {
            let shown = path.strip_prefix(&root).unwrap_or(&path).display();
            stale.push(format!(
                "{shown} differs from a fresh run:\n{}",
                diff(&book, &fresh)
            ));
        }
        if run.name == MODEL_RUN {
            let fresh = std::fs::read(root.join(MODEL))?;
            let book = std::fs::read(root.join(DEFAULT_MODEL)).unwrap_or_default();
            if book != fresh {
                let (b, f) = (book.len(), fresh.len());
                stale.push(format!(
                    "{DEFAULT_MODEL} differs from the file a fresh run writes ({b} bytes in the book, {f} fresh)"
                ));
            }
        }
    }
    if !stale.is_empty() {
        bail!(
            "the book's program outputs are stale; run `cargo xtask book --refresh`:\n{}",
            stale.join("\n")
        );
    }
    eprintln!("Every checked program output matches a fresh run.");
    Ok(())
}

/// The lines that differ, `-` in the book and `+` in the fresh run.
fn diff(book: &str, fresh: &str) -> String {
    let diff = similar::TextDiff::from_lines(book, fresh);
    let changed = diff
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal);
    let line =
        |c: similar::Change<&str>| format!("  {} {}", c.tag(), c.value().trim_end_matches('\n'));
    changed.map(line).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_rates_are_left_out_and_nothing_else() {
        let printed = "step    100/2000  loss 0.5884  train 88.57%  test 89.08%  (2.0 s)\n\
            Training: 2,000 steps of batch 100 in 38.3 s (52.2 steps/s), mean loss of the last 100 steps 0.2875\n\
            Time per fast numerical gradient: 18.32 ms (batch 100)\n\
            Seconds per epoch: 0.533 mean, 0.499 fastest (1 thread at most)\n\
            seed    42: test 98.14%  (13.3 s of training)\n\
            a naive gradient is 3.0 min of forward passes\n";
        let expected = "step    100/2000  loss 0.5884  train 88.57%  test 89.08%  (…)\n\
            Training: 2,000 steps of batch 100 in … (… steps/s), mean loss of the last 100 steps 0.2875\n\
            Time per fast numerical gradient: … (batch 100)\n\
            Seconds per epoch: …\n\
            seed    42: test 98.14%  (… of training)\n\
            a naive gradient is … of forward passes\n";
        assert_eq!(without_times(printed), expected);
    }

    #[test]
    fn a_stale_line_is_shown_both_ways() {
        let d = diff("a\nloss 0.0512\nc", "a\nloss 0.0613\nc");
        assert_eq!(d, "  - loss 0.0512\n  + loss 0.0613");
        // A line more: only that line, not every line after it.
        assert_eq!(diff("a\nb\nc\n", "a\nnew\nb\nc\n"), "  + new");
    }

    /// The real book: every run's transcript is there, every transcript has
    /// its run, and the shipped model is there and written by its run.
    #[test]
    fn every_run_has_its_file_and_every_file_its_run() {
        let root = workspace_root();
        for run in RUNS {
            assert!(generated(&root, run).is_file(), "{} is missing", run.name);
        }
        for entry in std::fs::read_dir(root.join("book/src/generated")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let run = name
                .strip_prefix("run-")
                .and_then(|n| n.strip_suffix(".txt"));
            if let Some(run) = run {
                assert!(
                    RUNS.iter().any(|r| r.name == run),
                    "{name}: no run makes it"
                );
            }
        }
        let run = RUNS.iter().find(|r| r.name == MODEL_RUN).unwrap();
        let saves = run.words().windows(2).any(|w| w == ["--save", MODEL]);
        assert!(saves, "{} does not write {MODEL}", run.name);
        let shipped = root.join(DEFAULT_MODEL).is_file();
        assert!(shipped, "{DEFAULT_MODEL} is missing");
    }
}
