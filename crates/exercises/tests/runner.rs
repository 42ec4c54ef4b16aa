//! The exercise runner as a child process, the way `cargo xtask exercise`
//! runs it: on the stubs every exercise is "not started", an unknown name
//! is a clear error, a bad flag too. (Right, wrong, panicking and endless
//! answers are tested on the checks themselves, in `crates/exercise-checks`.)
//!
//! An exercise whose file the learner has changed (it differs from its stub
//! in `stubs/`) is left out of the "not started" assertions: these tests
//! must stay green while the learner works. On a clean checkout (CI) every
//! file is its stub and every exercise is asserted.

use std::path::Path;
use std::process::Command;

use exercise_checks::EXERCISES;

fn runner(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_exercises"))
        .args(args)
        .output()
        .expect("the runner starts");
    (
        out.status.code().expect("an exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether the learner's file of `file` is still its stub.
fn untouched(file: &str) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |dir: &str| std::fs::read(root.join(dir).join(file)).ok();
    read("src") == read("stubs")
}

#[test]
fn on_the_stubs_every_exercise_is_not_started() {
    let (code, out, _) = runner(&[]);
    assert_eq!(code, 1, "not all passing: {out}");
    for e in EXERCISES.iter().filter(|e| untouched(e.file)) {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(e.name))
            .unwrap_or_else(|| panic!("{} missing from the list:\n{out}", e.name));
        assert!(line.ends_with("not started"), "{line}");
    }
}

#[test]
fn one_stub_says_where_its_todo_is() {
    let e = exercise_checks::exercise("affine_backward").expect("an exercise");
    if !untouched(e.file) {
        eprintln!("skipped: {} has been changed by the learner", e.file);
        return;
    }
    let (code, out, _) = runner(&["affine_backward", "--time-limit", "10"]);
    assert_eq!(code, 1);
    assert!(out.contains("Not started: the checks reached a todo!() at crates/exercises/src/stage3/affine_backward.rs:"), "{out}");
}

#[test]
fn bad_names_and_flags_are_clear_errors() {
    let (code, _, err) = runner(&["affine_backwards"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no exercise is called \"affine_backwards\"")
            && err.contains("affine_backward,"),
        "{err}"
    );
    for limit in ["-1", "0", "1e300", "inf", "NaN"] {
        let (code, _, err) = runner(&["softmax", "--time-limit", limit]);
        assert_eq!(code, 2, "--time-limit {limit}: {err}");
        assert!(
            err.contains("--time-limit: expected a number of seconds above 0 and at most 3600"),
            "{err}"
        );
    }
    let (code, _, err) = runner(&["--colour"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown flag"), "{err}");
}
