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
//! Each exercise runs under `exercise_checks::guard::run`: a `todo!()` is
//! "not started", a panic is shown with its message and place, and a check
//! that does not finish within the time limit (5 s unless told) is stopped.
//! The exit code is 0 when the exercise (or, listing, every check run) passed.

use std::process::ExitCode;
use std::time::Duration;

use exercise_checks::guard::{self, Outcome};
use exercise_checks::{EXERCISES, Exercise};

fn main() -> ExitCode {
    match parse(std::env::args().skip(1).collect()) {
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

/// Runs one exercise's checks on the learner's code.
fn run(exercise: &Exercise, limit: Duration) -> Outcome {
    let checks =
        exercises::checks(exercise.name).expect("every exercise has checks (a test says so)");
    guard::run(checks, limit)
}

fn one(exercise: &Exercise, limit: Duration) -> ExitCode {
    println!(
        "Exercise {} (stage {}): {}\nYour code: crates/exercises/src/{}\n",
        exercise.name, exercise.stage, exercise.task, exercise.file
    );
    let outcome = run(exercise, limit);
    println!("{}", outcome.explain());
    match outcome {
        Outcome::Ran(report) if report.passed() => {
            println!(
                "\nWell done. Compare with the course's own: {}",
                exercise.solution
            );
            ExitCode::SUCCESS
        }
        Outcome::Ran(_) => {
            println!("\nStuck? The course's own answer: {}", exercise.solution);
            ExitCode::FAILURE
        }
        Outcome::TimedOut(_) => {
            // The check's thread cannot be stopped; ending the process does.
            std::process::exit(1)
        }
        _ => ExitCode::FAILURE,
    }
}

fn list(limit: Duration) -> ExitCode {
    println!("stage  {:<28}  state", "exercise");
    let mut states = Vec::new();
    for exercise in EXERCISES {
        let state = run(exercise, limit).state();
        println!("{:<5}  {:<28}  {state}", exercise.stage, exercise.name);
        states.push(state);
    }
    let count = |s: &str| states.iter().filter(|&&t| t == s).count();
    let passing = count("passing");
    println!(
        "\n{passing} of {} passing, {} not started. Check one with: cargo xtask exercise NAME",
        states.len(),
        count("not started")
    );
    // A timed-out check's thread may still run: end the process, don't wait for it.
    std::process::exit(if passing == states.len() { 0 } else { 1 })
}
