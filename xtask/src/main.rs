//! `cargo xtask`: the course's task runner (the rust-analyzer pattern: a plain
//! binary in the workspace, run through the alias in `.cargo/config.toml`).
//!
//! It drives `cargo` and reads files; it does not link the stages, so it stays
//! quick to compile.

mod bench;
mod book;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Tasks for the Deep Learning from Scratch course"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmark every stage against the one before (criterion), print a table, draw charts.
    Bench(bench::BenchArgs),
    /// Build the book (mdBook + KaTeX, fully offline) into a folder and print where it is.
    Book,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => bench::run(&args),
        Command::Book => book::run(),
    }
}
