//! What every stage's program must do with bad input, as one set of checks
//! that each stage's `tests/cli.rs` runs against its own binary: empty data,
//! unsafe output paths, sizes past memory, negative counts, a training run
//! that blows up, and errors printed without a backtrace. A new stage gets
//! them all by calling [`bad_input`].

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
