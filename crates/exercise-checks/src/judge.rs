//! # The verdict, from a process the learner's code does not run in
//!
//! Part of the exercise checks (see the crate root). [`crate::guard`] runs
//! the learner's code and says what happened, but it runs in the same
//! process as that code, and the learner's code can end that process
//! (`std::process::exit(0)`), print what looks like a verdict ("All checks
//! passed."), hold `stdout`'s lock forever, or start processes of its own.
//! So the exercise runner judges from outside: it runs each exercise in a
//! child process of its own ([`judge`]), which writes its one-word state to
//! a file the parent named ([`write_verdict`]). The parent reads only that
//! file: anything else (no file, a signal, the time limit) is a failure it
//! names itself. When the child ends or is stopped, its whole process group
//! is killed, so nothing the learner's code started outlives the check.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The environment variable that names the verdict file to a child.
pub const VERDICT_FILE: &str = "EXERCISE_VERDICT_FILE";

/// The states a child may write, as [`crate::guard::Outcome::state`] words them.
pub const STATES: [&str; 5] = ["passing", "failing", "not started", "panics", "too slow"];

/// What judging one exercise came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judged {
    /// The checks finished and wrote their state (one of [`STATES`]).
    Verdict(String),
    /// The child ended without writing a state: the learner's code ended
    /// the process (exit code given), or a signal did (`code` is `None`).
    NoVerdict { code: Option<i32>, status: String },
    /// The child did not end within the time limit; its process group was killed.
    TimedOut(Duration),
}

impl Judged {
    /// The one-word state for the list of exercises.
    pub fn state(&self) -> &str {
        match self {
            Judged::Verdict(state) => state,
            Judged::NoVerdict { .. } => "crashed",
            Judged::TimedOut(_) => "too slow",
        }
    }

    /// Whether the exercise passed: only a written "passing" says so.
    pub fn passed(&self) -> bool {
        *self == Judged::Verdict("passing".into())
    }

    /// What happened, in plain words, when there is no verdict to show.
    pub fn explain(&self) -> Option<String> {
        match self {
            Judged::Verdict(_) => None,
            Judged::NoVerdict {
                code: Some(code), ..
            } => Some(format!(
                "No verdict: the checks' process ended (exit code {code}) before the checks \
                 finished. Does your code call std::process::exit? Return a value instead."
            )),
            Judged::NoVerdict { status, .. } => Some(format!(
                "No verdict: the checks' process was stopped ({status}): a stack overflow \
                 (endless recursion?), an abort (a panic inside a Drop while panicking?) or a \
                 signal. Its last words are above."
            )),
            Judged::TimedOut(limit) => Some(format!(
                "Time limit hit: the checks did not finish within {} s (they take \
                 milliseconds on a right answer). An endless loop, or a lock never released?",
                limit.as_secs_f64()
            )),
        }
    }
}

/// Runs `command` (the runner itself, told which exercise to check) as a
/// child in a process group of its own, with [`VERDICT_FILE`] naming a fresh
/// file; waits at most `limit`; kills the group; and reads the verdict.
pub fn judge(mut command: Command, limit: Duration) -> std::io::Result<Judged> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("verdict");
    command.env(VERDICT_FILE, &file).stdin(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn()?;
    let status = wait_timeout::ChildExt::wait_timeout(&mut child, limit)?;
    kill_group(&mut child);
    let Some(status) = status else {
        return Ok(Judged::TimedOut(limit));
    };
    Ok(match read_verdict(&file) {
        Some(state) => Judged::Verdict(state),
        None => Judged::NoVerdict {
            code: status.code(),
            status: status.to_string(),
        },
    })
}

/// Kills `child`'s process group (what the learner's code may have started
/// included), then the child itself, and reaps it.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Ok(group) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group;
        // it reads no memory of ours.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The state in `file`, if it holds one of [`STATES`].
fn read_verdict(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let state = text.trim();
    STATES.contains(&state).then(|| state.to_string())
}

/// The child's side: writes `state` to the file [`VERDICT_FILE`] names (if
/// it names one), whole or not at all (written aside, then renamed).
pub fn write_verdict(state: &str) -> std::io::Result<()> {
    match std::env::var_os(VERDICT_FILE) {
        Some(file) => write_verdict_to(Path::new(&file), state),
        None => Ok(()),
    }
}

fn write_verdict_to(file: &Path, state: &str) -> std::io::Result<()> {
    let aside = file.with_extension("partial");
    std::fs::write(&aside, state)?;
    std::fs::rename(aside, file)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A child that runs `script` in `sh`, as the runner would run an exercise.
    fn child(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]).stdout(Stdio::null());
        command
    }

    const LIMIT: Duration = Duration::from_secs(5);

    #[test]
    fn only_the_written_state_is_the_verdict() {
        let judged = judge(child("printf passing > \"$EXERCISE_VERDICT_FILE\""), LIMIT).unwrap();
        assert!(judged.passed(), "{judged:?}");
        let judged = judge(child("printf failing > \"$EXERCISE_VERDICT_FILE\""), LIMIT).unwrap();
        assert_eq!(judged.state(), "failing");
        assert!(!judged.passed());
    }

    #[test]
    fn an_exit_0_or_a_printed_pass_is_no_verdict() {
        let judged = judge(child("echo 'All checks passed.'; exit 0"), LIMIT).unwrap();
        assert_eq!(
            judged,
            Judged::NoVerdict {
                code: Some(0),
                status: "exit status: 0".into()
            }
        );
        assert!(!judged.passed());
        assert!(judged.explain().unwrap().contains("std::process::exit"));
        // Anything but a state is no verdict either.
        let judged = judge(
            child("printf 'passing!' > \"$EXERCISE_VERDICT_FILE\""),
            LIMIT,
        )
        .unwrap();
        assert_eq!(judged.state(), "crashed");
    }

    #[test]
    fn a_signal_is_no_verdict_and_says_so() {
        let judged = judge(child("kill -ABRT $$"), LIMIT).unwrap();
        let Judged::NoVerdict { code: None, status } = &judged else {
            panic!("{judged:?}")
        };
        assert!(status.contains("signal"), "{status}");
        assert!(judged.explain().unwrap().contains("abort"));
    }

    #[test]
    fn a_hang_hits_the_time_limit_and_what_it_started_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // The "learner's code" starts a process of its own, then hangs.
        let script = format!("sleep 300 & echo $! > {}; sleep 300", pid_file.display());
        let limit = Duration::from_millis(500);
        let started = std::time::Instant::now();
        let judged = judge(child(&script), limit).unwrap();
        assert_eq!(judged, Judged::TimedOut(limit));
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let alive = Path::new("/proc").join(pid.trim()).join("stat");
        // Killed and reaped by init, or at worst a zombie ("Z") for a moment.
        std::thread::sleep(Duration::from_millis(200));
        let stat = std::fs::read_to_string(&alive).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z"),
            "still running: {stat}"
        );
    }

    #[test]
    fn a_verdict_is_written_whole_where_the_parent_said() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("verdict");
        write_verdict_to(&file, "not started").unwrap();
        assert_eq!(read_verdict(&file).as_deref(), Some("not started"));
    }
}
