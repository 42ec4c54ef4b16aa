//! `cargo xtask bench`: the stage ladder. Every stage of the course exists to
//! be faster or better than the one before; this command measures each one
//! against the previous in one go and shows it as tables and two charts.
//!
//! What it does, in order:
//! 1. for each stage crate that exists, runs its criterion benches
//!    (`cargo bench`, only the benchmarks of the ladder below) and reads the
//!    results criterion writes (`estimates.json`, see [`criterion`]);
//! 2. runs the stage's training program with `--json` and reads its
//!    evaluation history, for the time to reach 85% and 95% test accuracy
//!    (see [`history`]);
//! 3. prints the tables ([`table`]), draws the charts ([`chart`]) into
//!    `target/xtask/`, and with `--update-book` copies both into
//!    `book/src/generated/` for the book's benchmarks chapter.
//!
//! Every number comes from this run: criterion writes into a folder of our
//! own (`target/xtask/criterion/`, emptied first), never mixed with older runs.
//! It drives `cargo` and reads files; it does not link the stages.

mod chart;
mod criterion;
mod history;
mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::workspace_root;

use self::chart::{Bar, Curve};
use self::criterion::Measurement;
use self::table::{Line, Reached, Run};

/// `cargo xtask bench` flags.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A run of a few minutes: criterion's --quick mode and shorter training runs
    #[arg(long)]
    quick: bool,

    /// Copy the tables and charts into book/src/generated/ for the book's benchmarks chapter
    #[arg(long)]
    update_book: bool,

    /// Measure only this stage (its crate name, e.g. ch5-backprop); repeat for several [default: every stage]
    #[arg(long = "stage", value_name = "CRATE", value_parser = stage_name)]
    stages: Vec<String>,
}

/// The stages of the course, in order: number and crate.
const STAGES: [(usize, &str); 4] = [
    (1, "ch4-numerical"),
    (2, "ch4-two-layer"),
    (3, "ch5-backprop"),
    (4, "ch6-mlp"),
];

/// Test accuracies (fractions) the training runs are timed to.
const TARGETS: [f64; 2] = [0.85, 0.95];

/// One benchmark of the ladder: which criterion result, and what it measures.
struct Rung {
    stage: usize,
    /// criterion's id, `group/function`, as the stage's bench names it.
    id: &'static str,
    /// What was timed, in words.
    work: &'static str,
    network: &'static str,
    /// Layer sizes, for the parameter count.
    layers: &'static [usize],
    /// Images one iteration works through (the batch, or the epoch).
    images: u64,
}

/// One gradient on the same batch (the first 100 training images, weights
/// from seed 42), from slow to fast. See each crate's `benches/gradient.rs`.
const GRADIENTS: &[Rung] = &[
    Rung {
        stage: 1,
        id: "gradient/ch4-numerical/naive",
        work: "numerical, naive",
        network: "softmax 784→10",
        layers: &[784, 10],
        images: 100,
    },
    Rung {
        stage: 1,
        id: "gradient/ch4-numerical/fast",
        work: "numerical, fast",
        network: "softmax 784→10",
        layers: &[784, 10],
        images: 100,
    },
    Rung {
        stage: 2,
        id: "gradient/ch4-two-layer/naive",
        work: "numerical, naive",
        network: "784-50-10 sigmoid",
        layers: &[784, 50, 10],
        images: 100,
    },
    Rung {
        stage: 2,
        id: "gradient/ch4-two-layer/fast",
        work: "numerical, fast",
        network: "784-50-10 sigmoid",
        layers: &[784, 50, 10],
        images: 100,
    },
    Rung {
        stage: 3,
        id: "gradient/ch5-backprop/backprop",
        work: "backprop, f64",
        network: "784-50-10 sigmoid",
        layers: &[784, 50, 10],
        images: 100,
    },
    Rung {
        stage: 3,
        id: "gradient/ch5-backprop/backprop-f32",
        work: "backprop, f32",
        network: "784-50-10 sigmoid",
        layers: &[784, 50, 10],
        images: 100,
    },
    Rung {
        stage: 4,
        id: "gradient/ch6-mlp/backprop",
        work: "backprop, Dense layers, f32",
        network: "784-50-10 sigmoid",
        layers: &[784, 50, 10],
        images: 100,
    },
];

/// One training epoch (or its equivalent), from slow to fast. See
/// `crates/ch5-backprop/benches/per_sample_epoch.rs` and `crates/ch6-mlp/benches/epoch.rs`.
const EPOCHS: &[Rung] = &[
    Rung {
        stage: 3,
        id: "per_sample_epoch/ch5-backprop/tanh-784-100-50-10",
        work: "per-sample SGD, 60,000 images, f64",
        network: "784-100-50-10 tanh",
        layers: &[784, 100, 50, 10],
        images: 60_000,
    },
    Rung {
        stage: 3,
        id: "per_sample_epoch/ch5-backprop/tanh-784-100-50-10-f32",
        work: "per-sample SGD, 60,000 images, f32",
        network: "784-100-50-10 tanh",
        layers: &[784, 100, 50, 10],
        images: 60_000,
    },
    Rung {
        stage: 4,
        id: "epoch/stage3-network-batch-32",
        work: "mini-batch SGD (batch 32), stage 3's network and layers, 60,000 images, f32",
        network: "784-100-50-10 tanh",
        layers: &[784, 100, 50, 10],
        images: 60_000,
    },
    Rung {
        stage: 4,
        id: "epoch/numpy-mlp-stage3-affine",
        work: "mini-batch SGD (batch 32), stage 3's layers, 1,562 batches of 50,000 images, f32",
        network: "784-100-200-10 ReLU",
        layers: &[784, 100, 200, 10],
        // The preset skips the last 16 images of each shuffle, as its tutorial does.
        images: 1_562 * 32,
    },
    Rung {
        stage: 4,
        id: "epoch/numpy-mlp",
        work: "mini-batch SGD (batch 32), 1,562 batches of 50,000 images, f32, 1 thread",
        network: "784-100-200-10 ReLU",
        layers: &[784, 100, 200, 10],
        images: 1_562 * 32,
    },
    Rung {
        stage: 4,
        id: "epoch/keras-1-thread",
        work: "mini-batch RMSprop (batch 128), 60,000 images, f32, 1 thread",
        network: "784-512-10 ReLU",
        layers: &[784, 512, 10],
        images: 60_000,
    },
    Rung {
        stage: 4,
        id: "epoch/keras",
        work: "mini-batch RMSprop (batch 128), 60,000 images, f32, 2 threads",
        network: "784-512-10 ReLU",
        layers: &[784, 512, 10],
        images: 60_000,
    },
];

/// A stage's training program, run for the time-to-accuracy columns.
struct Program {
    stage: usize,
    /// Flags for the full run (the stage's default run) and for `--quick`.
    full: &'static [&'static str],
    quick: &'static [&'static str],
    /// The gradient rung whose method the run trains with (its row gets the times).
    gradient: &'static str,
}

const PROGRAMS: [Program; 4] = [
    Program {
        stage: 1,
        full: &[],
        quick: &["--steps", "500", "--eval-every", "50"],
        gradient: "gradient/ch4-numerical/fast",
    },
    Program {
        stage: 2,
        full: &[],
        quick: &["--steps", "150", "--eval-every", "25"],
        gradient: "gradient/ch4-two-layer/fast",
    },
    Program {
        stage: 3,
        full: &[],
        quick: &["--steps", "3000"],
        gradient: "gradient/ch5-backprop/backprop",
    },
    Program {
        stage: 4,
        full: &[],
        quick: &["--epochs", "3"],
        gradient: "gradient/ch6-mlp/backprop",
    },
];

/// The files the run writes into `target/xtask/`, all copied by `--update-book`.
const OUTPUTS: [&str; 8] = [
    "bench-about.md",
    "bench-gradient.md",
    "bench-epoch.md",
    "bench-runs.md",
    "bench-gradient.svg",
    "bench-gradient.png",
    "bench-accuracy.svg",
    "bench-accuracy.png",
];

fn stage_name(s: &str) -> Result<String, String> {
    if STAGES.iter().any(|&(_, name)| name == s) {
        Ok(s.to_string())
    } else {
        let names: Vec<&str> = STAGES.iter().map(|&(_, n)| n).collect();
        Err(format!("expected one of {}, got `{s}`", names.join(", ")))
    }
}

fn crate_of(stage: usize) -> &'static str {
    STAGES
        .iter()
        .find(|&&(n, _)| n == stage)
        .map_or("?", |&(_, name)| name)
}

/// Trainable parameters of a fully connected network with these layer sizes:
/// a weight matrix `a × b` and a bias `1 × b` between each pair.
fn parameter_count(layers: &[usize]) -> usize {
    layers.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
}

/// What `cargo metadata` tells us: where the target folder is and which
/// packages exist with which bench targets.
struct Workspace {
    root: PathBuf,
    target: PathBuf,
    benches: HashMap<String, Vec<String>>,
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn read_workspace(root: &Path) -> Result<Workspace> {
    let out = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run `cargo metadata`")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata` failed ({}): see its message above",
            out.status
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("`cargo metadata` printed no JSON")?;
    let target = meta["target_directory"]
        .as_str()
        .context("`cargo metadata` gave no target_directory")?;
    let mut benches = HashMap::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let Some(name) = package["name"].as_str() else {
            continue;
        };
        let names = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bench"))
            })
            .filter_map(|t| t["name"].as_str().map(String::from))
            .collect();
        benches.insert(name.to_string(), names);
    }
    Ok(Workspace {
        root: root.to_path_buf(),
        target: PathBuf::from(target),
        benches,
    })
}

/// Prints a progress line between cargo's and criterion's own output.
fn progress(line: &str) {
    eprintln!("\n==> {line}");
}

/// `cargo xtask bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let started = Instant::now();
    let load_at_start = load_average();
    let root = workspace_root();
    let ws = read_workspace(&root)?;
    let out = ws.target.join("xtask");
    let criterion_root = out.join("criterion");

    let wanted = |krate: &str| args.stages.is_empty() || args.stages.iter().any(|s| s == krate);
    let stages: Vec<(usize, &str)> = STAGES.iter().copied().filter(|&(_, k)| wanted(k)).collect();
    let present: Vec<(usize, &str)> = stages
        .iter()
        .copied()
        .filter(|&(_, k)| ws.benches.contains_key(k))
        .collect();
    let missing: Vec<&str> = stages
        .iter()
        .filter(|&&(_, k)| !ws.benches.contains_key(k))
        .map(|&(_, k)| k)
        .collect();
    let total_steps: usize = present.iter().map(|&(_, k)| ws.benches[k].len() + 1).sum();
    progress(&format!(
        "cargo xtask bench{}: stages {}{}; {} steps (criterion benches, then one training run per stage)",
        if args.quick { " --quick" } else { "" },
        present
            .iter()
            .map(|&(_, k)| k)
            .collect::<Vec<_>>()
            .join(", "),
        if missing.is_empty() {
            String::new()
        } else {
            format!("; not built yet: {}", missing.join(", "))
        },
        total_steps
    ));

    let mut problems: Vec<String> = Vec::new();
    let mut measured: HashMap<String, Measurement> = HashMap::new();
    let mut runs: Vec<Run> = Vec::new();
    let mut step = 0;
    for &(stage, krate) in &present {
        let home = criterion_root.join(krate);
        if home.exists() {
            std::fs::remove_dir_all(&home)
                .with_context(|| format!("cannot empty {}", home.display()))?;
        }
        let filter = ladder_filter(stage);
        for bench in &ws.benches[krate] {
            step += 1;
            progress(&format!(
                "[{step}/{total_steps}] stage {stage} {krate}: criterion bench `{bench}`"
            ));
            let t0 = Instant::now();
            if let Err(e) = run_bench(&ws.root, krate, bench, &filter, &home, args.quick) {
                problems.push(format!("{e:#}"));
            }
            eprintln!("    ({:.0} s)", t0.elapsed().as_secs_f64());
        }
        match criterion::read_measurements(&home) {
            Ok(found) => {
                for m in found {
                    measured.insert(format!("{}/{}", m.group, m.function), m);
                }
            }
            Err(e) => problems.push(format!("stage {stage} {krate}: {e:#}")),
        }

        step += 1;
        let program = PROGRAMS
            .iter()
            .find(|p| p.stage == stage)
            .expect("a program per stage");
        let flags = if args.quick {
            program.quick
        } else {
            program.full
        };
        let command = display_command(krate, flags);
        progress(&format!(
            "[{step}/{total_steps}] stage {stage} {krate}: training run `{command}`"
        ));
        let t0 = Instant::now();
        match run_program(&ws.root, krate, flags) {
            Ok(summary) => runs.push(Run {
                stage,
                command,
                summary,
            }),
            Err(e) => problems.push(format!("stage {stage} {krate}: `{command}` {e:#}")),
        }
        eprintln!("    ({:.0} s)", t0.elapsed().as_secs_f64());
    }

    let gradient_lines = ladder_lines(
        GRADIENTS,
        &stages,
        &present,
        &measured,
        &runs,
        &mut problems,
    );
    let epoch_lines = ladder_lines(EPOCHS, &stages, &present, &measured, &runs, &mut problems);
    let tables = [
        (
            "bench-gradient.md",
            table::gradient_table(&gradient_lines, &TARGETS),
        ),
        (
            "bench-epoch.md",
            or_none(&epoch_lines, table::epoch_table(&epoch_lines)),
        ),
        (
            "bench-runs.md",
            or_none(&runs, table::runs_table(&runs, &TARGETS)),
        ),
        (
            "bench-about.md",
            about(
                args.quick,
                started.elapsed().as_secs_f64() / 60.0,
                load_at_start.zip(load_average()),
            ),
        ),
    ];
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, text) in &tables {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    draw_charts(&out, &gradient_lines, &runs)?;

    println!();
    println!("## One gradient on a batch of 100 training images\n");
    println!("{}", tables[0].1);
    println!("## One training epoch\n");
    println!("{}", tables[1].1);
    println!("## Training runs (time to accuracy)\n");
    println!("{}", tables[2].1);
    println!("{}", tables[3].1);
    println!("Tables and charts in {}:", out.display());
    for name in OUTPUTS {
        println!("  {}", out.join(name).display());
    }
    if args.update_book {
        let book = ws.root.join("book/src/generated");
        std::fs::create_dir_all(&book)
            .with_context(|| format!("cannot create {}", book.display()))?;
        for name in OUTPUTS {
            std::fs::copy(out.join(name), book.join(name))
                .with_context(|| format!("cannot copy {name} into {}", book.display()))?;
        }
        println!("Copied into {} for the book.", book.display());
    }
    println!("Done in {:.1} min.", started.elapsed().as_secs_f64() / 60.0);

    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
        bail!(
            "{} problem(s); the tables above are incomplete:\n{}",
            problems.len(),
            list.join("\n")
        );
    }
    Ok(())
}

/// A table, or a sentence saying it has no rows (the stages measured have none).
fn or_none<T>(rows: &[T], table: String) -> String {
    if rows.is_empty() {
        "Nothing measured here in the stages of this run.\n".into()
    } else {
        table
    }
}

/// criterion's filter (a regex on `group/function`) for the ladder's
/// benchmarks of `stage`, so other benchmarks in the same files are not run.
fn ladder_filter(stage: usize) -> String {
    let ids: Vec<String> = GRADIENTS
        .iter()
        .chain(EPOCHS)
        .filter(|r| r.stage == stage)
        .map(|r| regex::escape(r.id))
        .collect();
    format!("^({})$", ids.join("|"))
}

/// Runs one criterion bench target, its results written under `home`.
fn run_bench(
    root: &Path,
    krate: &str,
    bench: &str,
    filter: &str,
    home: &Path,
    quick: bool,
) -> Result<()> {
    let mut cmd = cargo();
    cmd.args(["bench", "-p", krate, "--bench", bench, "--", "--noplot"]);
    if quick {
        // Measures only until the estimate is within 5%, or for the bench's
        // measurement time (one iteration for the slowest benches).
        cmd.arg("--quick");
    }
    // criterion reports on stdout: send it to stderr with the other progress,
    // so that stdout carries only the tables.
    cmd.arg(filter)
        .env("CRITERION_HOME", home)
        .current_dir(root)
        .stdout(Stdio::from(std::io::stderr()));
    let status = cmd
        .status()
        .with_context(|| format!("cannot run `cargo bench -p {krate} --bench {bench}`"))?;
    if !status.success() {
        bail!("`cargo bench -p {krate} --bench {bench}` failed ({status}); its output is above");
    }
    Ok(())
}

fn display_command(krate: &str, flags: &[&str]) -> String {
    let mut s = format!("cargo run --release -p {krate}");
    if !flags.is_empty() {
        s += " -- ";
        s += &flags.join(" ");
    }
    s
}

/// Runs a stage's program with `--json --quiet` (release build, as the
/// benches) and reads its summary from standard output.
fn run_program(root: &Path, krate: &str, flags: &[&str]) -> Result<history::RunSummary> {
    let output = cargo()
        .args(["run", "--release", "-p", krate, "--"])
        .args(flags)
        .args(["--json", "--quiet"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!("failed ({}); its message is above", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    history::parse_summary(&stdout)
}

/// The table lines of `rungs`: a time for each measured rung, the reason for
/// each missing one, one "not built yet" line for each stage that does not
/// exist. A rung missing from a stage that exists is a problem.
fn ladder_lines(
    rungs: &[Rung],
    stages: &[(usize, &str)],
    present: &[(usize, &str)],
    measured: &HashMap<String, Measurement>,
    runs: &[Run],
    problems: &mut Vec<String>,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for &(stage, krate) in stages {
        let of_stage: Vec<&Rung> = rungs.iter().filter(|r| r.stage == stage).collect();
        if of_stage.is_empty() {
            continue;
        }
        if !present.iter().any(|&(s, _)| s == stage) {
            lines.push(Line {
                stage,
                krate: krate.into(),
                network: String::new(),
                parameters: None,
                work: String::new(),
                time: Err("not built yet".into()),
                elements: None,
                reached: Vec::new(),
            });
            continue;
        }
        for rung in of_stage {
            let m = measured.get(rung.id);
            let time = match m {
                Some(m) => Ok(m.median),
                None => {
                    problems.push(format!(
                        "stage {stage} {krate}: no result for bench `{}` (expected from `cargo bench -p {krate}`)",
                        rung.id
                    ));
                    Err(format!("missing: bench `{}`", rung.id))
                }
            };
            let program = PROGRAMS
                .iter()
                .find(|p| p.stage == stage && p.gradient == rung.id);
            let run = runs.iter().find(|r| r.stage == stage);
            let reached = match (program, run) {
                (Some(_), Some(run)) => TARGETS
                    .iter()
                    .map(|&t| Reached::of(&run.summary, t))
                    .collect(),
                _ => Vec::new(),
            };
            lines.push(Line {
                stage,
                krate: crate_of(stage).into(),
                network: rung.network.into(),
                parameters: Some(parameter_count(rung.layers)),
                work: rung.work.into(),
                time,
                elements: m.and_then(|m| m.elements).or(Some(rung.images)),
                reached,
            });
        }
    }
    lines
}

fn draw_charts(out: &Path, gradients: &[Line], runs: &[Run]) -> Result<()> {
    let bars: Vec<Bar> = gradients
        .iter()
        .filter_map(|l| {
            let t = l.time.as_ref().ok()?;
            let method = l.work.split(',').next_back().unwrap_or(&l.work).trim();
            let kind = if l.work.starts_with("numerical") {
                ""
            } else {
                "backprop "
            };
            Some(Bar {
                stage: l.stage,
                label: format!("{} {kind}{method}", l.stage),
                median: t.point,
            })
        })
        .collect();
    let curves: Vec<Curve> = runs
        .iter()
        .map(|r| Curve {
            stage: r.stage,
            name: format!("{} {}: {}", r.stage, r.summary.stage, r.summary.network),
            points: r
                .summary
                .history
                .iter()
                .map(|e| (e.seconds, 100.0 * e.test_accuracy))
                .collect(),
        })
        .collect();
    let targets: Vec<f64> = TARGETS.iter().map(|t| 100.0 * t).collect();
    for ext in ["svg", "png"] {
        chart::draw_gradient_bars(
            &out.join(format!("bench-gradient.{ext}")),
            "One gradient on a batch of 100 MNIST images (median, log scale)",
            &bars,
        )?;
        chart::draw_accuracy(
            &out.join(format!("bench-accuracy.{ext}")),
            "Test accuracy against seconds of training, each stage's program",
            &curves,
            &targets,
        )?;
    }
    Ok(())
}

/// One paragraph saying how and where the numbers were measured.
fn about(quick: bool, minutes: f64, load: Option<(f64, f64)>) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| format!("{}, ", m.trim()))
        })
        .unwrap_or_default();
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "Measured by `cargo xtask bench{}` on {y:04}-{m:02}-{d:02} ({cpu}{cores} cores available to the process). \
         Times per gradient and per epoch are criterion's medians with their 95% confidence interval \
         ({}); training times are the programs' own clocks, evaluations not counted, \
         release build. The run took {minutes:.1} min.{}\n",
        if quick { " --quick" } else { "" },
        if quick {
            "criterion's --quick mode: few samples, wide intervals"
        } else {
            "each bench's own sample count"
        },
        load_note(load, cores)
    )
}

/// The load average (1 minute) at the start and end of the run, with a warning
/// when other work was competing for the cores: times measured then are longer.
fn load_note(load: Option<(f64, f64)>, cores: usize) -> String {
    let Some((start, end)) = load else {
        return String::new();
    };
    let busy = start.max(end) > cores as f64;
    format!(
        " Load average (1 minute): {start:.1} at the start, {end:.1} at the end{}",
        if busy {
            ": more than the cores, so other work shared them and these times are longer than on a quiet machine."
        } else {
            "."
        }
    )
}

/// The 1-minute load average, where the system reports one (Linux).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Year, month, day of the date `days` after 1970-01-01 (proleptic Gregorian;
/// Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_follow_the_layer_sizes() {
        assert_eq!(parameter_count(&[784, 10]), 7_850);
        assert_eq!(parameter_count(&[784, 50, 10]), 39_760);
        assert_eq!(parameter_count(&[784, 100, 50, 10]), 84_060);
    }

    #[test]
    fn the_ladder_is_consistent() {
        for rung in GRADIENTS.iter().chain(EPOCHS) {
            assert!(STAGES.iter().any(|&(s, _)| s == rung.stage), "{}", rung.id);
            assert!(rung.id.contains('/'), "{}", rung.id);
        }
        for p in &PROGRAMS {
            let rung = GRADIENTS.iter().find(|r| r.id == p.gradient);
            assert!(rung.is_some_and(|r| r.stage == p.stage), "{}", p.gradient);
        }
        let filter = regex::Regex::new(&ladder_filter(1)).unwrap();
        assert!(filter.is_match("gradient/ch4-numerical/naive"));
        assert!(!filter.is_match("gradient/ch4-numerical/naive-2"));
        assert!(!filter.is_match("gradient/ch4-two-layer/fast"));
        assert!(stage_name("ch9").unwrap_err().contains("ch4-numerical"));
    }

    #[test]
    fn missing_stages_are_shown_and_missing_benches_reported() {
        let measured: HashMap<String, Measurement> = [(
            "gradient/ch4-numerical/fast".to_string(),
            Measurement {
                group: "gradient".into(),
                function: "ch4-numerical/fast".into(),
                median: criterion::Estimate {
                    point: 1e6,
                    lower: 0.9e6,
                    upper: 1.1e6,
                    confidence: 0.95,
                },
                elements: None,
            },
        )]
        .into();
        let stages = [(1, "ch4-numerical"), (2, "ch4-two-layer")];
        let mut problems = Vec::new();
        let lines = ladder_lines(
            GRADIENTS,
            &stages,
            &stages[..1],
            &measured,
            &[],
            &mut problems,
        );
        let cells: Vec<_> = lines
            .iter()
            .map(|l| (l.stage, l.time.clone().err()))
            .collect();
        assert_eq!(
            cells,
            [
                (
                    1,
                    Some("missing: bench `gradient/ch4-numerical/naive`".to_string())
                ),
                (1, None),
                (2, Some("not built yet".to_string())),
            ]
        );
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("gradient/ch4-numerical/naive"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_busy_machine_is_said_to_be_busy() {
        assert_eq!(load_note(None, 2), "");
        assert!(load_note(Some((1.5, 0.8)), 2).ends_with("at the end."));
        let busy = load_note(Some((6.2, 4.4)), 2);
        assert!(
            busy.contains("6.2 at the start, 4.4 at the end") && busy.contains("longer"),
            "{busy}"
        );
    }

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
