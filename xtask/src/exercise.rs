//! `cargo xtask exercise [NAME] [--reset | --watch]`: the learner's exercises.
//!
//! The exercises live in `crates/exercises` (the learner's files in `src/`,
//! the pristine stubs in `stubs/`), their checks in `crates/exercise-checks`.
//! This command only drives cargo: it builds the exercise runner, showing
//! the compiler's own message when the learner's code does not compile, and
//! runs it as a child process with a time limit, so that nothing the
//! learner writes can crash or hang the command. `--reset` copies an
//! exercise's stub back over the learner's file, keeping a copy of it.
//! `--watch` checks the exercise again each time its file changes
//! ([`changed`] polls its modification time twice a second), until Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use wait_timeout::ChildExt;

use crate::bench::stages;
use crate::cargo;

/// `cargo xtask exercise` flags.
#[derive(clap::Args)]
pub struct ExerciseArgs {
    /// The exercise to check, such as affine_backward; without a name, every exercise and its state
    name: Option<String>,
    /// Put the exercise's file back to its stub (your version is kept in target/exercises-backup/)
    #[arg(long, requires = "name")]
    reset: bool,
    /// Check the exercise again each time you save its file, until Ctrl-C
    #[arg(long, requires = "name", conflicts_with = "reset")]
    watch: bool,
    /// Stop an exercise's checks after this many seconds, at most 3600 (a right answer takes milliseconds)
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = seconds)]
    time_limit: f64,
}

/// A time limit: more than 0 and at most an hour of seconds.
fn seconds(s: &str) -> Result<f64, String> {
    let seconds = s.parse::<f64>().ok().filter(|v| *v > 0.0 && *v <= 3600.0);
    seconds.ok_or(format!(
        "expected a number of seconds above 0 and at most 3600, got {s:?}"
    ))
}

pub fn run(args: &ExerciseArgs) -> Result<()> {
    let (root, (target, _)) = (crate::workspace_root(), stages()?);
    let exercises = root.join("crates/exercises");
    if let Some(name) = args.name.as_deref().filter(|_| args.reset || args.watch) {
        if args.reset {
            return reset(&exercises, &target, name);
        }
        let (_, file) = files(&exercises, name)?;
        return watch(&root, &target, name, &file, args.time_limit);
    }
    let code = check(&root, &target, args.name.as_deref(), args.time_limit)?;
    if code != 0 {
        // The runner has explained; pass its verdict on as the exit status.
        std::process::exit(code);
    }
    Ok(())
}

/// The longest the exercises' build may take (a first build of every stage
/// takes a few minutes on a slow machine).
const BUILD_LIMIT: Duration = Duration::from_secs(900);

/// Builds the runner and runs it on exercise `name` (every exercise when
/// `None`); the runner's exit code (0: passed).
fn check(root: &Path, target: &Path, name: Option<&str>, time_limit: f64) -> Result<i32> {
    let mut command = Command::new(build(root, target)?);
    command.current_dir(root).args(name);
    command.args(["--time-limit", &time_limit.to_string()]);
    // The runner judges each exercise in a child of its own, stopped at the
    // time limit and 5 s more; this outer limit is for the case it cannot.
    let exercises = if name.is_some() { 1.0 } else { 40.0 }; // 21 exercises, and room for more
    let limit = Duration::from_secs_f64((time_limit + 10.0) * exercises + 30.0);
    let mut child = command
        .stdin(Stdio::null())
        .spawn()
        .context("cannot start the exercise runner")?;
    let Some(status) = child.wait_timeout(limit)? else {
        let _ = child.kill();
        let _ = child.wait();
        let limit = limit.as_secs();
        bail!("time limit hit: the exercise runner did not finish within {limit} s");
    };
    status.code().with_context(|| {
        format!(
            "the checks crashed ({status}) rather than panicking: a stack overflow \
             (endless recursion?) or an abort in your code; the runner's last words are above"
        )
    })
}

/// Checks exercise `name` now and again after every change of its `file`, until Ctrl-C.
fn watch(root: &Path, target: &Path, name: &str, file: &Path, time_limit: f64) -> Result<()> {
    let mut seen = None;
    changed(file, &mut seen);
    loop {
        let now = clock(SystemTime::now());
        println!("\n──────── {name}, checked at {now} UTC ────────");
        // The runner explains a failing check itself; an error here (the code
        // does not compile, the runner was stopped) is said, and the next save tries again.
        if let Err(e) = check(root, target, Some(name), time_limit) {
            println!("{e:#}");
        }
        let file_shown = file.display();
        println!("\nWatching {file_shown} for changes: save it to check again; Ctrl-C to stop.");
        while !changed(file, &mut seen) {
            std::thread::sleep(Duration::from_millis(500));
        }
        // An editor may write a file in several steps: let it finish.
        std::thread::sleep(Duration::from_millis(100));
        changed(file, &mut seen);
    }
}

/// Whether `file` was changed (its modification time or length) since `seen`,
/// which is then its present state. A file that is missing for a moment (an
/// editor that saves by renaming) is not a change; its return is.
fn changed(file: &Path, seen: &mut Option<(SystemTime, u64)>) -> bool {
    let meta = std::fs::metadata(file).ok();
    let now = meta.and_then(|m| Some((m.modified().ok()?, m.len())));
    let changed = now.is_some() && now != *seen;
    if changed {
        *seen = now;
    }
    changed
}

/// `HH:MM:SS` of `time` in UTC (std has no time zones).
fn clock(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()[11..19].to_string()
}

/// Builds the exercise runner and returns its path, or fails with cargo's
/// own message when the learner's code does not compile.
fn build(root: &Path, target: &Path) -> Result<PathBuf> {
    eprintln!("Compiling your exercises (cargo build -p exercises)...");
    let mut cmd = cargo();
    cmd.args(["build", "--package", "exercises", "--bin", "exercises"])
        .current_dir(root);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run `cargo build`")?;
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut said = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut said);
        said
    });
    let Some(status) = child.wait_timeout(BUILD_LIMIT)? else {
        let _ = child.kill();
        let _ = child.wait();
        bail!(
            "the build did not finish within {} s: does your code make the compiler loop \
             (a recursive const or generic)?",
            BUILD_LIMIT.as_secs()
        );
    };
    let said = reader.join().unwrap_or_default();
    if !status.success() {
        let progress = |l: &&str| {
            ["Compiling ", "Blocking "]
                .iter()
                .any(|p| l.trim_start().starts_with(p))
        };
        let said: Vec<&str> = said.lines().filter(|l| !progress(l)).collect();
        println!(
            "Your code does not compile yet. The compiler says:\n\n{}",
            said.join("\n")
        );
        bail!("the exercises do not compile: fix the first error above, then run this again");
    }
    let runner = target.join(format!("debug/exercises{}", std::env::consts::EXE_SUFFIX));
    if !runner.is_file() {
        bail!(
            "cargo built the exercises, but {} is not there",
            runner.display()
        );
    }
    Ok(runner)
}

/// The stub of exercise `name` (`exercises/stubs/stageN/NAME.rs`) and the
/// learner's file it is the stub of (`exercises/src/stageN/NAME.rs`).
fn files(exercises: &Path, name: &str) -> Result<(PathBuf, PathBuf)> {
    let stubs = exercises.join("stubs");
    let stages =
        std::fs::read_dir(&stubs).with_context(|| format!("cannot read {}", stubs.display()))?;
    let mut stages: Vec<PathBuf> = stages
        .filter_map(|e| Some(e.ok()?.file_name().into()))
        .collect();
    stages.sort();
    let file = stages
        .iter()
        .map(|s| s.join(format!("{name}.rs")))
        .find(|f| stubs.join(f).is_file());
    let Some(file) = file else {
        let shown = stubs.display();
        bail!(
            "no exercise is called {name:?} (no {name}.rs in {shown}): `cargo xtask exercise` lists them"
        );
    };
    Ok((stubs.join(&file), exercises.join("src").join(file)))
}

/// Copies the stub of exercise `name` over the learner's file, atomically,
/// after keeping the learner's version in `target/exercises-backup/`.
fn reset(exercises: &Path, target: &Path, name: &str) -> Result<()> {
    let (stub, mine) = files(exercises, name)?;
    let pristine =
        std::fs::read(&stub).with_context(|| format!("cannot read {}", stub.display()))?;
    match std::fs::read(&mine) {
        Ok(text) if text == pristine => {
            println!("{} is already the stub: nothing to reset.", mine.display());
            return Ok(());
        }
        Ok(text) => {
            let since_1970 = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
            let seconds = since_1970.map_or(0, |d| d.as_secs());
            let stage = mine
                .parent()
                .and_then(Path::file_name)
                .unwrap_or_default()
                .to_string_lossy();
            let backups = target.join("exercises-backup");
            std::fs::create_dir_all(&backups)
                .with_context(|| format!("cannot create {}", backups.display()))?;
            let backup = backups.join(format!("{stage}-{name}-{seconds}.rs"));
            train_cli::write_bytes(&backup, &text)?;
            println!("Your version is kept in {}", backup.display());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", mine.display())),
    }
    train_cli::write_bytes(&mine, &pristine)?;
    println!("Reset {name}: {} is the stub again.", mine.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_limit_is_above_0_and_at_most_an_hour() {
        assert_eq!(seconds("0.5"), Ok(0.5));
        assert_eq!(seconds("3600"), Ok(3600.0));
        for bad in ["0", "-1", "3601", "1e300", "inf", "NaN", "five"] {
            let said = seconds(bad).unwrap_err();
            assert!(said.contains("at most 3600"), "{bad}: {said}");
        }
    }

    #[test]
    fn reset_restores_the_stub_and_keeps_the_learners_version() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let exercises = dir.path().join("exercises");
        for folder in ["stubs/stage3", "src/stage3"] {
            std::fs::create_dir_all(exercises.join(folder)).expect("folders");
        }
        let stub = "pub fn f() { todo!() }\n";
        let mine = "pub fn f() { /* my work */ }\n";
        std::fs::write(exercises.join("stubs/stage3/f.rs"), stub).expect("a stub");
        std::fs::write(exercises.join("src/stage3/f.rs"), mine).expect("my file");
        let target = dir.path().join("target");

        reset(&exercises, &target, "f").expect("reset");
        let now = std::fs::read_to_string(exercises.join("src/stage3/f.rs")).expect("reset file");
        assert_eq!(now, stub);
        let backups = || std::fs::read_dir(target.join("exercises-backup")).unwrap();
        let kept = backups().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap());
        assert_eq!(kept.collect::<Vec<_>>(), [mine]);

        // Already pristine: nothing written, no second backup.
        reset(&exercises, &target, "f").expect("a second reset");
        assert_eq!(backups().count(), 1);

        let unknown = reset(&exercises, &target, "g").unwrap_err().to_string();
        assert!(unknown.contains("no exercise is called \"g\""), "{unknown}");
    }

    #[test]
    fn a_watch_sees_a_save_and_nothing_else() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("f.rs");
        std::fs::write(&path, "todo!()").expect("a file");
        let mut seen = None;
        assert!(changed(&path, &mut seen), "the first look sees the file");
        assert!(!changed(&path, &mut seen), "nothing happened yet");
        // Saved with new contents (and a modification time set apart, since
        // two writes within the file system's clock tick may share one).
        std::fs::write(&path, "2 + 2").expect("a save");
        let later = SystemTime::now() + Duration::from_secs(5);
        let touch = |t| {
            std::fs::File::options()
                .write(true)
                .open(&path)?
                .set_modified(t)
        };
        touch(later).expect("a modification time");
        assert!(changed(&path, &mut seen), "a save is a change");
        assert!(!changed(&path, &mut seen), "once");
        // Saved again, the same length, only the time moved on.
        touch(later + Duration::from_secs(1)).expect("a modification time");
        assert!(changed(&path, &mut seen), "touched");
        // Gone for a moment (an editor saving by rename), then back.
        std::fs::remove_file(&path).expect("removed");
        assert!(!changed(&path, &mut seen), "missing is not a change");
        std::fs::write(&path, "4").expect("written again");
        assert!(changed(&path, &mut seen), "back, new");
    }

    #[test]
    fn the_clock_reads_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(3 * 86_400 + 19 * 3600 + 5 * 60 + 7);
        assert_eq!(clock(t), "19:05:07");
    }
}
