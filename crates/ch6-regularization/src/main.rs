//! # `cargo run -p ch6-regularization`: stage 5's command line
//!
//! Stage 5 of the course (chapter 6). With no subcommand it runs the
//! chapter's central lesson, the overfitting experiment (`overfit` with its
//! defaults): a deep network on 300 images learns them all and generalises
//! poorly; weight decay and dropout narrow the gap. `batchnorm` shows batch
//! normalisation rescuing bad initial weights; `search` chooses learning
//! rate and weight decay on a validation split, then tests once; `train`
//! trains the full-data recipe; `seeds` trains it once per seed. The library
//! does the work; this file binds flags to it. Every file the program writes
//! goes through [`write_chart`] (charts; `--json` goes to stdout).

use std::path::Path;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use mnist::{Accuracies, Dataset, TrainEvent};
use serde_json::json;
use train_cli::{CommonArgs, Reporter, RunInfo, Series, Written, one_of, positive_usize, say};

use ch6_mlp::init::Init;
use ch6_mlp::optim::OptimizerKind;
use ch6_mlp::train::Spread;
use ch6_regularization::network::{Config, Network};
use ch6_regularization::search::{self, LogRange, Trial};
use ch6_regularization::train::{self as training, Curve, Event};

/// Stage 5: batch normalisation, weight decay, dropout and hyperparameter search
#[derive(Parser, Debug)]
#[command(
    name = "ch6-regularization",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "With no subcommand: the overfitting experiment with its defaults (the `overfit` flags apply)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    overfit: OverfitArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The book's overfitting experiment: six hidden layers of 100 on the first 300 training images (--train-size), trained with no regularisation, with weight decay and with dropout; train and test accuracy after every epoch and the final gap of each (what runs with no subcommand)
    Overfit(OverfitArgs),
    /// Batch normalisation against bad initial weights: the same deep network on the first 1,000 training images (--train-size), with and without batch norm, from weights N(0, s²) for --scales scales s from 1 to 1e-4; train accuracy per epoch, one small chart per scale
    Batchnorm(BatchNormArgs),
    /// Hyperparameter search done right: split a validation set off the first 500 training images (--train-size), random search over learning rate and weight decay on a log scale scored on it, then retrain the winner on all those images and only then measure the test set once
    Search(SearchArgs),
    /// Train the full-data recipe (batch norm, dropout, Adam; see the defaults of the flags) on all 60,000 training images, test accuracy after every epoch
    Train(TrainArgs),
    /// Train the recipe once per seed (--seed, --seed + 1, …) and show the mean and spread of the test accuracies
    Seeds {
        /// How many seeds (networks) to train
        #[arg(long, value_name = "N", default_value_t = 10, value_parser = positive_usize, allow_negative_numbers = true)]
        count: usize,
        #[command(flatten)]
        train: TrainArgs,
    },
}

#[derive(Args, Debug, Clone)]
struct OverfitArgs {
    /// Passes over the training images
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = positive_usize, allow_negative_numbers = true)]
    epochs: usize,
    /// Weight decay λ of the second run (the loss gains λ/2·Σ‖W‖²)
    #[arg(
        long,
        value_name = "LAMBDA",
        default_value_t = 0.1,
        allow_negative_numbers = true
    )]
    weight_decay: f64,
    /// Dropout ratio of the third run, in [0, 1)
    #[arg(
        long,
        value_name = "RATIO",
        default_value_t = 0.2,
        allow_negative_numbers = true
    )]
    dropout: f64,
    /// SGD's step size
    #[arg(long, value_name = "ETA", default_value_t = 0.01, value_parser = train_cli::learning_rate, allow_negative_numbers = true)]
    learning_rate: f64,
    /// Images per mini-batch
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = positive_usize, allow_negative_numbers = true)]
    batch_size: usize,
    /// Measure train and test accuracy every N epochs (and after the last)
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = positive_usize, allow_negative_numbers = true)]
    eval_every: usize,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug, Clone)]
struct BatchNormArgs {
    /// How many initial weight scales, from 1 down to 1e-4 evenly on a log scale
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = positive_usize, allow_negative_numbers = true)]
    scales: usize,
    /// Passes over the training images, per run
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = positive_usize, allow_negative_numbers = true)]
    epochs: usize,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug, Clone)]
struct SearchArgs {
    /// How many random trials
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = positive_usize, allow_negative_numbers = true)]
    trials: usize,
    /// Passes over the search's training images, per trial and for the retrained winner
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = positive_usize, allow_negative_numbers = true)]
    epochs: usize,
    /// The fraction of the training images held out to validate on
    #[arg(
        long,
        value_name = "F",
        default_value_t = 0.2,
        allow_negative_numbers = true
    )]
    validation_fraction: f64,
    /// Learning rates to search, LOW..HIGH, drawn on a log scale
    #[arg(long, value_name = "LOW..HIGH", default_value = "1e-6..1e-2", value_parser = range)]
    learning_rate_range: (f64, f64),
    /// Weight decays to search, LOW..HIGH, drawn on a log scale
    #[arg(long, value_name = "LOW..HIGH", default_value = "1e-8..1e-4", value_parser = range)]
    weight_decay_range: (f64, f64),
    /// How many of the best trials to list and draw
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = positive_usize, allow_negative_numbers = true)]
    show: usize,
    #[command(flatten)]
    common: CommonArgs,
}

/// Value parser for `LOW..HIGH` (the numbers are checked by [`LogRange::new`]).
fn range(s: &str) -> Result<(f64, f64), String> {
    let (low, high) = s
        .split_once("..")
        .ok_or_else(|| format!("expected LOW..HIGH such as 1e-6..1e-2, got `{s}`"))?;
    let number = |t: &str| {
        t.trim()
            .parse::<f64>()
            .map_err(|_| format!("expected LOW..HIGH such as 1e-6..1e-2, got `{s}`"))
    };
    Ok((number(low)?, number(high)?))
}

#[derive(Args, Debug, Clone)]
struct TrainArgs {
    /// Hidden layer sizes, comma-separated
    #[arg(long, value_name = "N,N,…", default_value = "256,256", value_parser = hidden_sizes, allow_negative_numbers = true)]
    hidden: HiddenSizes,
    /// Leave batch normalisation out
    #[arg(long)]
    no_batch_norm: bool,
    /// Dropout ratio after each hidden ReLU, in [0, 1); 0 for none
    #[arg(
        long,
        value_name = "RATIO",
        default_value_t = 0.2,
        allow_negative_numbers = true
    )]
    dropout: f64,
    /// Weight decay λ, 0 or more
    #[arg(
        long,
        value_name = "LAMBDA",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    weight_decay: f64,
    /// Update rule
    #[arg(long, default_value = "adam", value_parser = one_of(&OptimizerKind::ALL, OptimizerKind::name, |k| k.to_string()))]
    optimizer: OptimizerKind,
    /// Step size of the optimizer
    #[arg(long, value_name = "ETA", default_value_t = 0.001, value_parser = train_cli::learning_rate, allow_negative_numbers = true)]
    learning_rate: f64,
    /// Initial weights
    #[arg(long, default_value = "he", value_parser = one_of(&Init::ALL, Init::name, |i| i.to_string()))]
    init: Init,
    /// Images per mini-batch
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = positive_usize, allow_negative_numbers = true)]
    batch_size: usize,
    /// Passes over the training set
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = positive_usize, allow_negative_numbers = true)]
    epochs: usize,
    #[command(flatten)]
    common: CommonArgs,
}

/// The sizes of `--hidden`.
#[derive(Clone, Debug)]
struct HiddenSizes(Vec<usize>);

fn hidden_sizes(s: &str) -> Result<HiddenSizes, String> {
    s.split(',')
        .map(|part| positive_usize(part.trim()))
        .collect::<Result<_, _>>()
        .map(HiddenSizes)
        .map_err(|e| format!("expected sizes such as 256,256 ({e})"))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    train_cli::exit_code(match cli.command {
        None => run_overfit(&cli.overfit),
        Some(Command::Overfit(args)) => run_overfit(&args),
        Some(Command::Batchnorm(args)) => run_batch_norm(&args),
        Some(Command::Search(args)) => run_search(&args),
        Some(Command::Train(args)) => run_train(&args),
        Some(Command::Seeds { count, train }) => run_seeds(count, &train),
    })
}

/// The training images (the first `default_size`, or `--train-size`) and the test set.
fn load(common: &CommonArgs, default_size: usize) -> anyhow::Result<(Dataset, Dataset)> {
    let (train, test) = train_cli::load_data(
        &CommonArgs {
            train_size: Some(common.train_size.unwrap_or(default_size)),
            ..common.clone()
        },
        &[],
    )?;
    Ok((train, test))
}

/// A line of progress on stderr, unless `--quiet`.
fn progress(common: &CommonArgs, line: &str) {
    if !common.quiet {
        eprintln!("{line}");
    }
}

/// Every chart the program writes goes through here: `series` as lines, or
/// with `grid`, one small chart per panel.
fn write_chart(
    path: &Path,
    title: &str,
    x: &str,
    y: &str,
    series: &[Series],
) -> anyhow::Result<Written> {
    train_cli::draw_line_chart(path, title, x, y, series, false)
        .with_context(|| format!("drawing {}", path.display()))
}

/// `(epoch, 100·accuracy)` points.
fn points(epochs: &[usize], accuracies: &[f64]) -> Vec<(f64, f64)> {
    epochs
        .iter()
        .zip(accuracies)
        .map(|(&e, a)| (e as f64, 100.0 * a))
        .collect()
}

// ANCHOR: run_overfit
fn run_overfit(args: &OverfitArgs) -> anyhow::Result<()> {
    let base = Config {
        learning_rate: args.learning_rate,
        batch_size: args.batch_size,
        ..training::overfit_config(args.epochs)
    };
    let (train, test) = load(&args.common, 300)?;
    let runs = training::overfit_runs(&base, args.weight_decay, args.dropout);
    progress(
        &args.common,
        &format!(
            "Overfitting: {} on the first {} training images, three runs from seed {}",
            base.describe(),
            train.len(),
            args.common.seed
        ),
    );
    let curves = training::overfit(
        &runs,
        args.common.seed,
        &train,
        &test,
        args.eval_every,
        |c| progress(&args.common, &format!("  {:<24} done", c.name)),
    )?;
    let mut table = format!(
        "{:<24} {:>8} {:>8} {:>8}\n",
        "after the last epoch", "train", "test", "gap"
    );
    for c in &curves {
        let (tr, te) = (
            c.train.last().copied().unwrap_or(0.0),
            c.test.last().copied().unwrap_or(0.0),
        );
        table += &format!(
            "{:<24} {:>7.2}% {:>7.2}% {:>6.2} points{}\n",
            c.name,
            100.0 * tr,
            100.0 * te,
            100.0 * c.gap(),
            c.diverged
                .as_ref()
                .map_or(String::new(), |d| format!("  (stopped: {d})"))
        );
    }
    say(&args.common, table.trim_end());
    // ANCHOR_END: run_overfit
    if args.common.json {
        println!(
            "{}",
            json!({"experiment": "overfit", "network": base.describe(), "train_size": train.len(), "seed": args.common.seed, "runs": curves})
        );
    }
    if let Some(path) = &args.common.plot {
        let mut series = Vec::new();
        for c in &curves {
            series.push(Series {
                name: format!("{}: train", c.name),
                points: points(&c.epochs, &c.train),
            });
            series.push(Series {
                name: format!("{}: test", c.name),
                points: points(&c.epochs, &c.test),
            });
        }
        let title = format!("Overfitting: 6×100 on {} images", train.len());
        let written = write_chart(path, &title, "epoch", "accuracy (%)", &series)?;
        say(&args.common, &written.said("Chart drawn to", path));
    } else {
        progress(
            &args.common,
            "Add --plot PATH (.png or .svg) to draw the curves, --json for the numbers.",
        );
    }
    Ok(())
}

fn run_batch_norm(args: &BatchNormArgs) -> anyhow::Result<()> {
    let (train, _) = load(&args.common, 1000)?;
    let scales = training::weight_scales(args.scales);
    let base = training::overfit_config(args.epochs);
    Config {
        batch_norm: true,
        ..base.clone()
    }
    .check(train.len())?;
    progress(
        &args.common,
        &format!(
            "Batch norm against initial weight scales: {} on the first {} training images, {} scales",
            base.describe().replace("He init", "weights N(0, s²)"),
            train.len(),
            scales.len()
        ),
    );
    let last = |c: &Curve| {
        c.train
            .last()
            .map_or("stopped".into(), |a| format!("{:.1}%", 100.0 * a))
    };
    let results = training::batch_norm_effect(
        &scales,
        args.epochs,
        args.common.seed,
        &train,
        |s, w, wo| {
            progress(
                &args.common,
                &format!(
                    "  scale {s:<10.3e} with batch norm {:>8}   without {:>8}",
                    last(w),
                    last(wo)
                ),
            )
        },
    )?;
    let mut table = format!(
        "{:<12} {:>22} {:>22}\n",
        "weight scale", "train, with BatchNorm", "train, without"
    );
    for (s, w, wo) in &results {
        table += &format!("{s:<12.3e} {:>22} {:>22}\n", last(w), last(wo));
    }
    let (with, without) = training::mean_final_train(&results);
    table += &format!(
        "Mean final train accuracy over the {} scales: {:.1}% with batch norm, {:.1}% without",
        results.len(),
        100.0 * with,
        100.0 * without
    );
    say(&args.common, &table);
    if args.common.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(s, w, wo)| json!({"scale": s, "with_batch_norm": w, "without": wo}))
            .collect();
        println!(
            "{}",
            json!({"experiment": "batchnorm", "network": base.describe(), "train_size": train.len(), "seed": args.common.seed, "runs": rows})
        );
    }
    if let Some(path) = &args.common.plot {
        let written = train_cli::write_atomically(path, |temp| draw_grid(temp, &results))
            .with_context(|| format!("drawing {}", path.display()))?;
        say(&args.common, &written.said("Chart drawn to", path));
    }
    Ok(())
}

fn run_search(args: &SearchArgs) -> anyhow::Result<()> {
    let lr = LogRange::new(
        "learning rate",
        args.learning_rate_range.0,
        args.learning_rate_range.1,
    )?;
    let wd = LogRange::new(
        "weight decay",
        args.weight_decay_range.0,
        args.weight_decay_range.1,
    )?;
    let (all, test) = load(&args.common, 500)?;
    // ANCHOR: run_search
    let (train, validation) = search::validation_split(&all, args.validation_fraction)?;
    let base = training::overfit_config(args.epochs);
    progress(
        &args.common,
        &format!(
            "Random search, {} trials: {} on {} images, validated on the last {} of the first {} training images",
            args.trials,
            base.describe().replace("η = 0.01", "η searched"),
            train.len(),
            validation.len(),
            all.len()
        ),
    );
    let space = search::Space {
        learning_rate: lr,
        weight_decay: wd,
    };
    let trials = search::search(
        &base,
        space,
        args.trials,
        args.common.seed,
        &train,
        &validation,
        |t| {
            progress(
                &args.common,
                &format!(
                    "  trial {:>3}: η = {:.2e}, λ = {:.2e}: validation {:.1}%",
                    t.number,
                    t.learning_rate,
                    t.weight_decay,
                    100.0 * t.score()
                ),
            )
        },
    )?;
    let best = &trials[0];
    // Only now, with the hyperparameters chosen, the test set: once.
    let winner = Config {
        learning_rate: best.learning_rate,
        weight_decay: best.weight_decay,
        ..base.clone()
    };
    let retrained = training::run(
        "winner",
        &winner,
        args.common.seed,
        &all,
        Some(&test),
        args.epochs,
    )?;
    // ANCHOR_END: run_search
    let shown = &trials[..args.show.min(trials.len())];
    let mut table = format!(
        "{:<6} {:>6} {:>12} {:>12} {:>11}\n",
        "rank", "trial", "η", "λ", "validation"
    );
    for (rank, t) in shown.iter().enumerate() {
        table += &format!(
            "{:<6} {:>6} {:>12.3e} {:>12.3e} {:>10.1}%\n",
            rank + 1,
            t.number,
            t.learning_rate,
            t.weight_decay,
            100.0 * t.score()
        );
    }
    table += &format!(
        "The winner, trial {} (η = {:.3e}, λ = {:.3e}), retrained on all {} images: test accuracy {:.2}% (train {:.2}%)",
        best.number,
        best.learning_rate,
        best.weight_decay,
        all.len(),
        100.0 * retrained.test.last().copied().unwrap_or(0.0),
        100.0 * retrained.train.last().copied().unwrap_or(0.0),
    );
    say(&args.common, &table);
    if args.common.json {
        println!(
            "{}",
            json!({"experiment": "search", "network": base.describe(), "train_size": train.len(), "validation_size": validation.len(), "seed": args.common.seed,
                   "learning_rate_range": lr, "weight_decay_range": wd, "trials": trials, "winner": retrained})
        );
    }
    if let Some(path) = &args.common.plot {
        let series: Vec<Series> = shown
            .iter()
            .map(|t: &Trial| Series {
                name: format!("η {:.1e}, λ {:.1e}", t.learning_rate, t.weight_decay),
                points: points(&(1..=t.validation.len()).collect::<Vec<_>>(), &t.validation),
            })
            .collect();
        let title = format!(
            "Random search: the best {} of {} trials",
            shown.len(),
            trials.len()
        );
        let written = write_chart(path, &title, "epoch", "validation accuracy (%)", &series)?;
        say(&args.common, &written.said("Chart drawn to", path));
    }
    Ok(())
}

/// The recipe of the `train` flags.
fn config(args: &TrainArgs) -> Config {
    Config {
        hidden: args.hidden.0.clone(),
        batch_norm: !args.no_batch_norm,
        dropout: args.dropout,
        weight_decay: args.weight_decay,
        init: args.init,
        weight_scale: None,
        optimizer: args.optimizer,
        learning_rate: args.learning_rate,
        batch_size: args.batch_size,
        epochs: args.epochs,
    }
}

fn run_info(config: &Config, train: &Dataset, seed: u64) -> RunInfo {
    RunInfo {
        stage: "ch6-regularization".into(),
        network: config.describe(),
        parameters: Network::<f32>::new(config, seed).parameter_count(),
        steps: config.epochs * config.steps_per_epoch(train.len()),
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        train_size: train.len(),
        seed,
    }
}

// ANCHOR: train_recipe
/// Trains `config` from `seed`, the reporter following every step and the
/// test accuracy after every epoch. Returns the last test accuracy.
fn train_reported(
    config: &Config,
    seed: u64,
    train: &Dataset,
    test: &Dataset,
    reporter: &mut Reporter,
) -> anyhow::Result<f64> {
    let mut net = Network::<f32>::new(config, seed);
    let mut last = 0.0;
    training::train(&mut net, config, seed, train, |net, event| match event {
        Event::Step(loss) => reporter.record(TrainEvent::Step(loss)),
        Event::Epoch(_) => {
            last = net.accuracy(test);
            reporter.record(TrainEvent::Evaluated(Accuracies {
                train: None,
                validation: None,
                test: last,
            }))
        }
    })?;
    Ok(last)
}
// ANCHOR_END: train_recipe

fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    let config = config(args);
    // Batch norm keeps a few more copies of each layer's outputs than stage 4.
    train_cli::check_memory(
        &config.sizes(),
        config.batch_size,
        4,
        8,
        "--hidden or --batch-size",
    )?;
    let (train, test) = train_cli::load_data(&args.common, &[])?;
    config.check(train.len())?;
    let mut reporter = Reporter::start(run_info(&config, &train, args.common.seed), &args.common);
    reporter.note(&format!(
        "Training {} on {} images, {} epochs of {} mini-batches",
        config.describe(),
        train.len(),
        config.epochs,
        config.steps_per_epoch(train.len())
    ));
    let test_accuracy = train_reported(&config, args.common.seed, &train, &test, &mut reporter)?;
    let extra = json!({"sizes": config.sizes(), "batch_norm": config.batch_norm, "dropout": config.dropout, "weight_decay": config.weight_decay, "optimizer": config.optimizer.to_string(), "epochs": config.epochs});
    let serde_json::Value::Object(extra) = extra else {
        unreachable!("an object")
    };
    reporter.finish(test_accuracy, &[], extra)?;
    Ok(())
}

fn run_seeds(count: usize, args: &TrainArgs) -> anyhow::Result<()> {
    if args.common.plot.is_some() {
        bail!(
            "--plot is for one network, and `seeds` trains {count}: draw one seed with `train --seed S --plot FILE`"
        );
    }
    let config = config(args);
    // Batch norm keeps a few more copies of each layer's outputs than stage 4.
    train_cli::check_memory(
        &config.sizes(),
        config.batch_size,
        4,
        8,
        "--hidden or --batch-size",
    )?;
    let (train, test) = train_cli::load_data(&args.common, &[])?;
    config.check(train.len())?;
    let first = args.common.seed;
    progress(
        &args.common,
        &format!(
            "{}: {count} runs on {} images, seeds {first} to {}",
            config.describe(),
            train.len(),
            first + count as u64 - 1
        ),
    );
    let silent = CommonArgs {
        quiet: true,
        json: false,
        plot: None,
        ..args.common.clone()
    };
    let (mut rows, mut tests) = (Vec::new(), Vec::new());
    for seed in (first..).take(count) {
        // A silent reporter still stops a run that diverges.
        let mut reporter = Reporter::start(run_info(&config, &train, seed), &silent);
        let t = train_reported(&config, seed, &train, &test, &mut reporter)
            .with_context(|| format!("seed {seed}"))?;
        say(
            &args.common,
            &format!(
                "seed {seed:>5}: test {:.2}%  ({:.1} s of training)",
                100.0 * t,
                reporter.training_seconds()
            ),
        );
        rows.push(json!({"seed": seed, "test_accuracy": t}));
        tests.push(t);
    }
    let spread = Spread::of(&tests);
    say(
        &args.common,
        &format!("Test accuracy over {count} seeds: {}", spread.describe()),
    );
    if args.common.json {
        println!(
            "{}",
            json!({"stage": "ch6-regularization", "network": config.describe(), "train_size": train.len(), "runs": rows, "test_accuracy": spread})
        );
    }
    Ok(())
}

/// The batch-norm experiment's grid: one small chart per weight scale, train
/// accuracy against epochs with (blue) and without (orange) batch norm.
/// (`path` is the temporary file of `train_cli::write_atomically`.)
fn draw_grid(path: &Path, results: &[(f64, Curve, Curve)]) -> anyhow::Result<()> {
    use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
    train_cli::register_font();
    let rows = results.len().div_ceil(GRID_COLUMNS).max(1);
    let size = (1200, 60 + 230 * rows as u32);
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("svg") => grid(
            SVGBackend::new(path, size).into_drawing_area(),
            results,
            rows,
        ),
        _ => grid(
            BitMapBackend::new(path, size).into_drawing_area(),
            results,
            rows,
        ),
    }
}

const GRID_COLUMNS: usize = 4;

fn grid<DB: plotters::prelude::DrawingBackend>(
    root: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    results: &[(f64, Curve, Curve)],
    rows: usize,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::*;
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
    root.fill(&WHITE).map_err(err)?;
    let title = "Train accuracy (%) against epochs: with batch norm (blue), without (orange)";
    let root = root.titled(title, ("sans-serif", 22)).map_err(err)?;
    for ((scale, with, without), area) in
        results.iter().zip(root.split_evenly((rows, GRID_COLUMNS)))
    {
        let epochs = with.train.len().max(without.train.len()).max(2) as f64;
        let mut chart = ChartBuilder::on(&area)
            .caption(format!("weights N(0, {scale:.2e}²)"), ("sans-serif", 15))
            .margin(6)
            .x_label_area_size(22)
            .y_label_area_size(32)
            .build_cartesian_2d(1.0..epochs, 0.0..100.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(5)
            .y_labels(5)
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(err)?;
        for (curve, colour) in [
            (with, RGBColor(31, 119, 180)),
            (without, RGBColor(255, 127, 14)),
        ] {
            let line = LineSeries::new(points(&curve.epochs, &curve.train), colour.stroke_width(2));
            chart.draw_series(line).map_err(err)?;
        }
    }
    root.present().map_err(err)
}
