//! # `cargo run -p ch6-regularization`: stage 5's command line
//!
//! Stage 5 of the course (chapter 6). With no subcommand it runs the
//! chapter's central lesson, the overfitting experiment (`overfit` with its
//! defaults): a deep network on 300 images learns them all and generalises
//! poorly; weight decay and dropout narrow the gap. `batchnorm` shows batch
//! normalisation rescuing bad initial weights; `search` chooses learning
//! rate and weight decay on a validation split, then tests once; `train`
//! trains the full-data recipe (and `--save`s it); `seeds` trains it once
//! per seed; `predict` and `evaluate` use a saved network. The library does
//! the work and `train_cli` the printing and drawing; this file binds flags
//! to them.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Parser, Subcommand};
use mnist::Dataset;
use serde_json::json;
use train_cli::models::{self, GALLERY};
use train_cli::{CommonArgs, EvaluateArgs, Output, PredictArgs, Reporter, RunInfo, SeedRun};
use train_cli::{SeedsArgs, Series, Sizes, TrainError, one_of, positive_usize, progress, say};

use ch6_mlp::engine::evaluate;
use ch6_mlp::engine::model_file;
use ch6_mlp::engine::train::{Measure, TrainEvent, Trained};
use ch6_mlp::{Init, OptimizerKind};
use ch6_regularization::network::{Config, RegularizedNet};
use ch6_regularization::search::{self, LogRange};
use ch6_regularization::train as training;

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
        #[command(flatten)]
        seeds: SeedsArgs,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Show a test digit and what a saved network (`train --save FILE`) predicts for it
    Predict(PredictArgs),
    /// Print a saved network's test accuracy and its confusion matrix; --gallery draws the digits it gets wrong
    Evaluate(EvaluateArgs),
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
    /// How many initial weight scales, from 1 down to 1e-4 evenly on a log scale (at most 100)
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = train_cli::count_up_to(100), allow_negative_numbers = true)]
    scales: usize,
    /// Passes over the training images, per run
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = positive_usize, allow_negative_numbers = true)]
    epochs: usize,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug, Clone)]
struct SearchArgs {
    /// How many random trials (at most 10,000)
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = train_cli::count_up_to(10_000), allow_negative_numbers = true)]
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
    let bad = || format!("expected LOW..HIGH such as 1e-6..1e-2, got `{s}`");
    let (low, high) = s.split_once("..").ok_or_else(bad)?;
    // Exactly two dots: `1e-3...1e-2` is not the range 1e-3 to .1e-2.
    if high.starts_with('.') {
        return Err(bad());
    }
    let number = |t: &str| t.trim().parse::<f64>().map_err(|_| bad());
    Ok((number(low)?, number(high)?))
}

#[derive(Args, Debug, Clone)]
struct TrainArgs {
    /// Hidden layer sizes, comma-separated
    #[arg(long, value_name = "N,N,…", default_value = "256,256", value_parser = train_cli::sizes, allow_negative_numbers = true)]
    hidden: Sizes,
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
    /// Save the trained network to FILE (safetensors), for `predict` and `evaluate`
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    train_cli::exit_code(match cli.command {
        None => run_overfit(&cli.overfit),
        Some(Command::Overfit(args)) => run_overfit(&args),
        Some(Command::Batchnorm(args)) => run_batch_norm(&args),
        Some(Command::Search(args)) => run_search(&args),
        Some(Command::Train(args)) => run_train(&args),
        Some(Command::Seeds { seeds, train }) => run_seeds(&seeds, &train),
        Some(Command::Predict(args)) => run_predict(&args),
        Some(Command::Evaluate(args)) => run_evaluate(&args),
    })
}

/// The training images (the first `default_size`, or `--train-size`) and the test set.
fn load(common: &CommonArgs, default_size: usize) -> anyhow::Result<(Dataset, Dataset)> {
    let train_size = Some(common.train_size.unwrap_or(default_size));
    train_cli::load_data(
        &CommonArgs {
            train_size,
            ..common.clone()
        },
        &[],
    )
}

/// Draws `--plot`, if given, with `draw` (one of train-cli's charts), or says how.
fn plot(
    common: &CommonArgs,
    draw: impl FnOnce(&std::path::Path) -> anyhow::Result<train_cli::Written>,
) -> anyhow::Result<()> {
    let Some(path) = &common.plot else {
        return Ok(());
    };
    say(common, &train_cli::drawn(path, "Chart drawn to", draw)?);
    Ok(())
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
    let (common, seed) = (&args.common, args.common.seed);
    let heading = format!(
        "Overfitting: {} on the first {} training images, three runs from seed {seed}",
        base.describe(),
        train.len()
    );
    progress(common, &heading);
    let curves = training::overfit(&runs, seed, &train, &test, args.eval_every, |c| {
        progress(common, &format!("  {:<24} done", c.name))
    })?;
    say(common, &training::overfit_table(&curves));
    // ANCHOR_END: run_overfit
    if common.json {
        println!(
            "{}",
            json!({"experiment": "overfit", "network": base.describe(), "train_size": train.len(), "seed": seed, "runs": curves})
        );
    }
    if common.plot.is_none() {
        let hint = "Add --plot PATH (.png or .svg) to draw the curves, --json for the numbers.";
        progress(common, hint);
    }
    let series: Vec<Series> = training::overfit_lines(&curves)
        .into_iter()
        .map(Series::from)
        .collect();
    let title = format!("Overfitting: 6×100 on {} images", train.len());
    plot(common, |path| {
        train_cli::draw_line_chart(path, &title, "epoch", "accuracy (%)", &series, false)
    })
}

fn run_batch_norm(args: &BatchNormArgs) -> anyhow::Result<()> {
    let (train, _) = load(&args.common, 1000)?;
    let (common, seed) = (&args.common, args.common.seed);
    let scales = training::weight_scales(args.scales);
    let base = training::overfit_config(args.epochs);
    Config {
        batch_norm: true,
        ..base.clone()
    }
    .check(train.len())?;
    let network = base.describe().replace("He init", "weights N(0, s²)");
    progress(
        common,
        &format!(
            "Batch norm against initial weight scales: {network} on the first {} training images, {} scales",
            train.len(),
            scales.len()
        ),
    );
    let results = training::batch_norm_effect(&scales, args.epochs, seed, &train, |s, w, wo| {
        let (w, wo) = (training::final_train(w), training::final_train(wo));
        progress(
            common,
            &format!("  scale {s:<10.3e} with batch norm {w:>8}   without {wo:>8}"),
        )
    })?;
    say(common, &training::batch_norm_table(&results));
    if common.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(s, w, wo)| json!({"scale": s, "with_batch_norm": w, "without": wo}))
            .collect();
        println!(
            "{}",
            json!({"experiment": "batchnorm", "network": base.describe(), "train_size": train.len(), "seed": seed, "runs": rows})
        );
    }
    let panels = training::batch_norm_panels(&results).into_iter();
    let panels: Vec<_> = panels
        .map(|(title, lines)| (title, lines.into_iter().map(Series::from).collect()))
        .collect();
    let title = "Train accuracy (%) against epochs: with batch norm (blue), without (orange)";
    plot(common, |path| {
        train_cli::draw_line_grid(path, title, &panels, 4)
    })
}

fn run_search(args: &SearchArgs) -> anyhow::Result<()> {
    let (lr, wd) = (args.learning_rate_range, args.weight_decay_range);
    let lr = LogRange::new("learning rate", lr.0, lr.1)?;
    let wd = LogRange::new("weight decay", wd.0, wd.1)?;
    let (all, test) = load(&args.common, 500)?;
    let (common, seed) = (&args.common, args.common.seed);
    // ANCHOR: run_search
    let (train, validation) = search::validation_split(&all, args.validation_fraction)?;
    let base = training::overfit_config(args.epochs);
    let network = base.describe().replace("η = 0.01", "η searched");
    progress(
        common,
        &format!(
            "Random search, {} trials: {network} on {} images, validated on the last {} of the first {} training images",
            args.trials,
            train.len(),
            validation.len(),
            all.len()
        ),
    );
    let space = search::Space {
        learning_rate: lr,
        weight_decay: wd,
    };
    let trials = search::search(&base, space, args.trials, seed, &train, &validation, |t| {
        let score = 100.0 * t.score();
        progress(
            common,
            &format!(
                "  trial {:>3}: η = {:.2e}, λ = {:.2e}: validation {score:.1}%",
                t.number, t.learning_rate, t.weight_decay
            ),
        )
    })?;
    let best = &trials[0];
    // Only now, with the hyperparameters chosen, the test set: once.
    let winner = Config {
        learning_rate: best.learning_rate,
        weight_decay: best.weight_decay,
        ..base.clone()
    };
    let retrained = training::run("winner", &winner, seed, &all, Some(&test), args.epochs)?;
    // ANCHOR_END: run_search
    say(
        common,
        &search::table(&trials, args.show, &retrained, all.len()),
    );
    if common.json {
        println!(
            "{}",
            json!({"experiment": "search", "network": base.describe(), "train_size": train.len(), "validation_size": validation.len(), "seed": seed,
                   "learning_rate_range": lr, "weight_decay_range": wd, "trials": trials, "winner": retrained})
        );
    }
    let shown = &trials[..args.show.min(trials.len())];
    let series: Vec<Series> = (search::validation_lines(shown).into_iter())
        .map(Series::from)
        .collect();
    let title = format!(
        "Random search: the best {} of {} trials",
        shown.len(),
        trials.len()
    );
    plot(common, |path| {
        train_cli::draw_line_chart(
            path,
            &title,
            "epoch",
            "validation accuracy (%)",
            &series,
            false,
        )
    })
}

/// The recipe of the `train` flags, checked against `images` training images.
fn recipe(args: &TrainArgs, images: usize) -> anyhow::Result<Config> {
    let config = Config {
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
    };
    config.check(images)?;
    Ok(config)
}

/// The training and test sets of `train` and `seeds`, `--save` checked first.
fn data(args: &TrainArgs) -> anyhow::Result<(Dataset, Dataset)> {
    // Batch norm keeps a few more copies of each layer's outputs than stage 4.
    let mut sizes = vec![mnist::IMAGE_SIZE];
    sizes.extend(&args.hidden.0);
    sizes.push(mnist::CLASSES);
    train_cli::check_memory(&sizes, args.batch_size, 4, 8, "--hidden or --batch-size")?;
    let is_ours = model_file::is_model::<RegularizedNet<f32>>;
    let save = args.save.as_deref().map(|path| Output {
        flag: "--save",
        path,
        is_ours,
    });
    train_cli::load_data(&args.common, &save.into_iter().collect::<Vec<_>>())
}

// ANCHOR: train_recipe
/// Trains `config` from `seed` with the engine's loop, the reporter
/// following every step and the test accuracy after every epoch.
fn train_reported(
    config: &Config,
    seed: u64,
    train: &Dataset,
    test: &Dataset,
    reporter: &mut Reporter,
) -> Result<(RegularizedNet<f32>, Trained), TrainError> {
    let measure = Measure {
        test: Some(test),
        every: 1,
        ..Measure::default()
    };
    training::train(config, seed, train, measure, |event| match event {
        TrainEvent::Step(loss) => reporter.step(loss),
        TrainEvent::Evaluated(a) => {
            reporter.evaluated(a.train, a.validation, a.test.unwrap_or(f64::NAN));
            Ok(())
        }
    })
}
// ANCHOR_END: train_recipe

fn run_info(config: &Config, train: &Dataset, test: &Dataset, seed: u64) -> RunInfo {
    let (network, steps) = (
        config.describe(),
        config.epochs * config.steps_per_epoch(train.len()),
    );
    let parameters = RegularizedNet::<f32>::new(config, seed).parameter_count();
    let (batch_size, learning_rate, train_size) =
        (config.batch_size, config.learning_rate, train.len());
    RunInfo {
        stage: "ch6-regularization".into(),
        network,
        parameters,
        steps,
        batch_size,
        learning_rate,
        train_size,
        test_size: test.len(),
        seed,
    }
}

fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    let (train, test) = data(args)?;
    let (config, seed) = (recipe(args, train.len())?, args.common.seed);
    let mut reporter = Reporter::start(run_info(&config, &train, &test, seed), &args.common);
    let steps = config.steps_per_epoch(train.len());
    reporter.note(&format!(
        "Training {} on {} images, {} epochs of {steps} mini-batches",
        config.describe(),
        train.len(),
        config.epochs
    ));
    let (net, trained) = train_reported(&config, seed, &train, &test, &mut reporter)?;
    let extra = json!({"sizes": config.sizes(), "batch_norm": config.batch_norm, "dropout": config.dropout, "weight_decay": config.weight_decay, "optimizer": config.optimizer.to_string(), "epochs": config.epochs});
    // A network that learned nothing (finish says so) is not saved.
    reporter.finish(trained.test_accuracy(), &[], train_cli::fields(extra))?;
    if let Some(path) = &args.save {
        let written = train_cli::write_bytes(path, &model_file::to_bytes(&net))?;
        say(&args.common, &written.said("Model saved to", path));
    }
    Ok(())
}

fn run_seeds(seeds: &SeedsArgs, args: &TrainArgs) -> anyhow::Result<()> {
    let count = seeds.count.unwrap_or(10);
    if args.save.is_some() || args.common.plot.is_some() {
        bail!(
            "--save and --plot are for one network, and `seeds` trains {count}: train the seed you want with `train --seed S --save FILE` or `--plot FILE`"
        );
    }
    let (train, test) = data(args)?;
    let config = recipe(args, train.len())?;
    let heading = format!(
        "{}: {count} runs on {} images",
        config.describe(),
        train.len()
    );
    let about = json!({"stage": "ch6-regularization", "network": config.describe(), "train_size": train.len()});
    models::seeds(&args.common, count, &heading, about, |seed, silent| {
        // A silent reporter still stops a run that diverges.
        let mut reporter = Reporter::start(run_info(&config, &train, &test, seed), silent);
        let (_, trained) = train_reported(&config, seed, &train, &test, &mut reporter)?;
        Ok(SeedRun {
            validation: None,
            test: trained.test_accuracy(),
            epoch_seconds: trained.epoch_seconds,
        })
    })
}

fn run_predict(args: &PredictArgs) -> anyhow::Result<()> {
    let mut net: RegularizedNet<f32> = model_file::load(&args.model.model, 1)?;
    let test = args.test_set()?;
    let p = evaluate::probabilities(&mut net, &test, args.index);
    args.print(&test, &p.map_err(|e| args.model.error(e))?);
    Ok(())
}

fn run_evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    args.check_outputs()?;
    let mut net: RegularizedNet<f32> = model_file::load(&args.model.model, 1)?;
    let test = args.model.test_set()?;
    let predicted = evaluate::predictions(&mut net, &test).map_err(|e| args.model.error(e))?;
    args.print(&net.describe(), net.parameter_count(), &test, &predicted);
    if args.gallery.is_some() {
        let mistakes = evaluate::mistakes(&mut net, &test, &predicted, GALLERY);
        let mistakes = mistakes.map_err(|e| args.model.error(e))?;
        let mistakes: Vec<_> = mistakes.into_iter().map(Into::into).collect();
        args.draw_gallery(&test, &mistakes)?;
    }
    Ok(())
}
