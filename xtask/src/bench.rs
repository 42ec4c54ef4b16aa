//! `cargo xtask bench`: the stage ladder, measured in one go.
//!
//! The stages are the workspace's packages named `ch…` that have bench
//! targets, in name order, which is the course's order, then the appendices
//! (`appendix-…`), which have benches but no program. For each one it runs
//! every criterion bench through `cargo criterion --message-format=json`,
//! criterion's machine-readable output (one JSON message per line: each
//! benchmark's median with its interval, then each group's members; its
//! folders under the target directory are criterion's private business), then
//! the stage's program with `--json --quiet`, and reads the programs'
//! `train_cli::Summary`. It writes into `target/xtask/`:
//! - for every criterion group, `bench-<group>.md`, one row per benchmark, and
//!   `bench-<group>.{svg,png}`, its bars. A row is said by its bench id; the
//!   images per iteration by the bench's `Throughput::Elements`. Rows come in
//!   course order, then by a leading step number of the id (`"2 fast"`), then
//!   in the order criterion ran them, and each is compared with the row
//!   before and the first row (per image when both rows give their images);
//! - `bench-glue.md`: each epoch of group `epoch` beside the row of group
//!   `gemm` with its name (its matrix products alone), and their ratio;
//! - `bench-runs.md` and `bench-accuracy.{svg,png}`: each program's time to
//!   85% and 95% test accuracy, and its test accuracy against training time;
//! - `bench-about.md`: the machine, the date, the load and the run time.
//!
//! `--update-book` copies them all into `book/src/generated/`. It needs
//! `cargo-criterion` (`cargo install cargo-criterion --locked`).

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Deserialize;
use train_cli::{Evaluation, Series, Summary, count, thousands};

use crate::{cargo, stdout_of, workspace_root};

/// `cargo xtask bench` flags.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A run of a few minutes: criterion's --quick mode and shorter training runs
    #[arg(long)]
    quick: bool,

    /// Copy the tables and charts into book/src/generated/ for the book's benchmarks chapter
    /// (every stage only: the book's tables hold rows of several stages)
    #[arg(long, conflicts_with = "stages")]
    update_book: bool,

    /// Measure only this stage (its crate name, e.g. ch5-backprop); repeat for several [default: every stage]
    #[arg(long = "stage", value_name = "CRATE")]
    stages: Vec<String>,
}

/// Test accuracies (fractions) the training runs are timed to.
const TARGETS: [f64; 2] = [0.85, 0.95];

/// The flags of a stage's training run: shorter ones for `--quick`, and
/// `train` for stage 5, whose default is its overfitting experiment.
fn training_flags(krate: &str, quick: bool) -> &'static str {
    match (krate, quick) {
        ("ch4-numerical", true) => "--steps 500 --eval-every 50",
        ("ch4-two-layer", true) => "--steps 150 --eval-every 25",
        ("ch5-backprop", true) => "--steps 3000",
        ("ch6-mlp", true) => "--epochs 3",
        ("ch6-regularization", true) => "train --epochs 3",
        ("ch6-regularization", false) => "train",
        ("ch7-cnn", true) => "--steps 100",
        _ => "",
    }
}

/// One benchmark's result, as criterion reported it.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    /// 1 for the first stage of the course.
    stage: usize,
    krate: String,
    group: String,
    /// The function id, without a leading `<crate>/`.
    name: String,
    /// Median time of one iteration with its 95% interval: `[point, lower, upper]`, in ns.
    median: [f64; 3],
    /// Images one iteration works through (`Throughput::Elements`), when the bench says.
    images: Option<u64>,
}

/// A stage (its crate), its bench targets, and whether it has a program to run.
type Stage = (String, Vec<String>, bool);

/// What we read of `cargo metadata`.
#[derive(Deserialize)]
struct Metadata {
    target_directory: PathBuf,
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// The target folder, and the stages in course order.
pub fn stages() -> Result<(PathBuf, Vec<Stage>)> {
    let metadata = stdout_of(cargo().args(["metadata", "--no-deps", "--format-version", "1"]));
    let meta: Metadata = serde_json::from_str(&metadata.context("`cargo metadata`")?)?;
    let mut stages: Vec<Stage> = Vec::new();
    for Package { name, targets } in meta.packages {
        let of = |kind: &'static str| {
            targets
                .iter()
                .filter(move |t| t.kind.iter().any(|k| k == kind))
        };
        let benches: Vec<String> = of("bench").map(|t| t.name.clone()).collect();
        if (name.starts_with("ch") || is_appendix(&name)) && !benches.is_empty() {
            let program = of("bin").count() > 0;
            stages.push((name, benches, program));
        }
    }
    // The stages in name order, which is the course's; the appendices after them.
    stages.sort_by_key(|(name, ..)| (is_appendix(name), name.clone()));
    Ok((meta.target_directory, stages))
}

/// Whether a crate is one of the book's appendices (`appendix-tensors`),
/// measured after the stages and shown as "appendix" rather than a stage number.
fn is_appendix(krate: &str) -> bool {
    krate.starts_with("appendix")
}

/// The first cell of a row: `4 \`ch6-mlp\``, or `appendix \`appendix-tensors\``.
fn stage_cell(stage: usize, krate: &str) -> String {
    match is_appendix(krate) {
        true => format!("appendix `{krate}`"),
        false => format!("{stage} `{krate}`"),
    }
}

/// `cargo xtask bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let (started, load_at_start) = (Instant::now(), load_average());
    let (root, (target, all)) = (workspace_root(), stages()?);
    stdout_of(cargo().args(["criterion", "--version"])).context(
        "`cargo xtask bench` reads criterion's machine-readable output, which \
         `cargo criterion` prints: install it with `cargo install cargo-criterion --locked`",
    )?;
    let names: Vec<&str> = all.iter().map(|(k, ..)| k.as_str()).collect();
    if let Some(s) = args.stages.iter().find(|s| !names.contains(&s.as_str())) {
        bail!("no stage `{s}`; the stages are {}", names.join(", "));
    }
    let wanted = |(_, (k, ..)): &(usize, &Stage)| args.stages.is_empty() || args.stages.contains(k);
    let chosen: Vec<(usize, &Stage)> = (1..).zip(&all).filter(wanted).collect();
    let steps = chosen
        .iter()
        .map(|(_, (_, b, program))| b.len() + usize::from(*program));
    let (steps, quick) = (
        steps.sum::<usize>(),
        if args.quick { " --quick" } else { "" },
    );
    let list: Vec<&str> = chosen.iter().map(|(_, (k, ..))| k.as_str()).collect();
    let (list, steps_said) = (list.join(", "), count(steps, "step"));
    eprintln!("cargo xtask bench{quick}: {list}; {steps_said} (benches, then a training run each)");

    let (mut problems, mut rows, mut runs) = (Vec::new(), Vec::new(), Vec::new());
    let mut step = 0;
    let mut announce = |krate: &str, what: &str| {
        step += 1;
        eprintln!("\n==> [{step}/{steps}] {krate}: {what}");
    };
    for &(stage, (krate, benches, program)) in &chosen {
        for bench in benches {
            let shown = format!("criterion -p {krate} --bench {bench}");
            announce(krate, &format!("`cargo {shown}`"));
            let json = " --message-format=json --plotting-backend disabled --";
            let mut cmd = cargo();
            cmd.args((shown.clone() + json).split(' '))
                .args(quick.split_whitespace());
            match stdout_of(&mut cmd).and_then(|m| read_rows(&m, stage, krate)) {
                Ok(found) => rows.extend(found),
                Err(e) => problems.push(format!("`cargo {shown}`: {e:#}")),
            }
        }
        if *program {
            let flags = training_flags(krate, args.quick);
            let command = format!("cargo run --release -p {krate} -- {flags}");
            let command = command.trim_end_matches(" -- ").to_string();
            announce(krate, &format!("training run `{command}`"));
            let json = format!("run --release -p {krate} -- {flags} --json --quiet");
            match stdout_of(cargo().args(json.split_whitespace())).and_then(|o| parse_summary(&o)) {
                Ok(summary) => runs.push((stage, command, summary)),
                Err(e) => problems.push(format!("`{command} --json`: {e:#}")),
            }
        }
    }
    // A stable sort: rows of one step number stay in the order criterion ran them.
    rows.sort_by_key(|r| (r.stage, step_number(&r.name)));
    let out = target.join("xtask");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let (mut written, printed) = write_tables(&out, &rows, &runs, &mut problems)?;
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let about = about(args.quick, minutes, load_at_start.zip(load_average()));
    std::fs::write(out.join("bench-about.md"), &about).context("cannot write bench-about.md")?;
    written.push("bench-about.md".into());
    let (shown, list) = (out.display(), written.join(", "));
    println!("\n{printed}{about}\nIn {shown}: {list}");
    if args.update_book {
        let book = root.join("book/src/generated");
        for name in &written {
            std::fs::copy(out.join(name), book.join(name))
                .with_context(|| format!("cannot copy {name} into {}", book.display()))?;
        }
        println!("Copied into {}.", book.display());
    }
    if !problems.is_empty() {
        let (n, list) = (count(problems.len(), "problem"), problems.join("\n  - "));
        bail!("{n}, the tables are incomplete:\n  - {list}");
    }
    Ok(())
}

/// Writes every group's table and bars, the runs' table and the accuracy
/// chart into `out`; returns the names of the files and the tables as printed.
fn write_tables(
    out: &Path,
    rows: &[Row],
    runs: &[Run],
    problems: &mut Vec<String>,
) -> Result<(Vec<String>, String)> {
    let (mut written, mut printed) = (Vec::new(), String::new());
    let mut write = |name: &str, title: &str, table: &str| {
        printed += &format!("## {title}\n\n{table}\n");
        written.push(name.to_string());
        std::fs::write(out.join(name), table).with_context(|| format!("cannot write {name}"))
    };
    let mut groups: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
    groups.sort_by_key(|g| rows.iter().position(|r| r.group == *g));
    groups.dedup();
    let mut charts = Vec::new();
    for group in groups {
        let stem = format!("bench-{}", slug(group));
        if ["bench-about", "bench-runs", "bench-accuracy"].contains(&stem.as_str()) {
            problems.push(format!(
                "criterion group `{group}` would overwrite {stem}.md"
            ));
            continue;
        }
        let members: Vec<&Row> = rows.iter().filter(|r| r.group == group).collect();
        let title = format!("Criterion group `{group}`");
        write(&format!("{stem}.md"), &title, &group_table(&members))?;
        for ext in ["svg", "png"] {
            let title = format!("criterion group `{group}`: median time per iteration");
            draw_bars(&out.join(format!("{stem}.{ext}")), &title, &members)?;
            charts.push(format!("{stem}.{ext}"));
        }
    }
    let pairs = epoch_and_products(rows);
    if !pairs.is_empty() {
        let title = "Epochs against their matrix products";
        write("bench-glue.md", title, &glue_table(&pairs))?;
    }
    write("bench-runs.md", "Training runs", &runs_table(runs))?;
    for ext in ["svg", "png"] {
        draw_accuracy(&out.join(format!("bench-accuracy.{ext}")), runs)?;
        charts.push(format!("bench-accuracy.{ext}"));
    }
    written.extend(charts);
    Ok((written, printed))
}

/// The `--json` summary: the last non-empty line of a program's output.
fn parse_summary(stdout: &str) -> Result<Summary> {
    let line = stdout
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let summary: Summary = serde_json::from_str(line)
        .with_context(|| format!("expected its --json summary as last line, got `{line}`"))?;
    if summary.history.is_empty() {
        bail!("its --json summary has no evaluations in \"history\"");
    }
    Ok(summary)
}

/// What we read of criterion's JSON messages (`--message-format=json`).
#[derive(Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
enum Message {
    BenchmarkComplete {
        id: String,
        median: Estimate,
        #[serde(default)]
        throughput: Vec<Throughput>,
    },
    GroupComplete {
        group_name: String,
        benchmarks: Vec<String>,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Estimate {
    estimate: f64,
    lower_bound: f64,
    upper_bound: f64,
    unit: String,
}

#[derive(Deserialize)]
struct Throughput {
    per_iteration: u64,
    unit: String,
}

/// The rows of criterion's messages for one bench target, in the order it
/// ran them: each benchmark's median, and the group that names it.
fn read_rows(messages: &str, stage: usize, krate: &str) -> Result<Vec<Row>> {
    let (mut done, mut groups) = (Vec::new(), Vec::new());
    for line in messages.lines().filter(|l| l.starts_with('{')) {
        let message = serde_json::from_str(line);
        match message.with_context(|| format!("not a criterion message: {line}"))? {
            Message::BenchmarkComplete {
                id,
                median: m,
                throughput,
            } => {
                if m.unit != "ns" {
                    bail!("{id}: times in {}, expected ns", m.unit);
                }
                if id.ends_with("...") && id.chars().count() > 100 {
                    bail!("{id}: cargo criterion cuts ids at 100 characters; shorten it");
                }
                let images = throughput.iter().find(|t| t.unit == "elements");
                let median = [m.estimate, m.lower_bound, m.upper_bound];
                done.push((id, median, images.map(|t| t.per_iteration)));
            }
            Message::GroupComplete {
                group_name,
                benchmarks,
            } => groups.push((group_name, benchmarks)),
            Message::Other => {}
        }
    }
    if done.is_empty() {
        bail!("criterion reported no benchmark");
    }
    let row = |(id, median, images): (String, [f64; 3], Option<u64>)| {
        let (group, _) = groups
            .iter()
            .find(|(_, ids)| ids.contains(&id))
            .with_context(|| format!("no group names benchmark {id}"))?;
        let function = id.strip_prefix(&format!("{group}/")).unwrap_or(&id);
        let name = function
            .strip_prefix(&format!("{krate}/"))
            .unwrap_or(function);
        let (krate, group, name) = (krate.to_string(), group.clone(), name.to_string());
        Ok(Row {
            stage,
            krate,
            group,
            name,
            median,
            images,
        })
    };
    done.into_iter().map(row).collect()
}

/// The step number an id starts with (`"2 gemm crate"` → 2), else 0.
fn step_number(name: &str) -> u64 {
    let digits = name.len() - name.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    match name[digits..].starts_with(' ') {
        true => name[..digits].parse().unwrap_or(0),
        false => 0,
    }
}

/// A group name as a file name: `cpu time` → `cpu-time`.
fn slug(group: &str) -> String {
    group.replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
        "-",
    )
}

/// How many times faster `row` is than `earlier`: per image when both say
/// how many images an iteration works through, else per iteration.
fn speedup(earlier: &Row, row: &Row) -> f64 {
    match (earlier.images, row.images) {
        (Some(a), Some(b)) => (earlier.median[0] / a as f64) / (row.median[0] / b as f64),
        _ => earlier.median[0] / row.median[0],
    }
}

/// One criterion group as a table, its rows compared with the one before and the first.
fn group_table(rows: &[&Row]) -> String {
    let images = rows.iter().any(|r| r.images.is_some());
    let mut headers = vec![
        "stage",
        "benchmark",
        "time per iteration: median [95% interval]",
    ];
    if images {
        headers.extend(["images per iteration", "images per second"]);
    }
    headers.extend(["against the row before", "against the first row"]);
    let dash = |cell: Option<String>| cell.unwrap_or_else(|| "—".into());
    let cells = rows.iter().enumerate().map(|(i, r)| {
        let mut cells = vec![stage_cell(r.stage, &r.krate), r.name.clone()];
        cells.push(format_estimate(r.median));
        if images {
            cells.push(dash(r.images.map(|n| thousands(n as usize))));
            let rate = r.images.map(|n| n as f64 / (r.median[0] * 1e-9));
            cells.push(dash(rate.map(|x| thousands(x.round() as usize))));
        }
        for earlier in [i.checked_sub(1), Some(0)] {
            let earlier = earlier.filter(|&e| e < i).map(|e| rows[e]);
            cells.push(dash(earlier.map(|e| format_speedup(speedup(e, r)))));
        }
        cells
    });
    markdown(&headers, &cells.collect::<Vec<_>>())
}

/// An id without its step number: `"2 numpy-mlp"` → `"numpy-mlp"`.
fn without_step(name: &str) -> &str {
    name.trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start()
}

/// Each row of group `gemm` with the row of group `epoch` of the same crate
/// and name (after the epoch's step number): an epoch and its products alone.
fn epoch_and_products(rows: &[Row]) -> Vec<(&Row, &Row)> {
    let of = |group: &'static str| rows.iter().filter(move |r| r.group == group);
    let same = |e: &Row, p: &Row| e.krate == p.krate && without_step(&e.name) == p.name;
    let pair = |p| of("epoch").find(|e| same(e, p)).map(|e| (e, p));
    of("gemm").filter_map(pair).collect()
}

/// One row per epoch: its time, its matrix products' alone, and their ratio,
/// the cost of everything else (copies, bias, ReLU, softmax, the optimizer).
fn glue_table(pairs: &[(&Row, &Row)]) -> String {
    let headers = "stage|work|whole epoch|its matrix products alone|epoch ÷ products|the rest";
    let row = |(epoch, products): &(&Row, &Row)| {
        let (e, p) = (epoch.median[0], products.median[0]);
        let mut row = vec![stage_cell(epoch.stage, &epoch.krate), products.name.clone()];
        row.extend([format_time(e), format_time(p), format!("{:.2}×", e / p)]);
        row.push(format_time((e - p).max(0.0)));
        row
    };
    let headers: Vec<&str> = headers.split('|').collect();
    markdown(&headers, &pairs.iter().map(row).collect::<Vec<_>>())
}

/// A stage program's training run: stage, the command as typed, its summary.
type Run = (usize, String, Summary);

/// The training runs: what ran, on which network, how long, how well, and
/// when it was first seen at each of [`TARGETS`] (evaluations are spaced).
fn runs_table(runs: &[Run]) -> String {
    let headers =
        "stage|command|network|parameters|steps × batch|training time|final (best) test accuracy";
    let mut headers: Vec<String> = headers.split('|').map(String::from).collect();
    headers.extend(TARGETS.map(|t| format!("time to {:.0}%", 100.0 * t)));
    let row = |(stage, command, s): &Run| {
        let (history, info) = (&s.history, &s.info);
        let best = 100.0 * history.iter().map(|e| e.test_accuracy).fold(0.0, f64::max);
        let mut row = vec![
            stage.to_string(),
            format!("`{command}`"),
            info.network.clone(),
        ];
        row.push(thousands(info.parameters));
        row.push(format!("{} × {}", thousands(s.steps_done), info.batch_size));
        row.push(format_time(s.seconds_training * 1e9));
        row.push(format!("{:.2}% ({best:.2}%)", 100.0 * s.test_accuracy));
        for t in TARGETS {
            row.push(match history.iter().find(|e| e.test_accuracy >= t) {
                Some(e) => format_time(e.seconds * 1e9),
                None => format!("not reached (best {best:.1}%)"),
            });
        }
        row
    };
    markdown(&headers, &runs.iter().map(row).collect::<Vec<_>>())
}

/// Test accuracy against seconds of training, one line per run (train-cli's chart).
fn draw_accuracy(path: &Path, runs: &[Run]) -> Result<()> {
    let point = |e: &Evaluation| (e.seconds, 100.0 * e.test_accuracy);
    let line = |(stage, _, s): &Run| Series {
        name: format!("{stage} {}: {}", s.info.stage, s.info.network),
        points: s.history.iter().map(point).collect(),
    };
    let series: Vec<Series> = runs.iter().map(line).collect();
    let title = "Test accuracy against training time, each stage's program";
    let x = "seconds of training (evaluations not counted)";
    train_cli::draw_line_chart(path, title, x, "test accuracy (%)", &series, false)?;
    Ok(())
}

/// A markdown table, its columns padded so it also reads well as plain text.
fn markdown<H: AsRef<str>>(headers: &[H], rows: &[Vec<String>]) -> String {
    let headers: Vec<String> = headers.iter().map(|h| h.as_ref().to_string()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let rule = widths.iter().map(|&w| "-".repeat(w)).collect();
    let mut out = line(headers) + &line(rule).replace(' ', "-");
    for row in rows {
        out += &line(row.clone());
    }
    out
}

/// `45` → "45× faster", `0.5` → "2.0× slower".
fn format_speedup(s: f64) -> String {
    let (r, word) = if s >= 1.0 {
        (s, "faster")
    } else {
        (1.0 / s, "slower")
    };
    let r = if r < 10.0 {
        format!("{r:.1}")
    } else {
        thousands(r.round() as usize)
    };
    format!("{r}× {word}")
}

/// The unit that suits `ns` and its size in nanoseconds, rounding first so
/// that 999.7 µs shows as "1.00 ms".
fn unit_of(ns: f64) -> (f64, &'static str) {
    let units = [(1e9, "s"), (1e6, "ms"), (1e3, "µs")];
    let unit = units.into_iter().find(|&(scale, _)| ns / scale >= 0.9995);
    unit.unwrap_or((1.0, "ns"))
}

/// Three significant digits, with thousands separators past 999.
fn digits(v: f64, like: f64) -> String {
    match like {
        l if l >= 999.5 => thousands(v.round() as usize),
        l if l >= 99.95 => format!("{v:.0}"),
        l if l >= 9.995 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// A duration given in ns: "850 ns", "12.3 µs", "456 ms", "1.02 s".
fn format_time(ns: f64) -> String {
    let (scale, unit) = unit_of(ns);
    format!("{} {unit}", digits(ns / scale, ns / scale))
}

/// A median and its interval, in the median's unit: "1.02 s [0.99–1.05]".
fn format_estimate([point, lower, upper]: [f64; 3]) -> String {
    let (scale, unit) = unit_of(point);
    let d = |v: f64| digits(v / scale, point / scale);
    format!("{} {unit} [{}–{}]", d(point), d(lower), d(upper))
}

/// A group's medians as horizontal bars on a log time axis, each labelled
/// with its stage and bench id, one colour per stage; PNG or SVG by the
/// file's extension.
fn draw_bars(path: &Path, title: &str, rows: &[&Row]) -> Result<()> {
    train_cli::register_font();
    let longest = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let size = (600 + 8 * longest as u32, 110 + 34 * rows.len() as u32);
    match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => bars(SVGBackend::new(path, size), title, rows),
        Some("png") => bars(BitMapBackend::new(path, size), title, rows),
        _ => bail!("{}: expected a .png or .svg file name", path.display()),
    }
    .with_context(|| format!("cannot draw {}", path.display()))
}

fn bars<DB: DrawingBackend>(canvas: DB, title: &str, rows: &[&Row]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let labels: Vec<String> = rows
        .iter()
        .map(|r| format!("stage {} · {}", r.stage, r.name))
        .collect();
    let width = 20 + 8 * labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
    let root = canvas.into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let n = rows.len().max(1);
    let seconds: Vec<f64> = rows.iter().map(|r| r.median[0] * 1e-9).collect();
    let lo = seconds.iter().fold(1.0, |lo: f64, &s| lo.min(s)) / 3.0;
    let hi = seconds.iter().fold(lo * 10.0, |hi: f64, &s| hi.max(s)) * 8.0;
    // Segment 0 is at the bottom: row i is drawn in segment n - 1 - i.
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(s) => labels.get(n - 1 - s).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(width)
        .build_cartesian_2d((lo..hi).log_scale(), (0..n - 1).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n + 1)
        .y_label_formatter(&label)
        .x_desc("median time per iteration, seconds (log scale)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let style =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (r, &t)) in rows.iter().zip(&seconds).enumerate() {
        let s = n - 1 - i;
        let top = if s + 1 < n {
            SegmentValue::Exact(s + 1)
        } else {
            SegmentValue::Last
        };
        // Blue, orange, green, red, purple, brown: the order of train-cli's lines.
        let colour = Palette99::pick([3, 4, 1, 0, 5, 12][(r.stage - 1) % 6])
            .mix(0.85)
            .filled();
        let mut bar = Rectangle::new([(lo, SegmentValue::Exact(s)), (t, top)], colour);
        bar.set_margin(6, 6, 0, 0);
        let text = Text::new(
            format_time(r.median[0]),
            (t * 1.1, SegmentValue::CenterOf(s)),
            style.clone(),
        );
        chart.draw_series([bar]).map_err(err)?;
        chart.draw_series([text]).map_err(err)?;
    }
    root.present().map_err(err)
}

/// One paragraph saying how and where the numbers were measured.
fn about(quick: bool, minutes: f64, load: Option<(f64, f64)>) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpu.lines().find_map(|l| l.strip_prefix("model name"));
    let cpu = cpu.map_or(String::new(), |m| {
        format!("{}, ", m.trim_start_matches([' ', '\t', ':']))
    });
    let date = &humantime::format_rfc3339_seconds(SystemTime::now()).to_string()[..10];
    let (flag, samples) = match quick {
        true => (
            " --quick",
            "criterion's --quick mode: few samples, wide intervals",
        ),
        false => ("", "each bench's own sample count"),
    };
    format!(
        "Measured by `cargo xtask bench{flag}` on {date} ({cpu}{cores} cores available to the process). \
         Times per iteration are criterion's medians with their 95% confidence interval ({samples}); \
         training times are the programs' own clocks, evaluations not counted, release build. \
         The run took {minutes:.1} min.{}\n",
        load_note(load, cores)
    )
}

/// The load average (1 minute) at the start and end of the run, with a warning
/// when other work was competing for the cores: times measured then are longer.
fn load_note(load: Option<(f64, f64)>, cores: usize) -> String {
    let Some((start, end)) = load else {
        return String::new();
    };
    let busy = match start.max(end) > cores as f64 {
        true => {
            ": more than the cores, so other work shared them and these times are longer than on a quiet machine."
        }
        false => ".",
    };
    format!(" Load average (1 minute): {start:.1} at the start, {end:.1} at the end{busy}")
}

/// The 1-minute load average, where the system reports one (Linux).
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(stage: usize, name: &str, ns: f64, images: Option<u64>) -> Row {
        let (krate, group, name) = (format!("ch{stage}"), "g".into(), name.into());
        let median = [ns, ns * 0.99, ns * 1.01];
        Row {
            stage,
            krate,
            group,
            name,
            median,
            images,
        }
    }

    /// A table's rows below its header, the cells trimmed and joined by " | ".
    fn cells(table: &str) -> Vec<String> {
        let cells = |l: &str| {
            l.trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" | ")
        };
        table.lines().skip(2).map(cells).collect()
    }

    /// A `benchmark-complete` message as `cargo criterion --message-format=json` prints it.
    fn complete(id: &str, ns: f64, images: Option<u64>) -> String {
        let e = |x: f64| json!({"estimate": x, "lower_bound": x * 0.99, "upper_bound": x * 1.01, "unit": "ns"});
        let throughput: Vec<_> = images
            .iter()
            .map(|n| json!({"per_iteration": n, "unit": "elements"}))
            .collect();
        json!({"reason": "benchmark-complete", "id": id, "report_directory": "target/criterion/reports/x",
            "iteration_count": [1, 2], "measured_values": [ns, 2.0 * ns], "unit": "ns", "throughput": throughput,
            "typical": e(ns), "mean": e(ns), "median": e(ns), "median_abs_dev": e(ns / 100.0), "slope": null, "change": null})
        .to_string()
    }

    #[test]
    fn any_group_becomes_a_table_in_step_order() {
        // Run in another order than their step numbers; "1 stage 3 layers" and
        // "1 again" share a step number, so they keep the order they ran in.
        let ids = [
            "engine/ch6-mlp/2 gemm",
            "engine/1 stage 3 layers",
            "engine/10 fused",
            "engine/1 again",
        ];
        let mut messages: Vec<String> = ids
            .iter()
            .zip([2e8, 6e8, 1e8, 7e8])
            .map(|(id, ns)| complete(id, ns, Some(50_000)))
            .collect();
        messages.insert(1, "benchmark output that is not a message".into());
        messages.push(r#"{"reason":"group-complete","group_name":"engine","benchmarks":["engine/1 again","engine/10 fused","engine/1 stage 3 layers","engine/ch6-mlp/2 gemm"],"report_directory":"r"}"#.into());
        let mut rows = read_rows(&messages.join("\n"), 4, "ch6-mlp").unwrap();
        rows.sort_by_key(|r| (r.stage, step_number(&r.name)));
        assert!(rows.iter().all(|r| r.group == "engine"));
        let table = group_table(&rows.iter().collect::<Vec<_>>());
        assert!(table.starts_with("| stage       | benchmark        | time per iteration: median [95% interval] | images per iteration | images per second |"), "{table}");
        let expected = [
            "4 `ch6-mlp` | 1 stage 3 layers | 600 ms [594–606] | 50,000 | 83,333 | — | —",
            "4 `ch6-mlp` | 1 again | 700 ms [693–707] | 50,000 | 71,429 | 1.2× slower | 1.2× slower",
            "4 `ch6-mlp` | 2 gemm | 200 ms [198–202] | 50,000 | 250,000 | 3.5× faster | 3.0× faster",
            "4 `ch6-mlp` | 10 fused | 100 ms [99–101] | 50,000 | 500,000 | 2.0× faster | 6.0× faster",
        ];
        assert_eq!(cells(&table), expected);
        // No message, or a benchmark no group names, or another unit: an error.
        assert!(read_rows("", 1, "x").is_err());
        let ungrouped = read_rows(&complete("g/f", 1.0, None), 1, "x")
            .unwrap_err()
            .to_string();
        assert!(
            ungrouped.contains("no group names benchmark g/f"),
            "{ungrouped}"
        );
        let cycles = complete("g/f", 1.0, None).replace(r#""unit":"ns""#, r#""unit":"cycles""#);
        assert!(read_rows(&cycles, 1, "x").is_err());
    }

    #[test]
    fn rows_compare_per_image_when_both_say_their_images() {
        let per_sample = row(3, "per-sample", 3e9, Some(60_000));
        let batches = row(4, "batches", 4e8, Some(50_000));
        let other = row(4, "no images", 1e9, None);
        // 50,000 ns against 8,000 ns per image; then per iteration.
        let expected = [
            "3 `ch3` | per-sample | 3.00 s [2.97–3.03] | 60,000 | 20,000 | — | —",
            "4 `ch4` | batches | 400 ms [396–404] | 50,000 | 125,000 | 6.2× faster | 6.2× faster",
            "4 `ch4` | no images | 1.00 s [0.99–1.01] | — | — | 2.5× slower | 3.0× faster",
        ];
        let table = group_table(&[&per_sample, &batches, &other]);
        assert_eq!(cells(&table), expected);
        // No throughput anywhere: no image columns.
        let table = group_table(&[&other]);
        assert_eq!(
            cells(&table),
            ["4 `ch4` | no images | 1.00 s [0.99–1.01] | — | —"]
        );
    }

    #[test]
    fn each_epoch_is_paired_with_its_products_of_the_same_name() {
        let in_group = |group: &str, r: Row| Row {
            group: group.into(),
            ..r
        };
        let rows = [
            in_group("epoch", row(4, "2 numpy-mlp", 4.5e8, Some(50_000))),
            in_group("epoch", row(4, "4 keras, 2 threads", 1.2e9, None)),
            in_group("gemm", row(4, "keras, 2 threads", 8e8, None)),
            in_group("gemm", row(4, "numpy-mlp", 3e8, None)),
            in_group("gemm", row(4, "no epoch of this name", 1e8, None)),
            in_group("gemm", row(5, "numpy-mlp", 1e8, None)),
        ];
        let pairs = epoch_and_products(&rows);
        assert_eq!(pairs.len(), 2, "only same crate, same name");
        let expected = [
            "4 `ch4` | keras, 2 threads | 1.20 s | 800 ms | 1.50× | 400 ms",
            "4 `ch4` | numpy-mlp | 450 ms | 300 ms | 1.50× | 150 ms",
        ];
        assert_eq!(cells(&glue_table(&pairs)), expected);
    }

    #[test]
    fn the_book_is_updated_from_every_stage_only() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: BenchArgs,
        }
        let parse = |flags: &[&str]| clap::Parser::try_parse_from([&["bench"], flags].concat());
        let refused = parse(&["--update-book", "--stage", "ch6-mlp"]).map(|c: Cli| c.args);
        let message = refused.unwrap_err().to_string();
        assert!(
            message.contains("'--update-book' cannot be used with '--stage <CRATE>'"),
            "{message}"
        );
        assert!(parse(&["--update-book"]).is_ok_and(|c: Cli| c.args.update_book));
        assert!(parse(&["--stage", "ch6-mlp"]).is_ok_and(|c: Cli| c.args.stages == ["ch6-mlp"]));
    }

    #[test]
    fn step_numbers_file_names_and_numbers() {
        let steps = ["12 fused passes", "784-100-50-10 tanh", "naive"].map(step_number);
        assert_eq!(steps, [12, 0, 0]);
        assert_eq!(slug("per sample/epoch"), "per-sample-epoch");
        let speedups = [1234.4, 0.02].map(format_speedup);
        assert_eq!(speedups, ["1,234× faster", "50× slower"]);
        let times = [850.0, 12_345.0, 999_700.0, 4321e9].map(format_time);
        assert_eq!(times, ["850 ns", "12.3 µs", "1.00 ms", "4,321 s"]);
        let estimate = format_estimate([1.02e9, 0.991e9, 1.054e9]);
        assert_eq!(estimate, "1.02 s [0.99–1.05]");
        let t = markdown(&["a", "network"], &[vec!["µs".into(), "784→10".into()]]);
        assert_eq!(t, "| a  | network |\n|----|---------|\n| µs | 784→10  |\n");
    }

    /// A summary as a stage prints it (one line), with a stage's own key.
    const SUMMARY: &str = r#"{"stage":"ch5-backprop","network":"784-50-10","parameters":39760,"steps":300,
        "batch_size":100,"learning_rate":0.1,"train_size":60000,"seed":42,"steps_done":300,"seconds_training":30.0,
        "steps_per_second":10.0,"final_loss":0.3,"test_accuracy":0.9,"history":[
        {"step":100,"seconds":1.5,"loss":0.5,"train_accuracy":null,"validation_accuracy":null,"test_accuracy":0.86},
        {"step":200,"seconds":3.0,"loss":0.4,"train_accuracy":0.9,"validation_accuracy":null,"test_accuracy":0.91},
        {"step":300,"seconds":4.5,"loss":0.3,"train_accuracy":null,"validation_accuracy":null,"test_accuracy":0.90}
        ],"gradient":"backprop"}"#;

    /// Read back through train-cli's own type, both `#[serde(flatten)]` parts included.
    #[test]
    fn runs_are_read_with_train_clis_summary() {
        let summary = parse_summary(&format!("\n{}\n\n", SUMMARY.replace('\n', ""))).unwrap();
        assert_eq!(summary.info.parameters, 39_760);
        assert_eq!(summary.extra.keys().collect::<Vec<_>>(), ["gradient"]);
        let table = runs_table(&[(3, "cargo run -p ch5-backprop".into(), summary)]);
        let row = "3 | `cargo run -p ch5-backprop` | 784-50-10 | 39,760 | 300 × 100 | 30.0 s | 90.00% (91.00%) | 1.50 s | not reached (best 91.0%)";
        assert_eq!(cells(&table), [row]);

        let err = format!("{:#}", parse_summary("Test accuracy: 91%").unwrap_err());
        assert!(
            err.contains("--json summary") && err.contains("Test accuracy"),
            "{err}"
        );
        let mut no_history: serde_json::Value = serde_json::from_str(SUMMARY).unwrap();
        no_history["history"] = serde_json::json!([]);
        let err = parse_summary(&no_history.to_string()).unwrap_err();
        assert!(err.to_string().contains("no evaluations"), "{err}");
    }

    #[test]
    fn charts_draw_to_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [row(1, "1 naive", 1e9, None), row(3, "f64", 4e5, Some(100))];
        let rows: Vec<&Row> = rows.iter().collect();
        let file = |f: &str| dir.path().join(f);
        let summary = parse_summary(&SUMMARY.replace('\n', "")).unwrap();
        let runs = [(3, String::new(), summary)];
        for ext in ["png", "svg"] {
            draw_bars(&file(&format!("bars.{ext}")), "t", &rows).unwrap();
            draw_accuracy(&file(&format!("accuracy.{ext}")), &runs).unwrap();
        }
        let svg = std::fs::read_to_string(file("bars.svg")).unwrap();
        let labelled = svg.contains("stage 3 · f64") && svg.contains("1.00 s");
        assert!(labelled, "no labels");
        assert!(std::fs::metadata(file("accuracy.png")).unwrap().len() > 2000);
        assert!(draw_bars(&file("x.gif"), "t", &rows).is_err());
    }

    #[test]
    fn the_about_paragraph_says_when_the_machine_was_busy() {
        assert_eq!(load_note(None, 2), "");
        assert!(load_note(Some((1.5, 0.8)), 2).ends_with("at the end."));
        let busy = load_note(Some((6.2, 4.4)), 2);
        assert!(busy.contains("6.2 at the start, 4.4 at the end") && busy.contains("longer"));
        let about = about(true, 3.0, None);
        let date = about.split("--quick` on ").nth(1).unwrap();
        // `YYYY-MM-DD (`, this century.
        let shape = date
            .bytes()
            .take(12)
            .map(|b| if b.is_ascii_digit() { b'9' } else { b });
        assert_eq!(shape.collect::<Vec<u8>>(), b"9999-99-99 (", "{about}");
        assert!(date.starts_with("20"), "{about}");
    }
}
