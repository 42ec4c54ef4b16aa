//! # Running the learner's code safely
//!
//! Part of the exercise checks (see the crate root). The learner's code may
//! be unfinished (`todo!()`), may panic (an index out of bounds, a shape
//! mismatch inside nalgebra) or may never return. [`run`] runs one check on
//! its own thread, catches the panic with its message and place, waits at
//! most a time limit, and says which of these happened as an [`Outcome`].

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Once, mpsc};
use std::time::Duration;

use crate::Report;

/// What running one exercise's checks came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The checks ran: passed or failed, see the report.
    Ran(Report),
    /// A `todo!()` was reached: the exercise is not written yet (or not all of it).
    NotStarted { location: String },
    /// The learner's code panicked.
    Panicked { message: String, location: String },
    /// It did not finish within the time limit.
    TimedOut(Duration),
}

impl Outcome {
    /// The one-word state shown in the list of exercises.
    pub fn state(&self) -> &'static str {
        match self {
            Outcome::Ran(report) if report.passed() => "passing",
            Outcome::Ran(_) => "failing",
            Outcome::NotStarted { .. } => "not started",
            Outcome::Panicked { .. } => "panics",
            Outcome::TimedOut(_) => "too slow",
        }
    }

    /// What happened, in plain words, for the learner.
    pub fn explain(&self) -> String {
        match self {
            Outcome::Ran(report) if report.passed() => format!("{report}All checks passed."),
            Outcome::Ran(report) => {
                let failed = report.checks.iter().filter(|c| c.failure.is_some()).count();
                format!("{report}{failed} of {} checks failed.", report.checks.len())
            }
            Outcome::NotStarted { location } => format!(
                "Not started: the checks reached a todo!() at {location}.\n\
                 Replace it with your code, then run this again."
            ),
            Outcome::Panicked { message, location } => {
                format!("Your code panicked at {location}:\n  {message}")
            }
            Outcome::TimedOut(limit) => format!(
                "Time limit hit: the checks did not finish within {} s \
                 (they take milliseconds on a right answer). An endless loop?",
                limit.as_secs_f64()
            ),
        }
    }
}

thread_local! {
    /// The message and place of the last panic on this thread, kept by the hook.
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
    /// Whether this thread runs a guarded check (its panics are ours to report).
    static GUARDED: RefCell<bool> = const { RefCell::new(false) };
}

/// Installs, once, a panic hook that keeps a guarded thread's panic (message
/// and `file:line`) for [`run`] instead of printing it; other threads'
/// panics go to the previous hook as before.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(|g| *g.borrow()) {
                return previous(info);
            }
            let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
                s.to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "(a panic without a message)".to_string()
            };
            let location = info.location().map_or("an unknown place".to_string(), |l| {
                format!("{}:{}:{}", l.file(), l.line(), l.column())
            });
            // A panic kept and not yet reported means this one comes while
            // unwinding from it (in a Drop?): the process aborts right after
            // this hook, so say both now.
            if let Some((first, at)) = LAST_PANIC.with(|p| p.borrow().clone()) {
                eprintln!("Your code panicked at {at}:\n  {first}");
                eprintln!(
                    "...and panicked again while unwinding from it (in a Drop?) at {location}:\n  \
                     {message}\nA panic during a panic aborts the whole process."
                );
            }
            LAST_PANIC.with(|p| *p.borrow_mut() = Some((message, location)));
        }));
    });
}

/// Runs `checks` on a thread of its own and waits at most `limit`.
///
/// A thread that runs over the limit cannot be stopped from outside; it is
/// left running, so the program should exit soon after a [`Outcome::TimedOut`].
pub fn run(checks: impl FnOnce() -> Report + Send + 'static, limit: Duration) -> Outcome {
    install_hook();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        GUARDED.with(|g| *g.borrow_mut() = true);
        let outcome = match panic::catch_unwind(AssertUnwindSafe(checks)) {
            Ok(report) => Outcome::Ran(report),
            Err(_) => {
                let (message, location) = LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| ("(unknown)".into(), "an unknown place".into()));
                if message.starts_with("not yet implemented") {
                    Outcome::NotStarted { location }
                } else {
                    Outcome::Panicked { message, location }
                }
            }
        };
        // The receiver is gone only if the time limit was hit first.
        let _ = send.send(outcome);
    });
    receive
        .recv_timeout(limit)
        .unwrap_or(Outcome::TimedOut(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(5);

    #[test]
    fn a_todo_is_not_started() {
        let outcome = run(|| todo!(), LIMIT);
        assert_eq!(outcome.state(), "not started");
        let Outcome::NotStarted { location } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(location.contains("guard.rs"), "{location}");
    }

    #[test]
    fn a_panic_is_reported_with_its_message_and_place() {
        let outcome = run(
            || {
                let v: Vec<f64> = Vec::new();
                let i = v.len() + 3;
                let _ = v[i];
                Report::new()
            },
            LIMIT,
        );
        let Outcome::Panicked { message, location } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(message.contains("index out of bounds"), "{message}");
        assert!(location.contains("guard.rs"), "{location}");
        assert!(outcome.explain().contains("panicked at"));
    }

    #[test]
    fn an_endless_loop_hits_the_time_limit() {
        let limit = Duration::from_millis(200);
        let outcome = run(
            || loop {
                // Endless, but asleep: the abandoned thread costs no CPU.
                std::thread::sleep(Duration::from_millis(20));
            },
            limit,
        );
        assert_eq!(outcome, Outcome::TimedOut(limit));
        assert!(outcome.explain().contains("Time limit hit"));
    }

    /// Run only by the test below, in a process of its own: it aborts.
    #[test]
    #[ignore = "aborts its process; run by a_panic_while_panicking_says_both"]
    fn panic_while_panicking() {
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("second, from a Drop");
            }
        }
        run(
            || {
                let _guard = PanicsOnDrop;
                panic!("first, from the check");
            },
            LIMIT,
        );
    }

    #[test]
    fn a_panic_while_panicking_says_both_before_the_abort() {
        let me = std::env::current_exe().unwrap();
        let out = std::process::Command::new(me)
            .args([
                "--ignored",
                "--exact",
                "guard::tests::panic_while_panicking",
                "--nocapture",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "it aborts: {stderr}");
        assert!(stderr.contains("first, from the check"), "{stderr}");
        assert!(
            stderr.contains("second, from a Drop") && stderr.contains("in a Drop?"),
            "{stderr}"
        );
    }

    #[test]
    fn a_report_comes_back_with_its_state() {
        let outcome = run(
            || {
                let mut report = Report::new();
                report.check("one", Ok(()));
                report
            },
            LIMIT,
        );
        assert_eq!(outcome.state(), "passing");
        let outcome = run(
            || {
                let mut report = Report::new();
                report.check("one", Err("a hint".into()));
                report
            },
            LIMIT,
        );
        assert_eq!(outcome.state(), "failing");
        assert!(outcome.explain().contains("a hint"));
    }
}
