//! `cargo xtask`: the course's task runner (the rust-analyzer pattern: a plain
//! binary in the workspace, run through the alias in `.cargo/config.toml`).
//!
//! One file per command: [`mod@bench`], [`mod@book`] (with [`mod@outputs`],
//! the program outputs the book shows, and [`mod@draw`], the data of its
//! draw-a-digit page), [`mod@browser`] (that page tested in Chromium) and
//! [`mod@exercise`] (the learner's exercises, checked). It drives `cargo` and
//! reads files; it links no stage, only `train-cli` for the summary type the
//! stages print, its number formatting and its charts, and `mnist` for the
//! test digits the browser test draws, so it stays quick to compile.

mod bench;
mod book;
mod browser;
mod draw;
mod exercise;
mod outputs;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

/// The workspace root (xtask lives one folder below it). `cargo run` sets
/// `CARGO_MANIFEST_DIR` for the program it runs, so the checkout the command
/// is run in wins over the one this binary was compiled in (they differ when
/// two checkouts share a target directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .expect("xtask sits inside the workspace")
}

/// `cargo`: the one that runs xtask (`$CARGO`), else the one on the PATH.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd` (a [`cargo`]) in the workspace root, stdin closed and stderr shown with the
/// rest of the progress; its stdout, or an error when it fails.
pub fn stdout_of(cmd: &mut Command) -> Result<String> {
    let cmd = cmd.current_dir(workspace_root()).stdin(Stdio::null());
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !out.status.success() {
        bail!("failed ({}), see above", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Tasks for the Deep Learning from Scratch course"
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Benchmark every stage against the one before (criterion), print a table, draw charts.
    Bench(bench::BenchArgs),
    /// Build the book (mdBook + KaTeX, fully offline) into a folder and print where it is.
    Book(book::BookArgs),
    /// Build the book and test its draw-a-digit page in headless Chromium (needs chromium and chromedriver)
    BrowserTest(browser::BrowserArgs),
    /// List the exercises with their state, or check one (NAME), again on every save (NAME --watch), or put one back to its stub (NAME --reset).
    Exercise(exercise::ExerciseArgs),
}

fn main() -> std::process::ExitCode {
    train_cli::exit_code(match Cli::parse().command {
        Task::Bench(args) => bench::run(&args),
        Task::Exercise(args) => exercise::run(&args),
        Task::BrowserTest(args) => browser::run(&args),
        Task::Book(args) => book::run(&args),
    })
}
