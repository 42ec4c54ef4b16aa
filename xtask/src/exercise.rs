//! `cargo xtask exercise [NAME] [--reset | --watch]`: the learner's exercises.
//!
//! The exercises live in `crates/exercises` (the learner's files in `src/`,
//! the pristine stubs in `stubs/`), their checks in `crates/exercise-checks`.
//! This command only drives cargo: it builds the exercise runner, showing
//! the compiler's own message when the learner's code does not compile, and
//! runs it as a child process with a time limit, so that nothing the
//! learner writes can crash or hang the command. `--reset` copies an
//! exercise's stub back over the learner's file, keeping a copy of it.
//! `--watch` checks the exercise again each time its file changes (a
//! [`Watch`] polls the file's modification time twice a second), until Ctrl-C.

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
    /// Stop an exercise's checks after this many seconds (a right answer takes milliseconds)
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = seconds)]
    time_limit: f64,
}

fn seconds(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or(format!("expected a positive number of seconds, got {s:?}"))
}

pub fn run(args: &ExerciseArgs) -> Result<()> {
    let root = crate::workspace_root();
    let (target, _) = stages()?;
    let exercises = root.join("crates/exercises");
    if let Some(name) = args.name.as_deref().filter(|_| args.reset || args.watch) {
        let (_, stage) = find_stub(&exercises, name)?;
        if args.reset {
            return reset(&exercises, &target, name);
        }
        let file = exercises.join("src").join(stage).join(format!("{name}.rs"));
        return watch(&root, &target, name, &file, args.time_limit);
    }
    let code = check(&root, &target, args.name.as_deref(), args.time_limit)?;
    if code != 0 {
        // The runner has explained; pass its verdict on as the exit status.
        std::process::exit(code);
    }
    Ok(())
}

/// Builds the runner and runs it on exercise `name` (every exercise when
/// `None`); the runner's exit code (0: passed).
fn check(root: &Path, target: &Path, name: Option<&str>, time_limit: f64) -> Result<i32> {
    let runner = build(root, target)?;
    let mut command = Command::new(&runner);
    command.current_dir(root);
    command.args(name);
    command.args(["--time-limit", &time_limit.to_string()]);
    // The runner stops each exercise at the time limit itself; this outer
    // limit is for the case it cannot (a learner's loop inside the runner's own code).
    let exercises = if name.is_some() { 1.0 } else { 40.0 }; // 21 exercises, and room for more
    let outer = Duration::from_secs_f64(time_limit * exercises + 30.0);
    run_with_limit(command, outer)
}

/// Checks exercise `name` now and again after every change of its `file`, until Ctrl-C.
fn watch(root: &Path, target: &Path, name: &str, file: &Path, time_limit: f64) -> Result<()> {
    let mut watch = Watch::new(file);
    loop {
        println!(
            "\n──────── {name}, checked at {} UTC ────────",
            clock(SystemTime::now())
        );
        // The runner explains a failing check itself; an error here (the code
        // does not compile, the runner was stopped) is said, and the next save tries again.
        if let Err(e) = check(root, target, Some(name), time_limit) {
            println!("{e:#}");
        }
        println!(
            "\nWatching {} for changes: save it to check again; Ctrl-C to stop.",
            file.display()
        );
        while !watch.changed() {
            std::thread::sleep(Duration::from_millis(500));
        }
        // An editor may write a file in several steps: let it finish.
        std::thread::sleep(Duration::from_millis(100));
        watch.changed();
    }
}

/// A file's last seen modification time and length, to tell when it changes.
pub struct Watch {
    path: PathBuf,
    seen: Option<(SystemTime, u64)>,
}

impl Watch {
    /// Starts watching `path` from its present state.
    pub fn new(path: &Path) -> Watch {
        let mut watch = Watch {
            path: path.to_path_buf(),
            seen: None,
        };
        watch.seen = watch.stamp();
        watch
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(&self.path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// Whether the file was changed (its modification time or length) since
    /// the last call. A file that is missing for a moment (an editor that
    /// saves by renaming) is not a change; its return is.
    pub fn changed(&mut self) -> bool {
        match self.stamp() {
            Some(now) if Some(now) != self.seen => {
                self.seen = Some(now);
                true
            }
            _ => false,
        }
    }
}

/// `HH:MM:SS` of `time` in UTC (std has no time zones).
fn clock(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()[11..19].to_string()
}

/// Builds the exercise runner and returns its path, or fails with cargo's
/// own message when the learner's code does not compile.
fn build(root: &Path, target: &Path) -> Result<PathBuf> {
    eprintln!("Compiling your exercises (cargo build -p exercises)...");
    let out = cargo()
        .args(["build", "--package", "exercises", "--bin", "exercises"])
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `cargo build`")?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said: Vec<&str> = said
            .lines()
            .filter(|l| {
                !l.trim_start().starts_with("Compiling ")
                    && !l.trim_start().starts_with("Blocking ")
            })
            .collect();
        println!("Your code does not compile yet. The compiler says:\n");
        println!("{}", said.join("\n"));
        bail!("the exercises do not compile: fix the first error above, then run this again");
    }
    let runner = target
        .join("debug")
        .join(format!("exercises{}", std::env::consts::EXE_SUFFIX));
    if !runner.is_file() {
        bail!(
            "cargo built the exercises, but {} is not there",
            runner.display()
        );
    }
    Ok(runner)
}

/// Runs `command` (stdout and stderr to ours), killing it after `limit`;
/// its exit code.
fn run_with_limit(mut command: Command, limit: Duration) -> Result<i32> {
    let child = command.stdin(Stdio::null()).spawn();
    let mut child = child.context("cannot start the exercise runner")?;
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

/// The stub of exercise `name` (`exercises/stubs/stageN/NAME.rs`) and its stage folder's name.
fn find_stub(exercises: &Path, name: &str) -> Result<(PathBuf, std::ffi::OsString)> {
    let stubs = exercises.join("stubs");
    let mut stages: Vec<PathBuf> = std::fs::read_dir(&stubs)
        .with_context(|| format!("cannot read {}", stubs.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    stages.sort();
    let Some(stub) = stages
        .iter()
        .map(|s| s.join(format!("{name}.rs")))
        .find(|p| p.is_file())
    else {
        bail!(
            "no exercise is called {name:?} (no {name}.rs in {}): `cargo xtask exercise` lists them",
            stubs.display()
        );
    };
    let stage = stub
        .parent()
        .and_then(Path::file_name)
        .expect("a stub sits in a stage folder")
        .to_os_string();
    Ok((stub, stage))
}

/// Copies the stub of exercise `name` (from `exercises/stubs/stageN/NAME.rs`)
/// over the learner's `exercises/src/stageN/NAME.rs`, atomically, after
/// keeping the learner's version in `target/exercises-backup/`.
fn reset(exercises: &Path, target: &Path, name: &str) -> Result<()> {
    let (stub, stage) = find_stub(exercises, name)?;
    let stage = stage.as_os_str();
    let pristine =
        std::fs::read(&stub).with_context(|| format!("cannot read {}", stub.display()))?;
    let mine = exercises.join("src").join(stage).join(format!("{name}.rs"));
    match std::fs::read(&mine) {
        Ok(text) if text == pristine => {
            println!("{} is already the stub: nothing to reset.", mine.display());
            return Ok(());
        }
        Ok(text) => {
            let seconds = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let backups = target.join("exercises-backup");
            std::fs::create_dir_all(&backups)
                .with_context(|| format!("cannot create {}", backups.display()))?;
            let backup = backups.join(format!("{}-{name}-{seconds}.rs", stage.to_string_lossy()));
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
        let backups: Vec<_> = std::fs::read_dir(target.join("exercises-backup"))
            .expect("a backup folder")
            .map(|e| std::fs::read_to_string(e.expect("an entry").path()).expect("a backup"))
            .collect();
        assert_eq!(backups, [mine]);

        // Already pristine: nothing written, no second backup.
        reset(&exercises, &target, "f").expect("a second reset");
        assert_eq!(
            std::fs::read_dir(target.join("exercises-backup"))
                .expect("folder")
                .count(),
            1
        );

        let unknown = reset(&exercises, &target, "g").unwrap_err().to_string();
        assert!(unknown.contains("no exercise is called \"g\""), "{unknown}");
    }

    #[test]
    fn a_watch_sees_a_save_and_nothing_else() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("f.rs");
        std::fs::write(&path, "todo!()").expect("a file");
        let mut watch = Watch::new(&path);
        assert!(!watch.changed(), "nothing happened yet");
        // Saved with new contents (and a modification time set apart, since
        // two writes within the file system's clock tick may share one).
        std::fs::write(&path, "2 + 2").expect("a save");
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later))
            .expect("a modification time");
        assert!(watch.changed(), "a save is a change");
        assert!(!watch.changed(), "once");
        // Saved again, the same length, only the time moved on.
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later + Duration::from_secs(1)))
            .expect("a modification time");
        assert!(watch.changed(), "touched");
        // Gone for a moment (an editor saving by rename), then back.
        std::fs::remove_file(&path).expect("removed");
        assert!(!watch.changed(), "missing is not a change");
        std::fs::write(&path, "4").expect("written again");
        assert!(watch.changed(), "back, new");
    }

    #[test]
    fn the_clock_reads_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(3 * 86_400 + 19 * 3600 + 5 * 60 + 7);
        assert_eq!(clock(t), "19:05:07");
    }
}
