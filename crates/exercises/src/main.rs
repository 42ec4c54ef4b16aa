//! # The exercise runner
//!
//! `cargo xtask exercise` builds and runs this program as a child process
//! (so that a compile error, a panic or an endless loop in the learner's
//! code is reported, not suffered). It links the learner's code
//! (`crates/exercises/src/`) and the checks (`crates/exercise-checks`):
//!
//! ```text
//! exercises [--time-limit SECONDS]        list every exercise with its state
//! exercises NAME [--time-limit SECONDS]   run one exercise's checks and explain
//! ```
//!
//! Each exercise runs in a child process of its own, this program again
//! (`exercise_checks::judge`): the learner's code cannot end, hang or fake
//! the verdict, which the child writes to a file only this parent reads.
//! In the child, each exercise runs under `exercise_checks::guard::run`: a
//! `todo!()` is "not started", a panic is shown with its message and place,
//! and a check that does not finish within the time limit (5 s unless told)
//! is stopped. The exit code is 0 when the exercise (or, listing, every
//! exercise) passed.

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use exercise_checks::guard;
use exercise_checks::judge::{self, Judged};
use exercise_checks::{EXERCISES, Exercise};

/// Time a child gets beyond the checks' own limit: to start, and to print.
const MARGIN: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let child = std::env::var_os(judge::VERDICT_FILE).is_some();
    match parse(std::env::args().skip(1).collect()) {
        Ok((Some(exercise), limit)) if child => check_here(exercise, limit),
        Ok((None, limit)) => list(limit),
        Ok((Some(exercise), limit)) => one(exercise, limit),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// `[NAME] [--time-limit SECONDS]`.
fn parse(args: Vec<String>) -> Result<(Option<&'static Exercise>, Duration), String> {
    let mut name = None;
    let mut limit = Duration::from_secs(5);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--time-limit" {
            let value = args
                .next()
                .ok_or("--time-limit needs a number of seconds")?;
            limit = value
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0 && *s <= 3600.0)
                .map(Duration::from_secs_f64)
                .ok_or(format!(
                    "--time-limit: expected a number of seconds above 0 and at most 3600, got {value:?}"
                ))?;
        } else if arg.starts_with('-') {
            return Err(format!(
                "unknown flag {arg:?}; usage: exercises [NAME] [--time-limit SECONDS]"
            ));
        } else if name.is_some() {
            return Err(format!(
                "one exercise at a time (got a second name, {arg:?})"
            ));
        } else {
            name = Some(exercise_checks::exercise(&arg).ok_or_else(|| {
                let names: Vec<&str> = EXERCISES.iter().map(|e| e.name).collect();
                format!(
                    "no exercise is called {arg:?}; the exercises are: {}",
                    names.join(", ")
                )
            })?);
        }
    }
    Ok((name, limit))
}

/// In the child: runs one exercise's checks on the learner's code, explains
/// the outcome, and writes its state for the parent.
fn check_here(exercise: &Exercise, limit: Duration) -> ExitCode {
    let checks =
        exercises::checks(exercise.name).expect("every exercise has checks (a test says so)");
    let outcome = guard::run(checks, limit);
    println!("{}", outcome.explain());
    let _ = std::io::stdout().flush();
    if let Err(e) = judge::write_verdict(outcome.state()) {
        eprintln!("error: cannot write the verdict: {e}");
    }
    // A timed-out check's thread cannot be stopped; ending the process does.
    std::process::exit(0)
}

/// Judges `exercise` in a child process (this program again), its output
/// shown (`shown`) or not.
fn judged(exercise: &Exercise, limit: Duration, shown: bool) -> Judged {
    let me = std::env::current_exe().expect("the runner knows where it is");
    let mut command = Command::new(me);
    command
        .arg(exercise.name)
        .args(["--time-limit", &limit.as_secs_f64().to_string()]);
    if !shown {
        command.stdout(Stdio::null()).stderr(Stdio::null());
    }
    judge::judge(command, limit + MARGIN).unwrap_or_else(|e| Judged::NoVerdict {
        code: None,
        status: format!("it could not start: {e}"),
    })
}

fn one(exercise: &Exercise, limit: Duration) -> ExitCode {
    println!(
        "Exercise {} (stage {}): {}\nYour code: crates/exercises/src/{}\n",
        exercise.name, exercise.stage, exercise.task, exercise.file
    );
    let judged = judged(exercise, limit, true);
    if let Some(why) = judged.explain() {
        println!("{why}");
    }
    match judged.state() {
        "passing" => {
            println!(
                "\nWell done. Compare with the course's own: {}",
                exercise.solution
            );
            ExitCode::SUCCESS
        }
        "failing" => {
            println!("\nStuck? The course's own answer: {}", exercise.solution);
            ExitCode::FAILURE
        }
        _ => ExitCode::FAILURE,
    }
}

fn list(limit: Duration) -> ExitCode {
    println!("stage  {:<28}  state", "exercise");
    let mut states = Vec::new();
    for exercise in EXERCISES {
        let state = judged(exercise, limit, false).state().to_string();
        println!("{:<5}  {:<28}  {state}", exercise.stage, exercise.name);
        states.push(state);
    }
    let count = |s: &str| states.iter().filter(|t| *t == s).count();
    let passing = count("passing");
    println!(
        "\n{passing} of {} passing, {} not started. Check one with: cargo xtask exercise NAME",
        states.len(),
        count("not started")
    );
    if passing == states.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
