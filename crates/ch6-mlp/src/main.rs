//! # `cargo run -p ch6-mlp`: stage 4's command line
//!
//! Stage 4 of the course (chapter 6). With no subcommand it trains: by
//! default the `numpy-mlp` settings (784-100-200-10, SGD, 25 epochs) on all
//! 60,000 training images; `--preset` picks a tutorial's exact settings and
//! the other flags change them. `predict` and `evaluate` use a saved model;
//! `compare-optimizers` and `compare-init` redo the book's chapter 6 figures.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use mnist::Dataset;
use serde_json::json;
use train_cli::{CommonArgs, Reporter, RunInfo, Series, positive_usize};

use ch6_mlp::init::Init;
use ch6_mlp::optim::OptimizerKind;
use ch6_mlp::train::{self, Config, Preset};
use ch6_mlp::{model_file, show};

/// Stage 4: a mini-batch MLP on MNIST with real optimizers
#[derive(Parser, Debug)]
#[command(name = "ch6-mlp", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a network (what runs when no subcommand is given)
    Train(TrainArgs),
    /// Draw test image N in the terminal with its label and the model's top-3 guesses
    Predict {
        /// A model saved with `--save FILE`
        #[arg(long, value_name = "FILE")]
        model: PathBuf,
        /// Which test image (0 to 9999)
        #[arg(long, value_name = "N")]
        index: usize,
        /// Directory with the four MNIST .gz files [default: $MNIST_DIR if set, else the repository's data/mnist/]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Print a saved model's test accuracy and its confusion matrix
    Evaluate {
        /// A model saved with `--save FILE`
        #[arg(long, value_name = "FILE")]
        model: PathBuf,
        /// Directory with the four MNIST .gz files [default: $MNIST_DIR if set, else the repository's data/mnist/]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Train the same settings once per seed (--seed, --seed + 1, …) and show how much the accuracies vary
    Seeds {
        /// How many seeds (networks) to train
        #[arg(long, value_name = "N", default_value_t = 5, value_parser = positive_usize)]
        count: usize,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// SGD, Momentum, AdaGrad, RMSprop and Adam side by side: loss against iterations
    CompareOptimizers(CompareArgs),
    /// Initial weights std 0.01, Xavier and He side by side (SGD): loss against iterations
    CompareInit(CompareArgs),
}

#[derive(Args, Debug, Clone)]
struct TrainArgs {
    /// Start from a tutorial's settings; the flags below override them [default: numpy-mlp's settings on all 60000 images, no validation split]
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Passes over the training set [default: the preset's, 25 or 5]
    #[arg(long, value_name = "N", value_parser = positive_usize)]
    epochs: Option<usize>,
    /// Images per mini-batch [default: the preset's, 32 or 128]
    #[arg(long, value_name = "N", value_parser = positive_usize)]
    batch_size: Option<usize>,
    /// Step size of the optimizer [default: the preset's, 0.1 or 0.001]
    #[arg(long, value_name = "ETA", value_parser = train_cli::learning_rate)]
    learning_rate: Option<f64>,
    /// Update rule [default: the preset's, sgd or rmsprop]
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerKind>,
    /// Initial weights [default: the preset's, xavier or xavier-uniform]
    #[arg(long, value_enum)]
    init: Option<Init>,
    /// Hidden layer sizes, comma-separated [default: the preset's, 100,200 or 512]
    #[arg(long, value_name = "N,N,…", value_parser = hidden_sizes)]
    hidden: Option<HiddenSizes>,
    /// Hold out the last N training images for validation, 0 for none [default: the preset's, 10000 or 0]
    #[arg(long, value_name = "N")]
    validation: Option<usize>,
    /// Threads a large matrix product may use [default: the preset's, 1 or 2]
    #[arg(long, value_name = "N", value_parser = positive_usize)]
    threads: Option<usize>,
    /// Save the trained network to FILE (safetensors)
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug, Clone)]
struct CompareArgs {
    /// Mini-batches to train each network for
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = positive_usize)]
    iterations: usize,
    /// Images per mini-batch
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = positive_usize)]
    batch_size: usize,
    #[command(flatten)]
    common: CommonArgs,
}

/// The sizes of `--hidden` (one flag value, not a list of flags).
#[derive(Clone, Debug)]
struct HiddenSizes(Vec<usize>);

/// Value parser for `--hidden`: `100,200` → `[100, 200]`.
fn hidden_sizes(s: &str) -> Result<HiddenSizes, String> {
    let sizes: Vec<usize> = s
        .split(',')
        .map(|part| positive_usize(part.trim()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("expected sizes such as 100,200 ({e})"))?;
    if sizes.is_empty() {
        return Err("expected at least one hidden size, such as 100".into());
    }
    Ok(HiddenSizes(sizes))
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_train(&cli.train),
        Some(Command::Train(args)) => run_train(&args),
        Some(Command::Predict {
            model,
            index,
            data_dir,
        }) => predict(&model, index, data_dir.as_deref()),
        Some(Command::Evaluate { model, data_dir }) => evaluate(&model, data_dir.as_deref()),
        Some(Command::Seeds { count, train }) => run_seeds(count, &train),
        Some(Command::CompareOptimizers(args)) => compare_optimizers(&args),
        Some(Command::CompareInit(args)) => compare_init(&args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The preset's settings with the flags' overrides.
fn config(args: &TrainArgs) -> Config {
    let mut config = args.preset.map_or_else(Config::default_run, Preset::config);
    let TrainArgs {
        epochs,
        batch_size,
        learning_rate,
        optimizer,
        init,
        hidden,
        validation,
        threads,
        ..
    } = args;
    config.epochs = epochs.unwrap_or(config.epochs);
    config.batch_size = batch_size.unwrap_or(config.batch_size);
    config.learning_rate = learning_rate.unwrap_or(config.learning_rate);
    config.optimizer = optimizer.unwrap_or(config.optimizer);
    config.init = init.unwrap_or(config.init);
    config.hidden = hidden.clone().map_or(config.hidden, |h| h.0);
    config.validation = validation.unwrap_or(config.validation);
    config.threads = threads.unwrap_or(config.threads);
    config
}

/// The images a run of `config` learns from, validates on and is tested on.
struct Data {
    train: Dataset,
    validation: Option<Dataset>,
    test: Dataset,
}

/// Loads MNIST and holds out the last `config.validation` training images.
fn load_split(config: &Config, common: &CommonArgs) -> anyhow::Result<Data> {
    let (all_train, test) = train_cli::load_data(common)?;
    if config.validation >= all_train.len() {
        bail!(
            "--validation {} leaves no training images: the training set has {} (see --train-size); use a smaller --validation or 0",
            config.validation,
            all_train.len()
        );
    }
    let (train, validation) = all_train.split_at(all_train.len() - config.validation);
    Ok(Data {
        train,
        validation: (config.validation > 0).then_some(validation),
        test,
    })
}

/// What the reporter shows of a run of `config` on `data` from `seed`.
fn run_info(config: &Config, data: &Data, seed: u64) -> RunInfo {
    let mlp_name = format!(
        "{} ReLU, {} init, {}",
        config
            .sizes()
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("-"),
        config.init,
        config.optimizer
    );
    RunInfo {
        stage: "ch6-mlp".into(),
        network: mlp_name,
        parameters: config.sizes().windows(2).map(|p| (p[0] + 1) * p[1]).sum(),
        steps: config.epochs * config.steps_per_epoch(data.train.len()),
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        train_size: data.train.len(),
        seed,
    }
}

// ANCHOR: run_train
fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    let config = config(args);
    let data = load_split(&config, &args.common)?;
    let mut reporter = Reporter::start(run_info(&config, &data, args.common.seed), &args.common);
    reporter.note(&format!(
        "Training on {} images, {} epochs of {} mini-batches{}",
        data.train.len(),
        config.epochs,
        config.steps_per_epoch(data.train.len()),
        data.validation.as_ref().map_or(String::new(), |v| format!(
            ", validating on the last {}",
            v.len()
        ))
    ));
    let mut trained = train::train(
        &config,
        args.common.seed,
        &data.train,
        data.validation.as_ref(),
        &data.test,
        &mut reporter,
    )?;

    let seconds = &trained.epoch_seconds;
    let mean = seconds.iter().sum::<f64>() / seconds.len() as f64;
    let fastest = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let mut lines = vec![format!(
        "Seconds per epoch: {mean:.3} mean, {fastest:.3} fastest ({} at most)",
        train_cli::count(config.threads, "thread")
    )];
    if let Some(v) = trained.validation_accuracy {
        lines.push(format!(
            "Validation accuracy: {:.2}% on the last {} training images",
            100.0 * v,
            config.validation
        ));
    }
    if let Some(path) = &args.save {
        model_file::save(&mut trained.mlp, path)?;
        lines.push(format!("Model saved to {}", path.display()));
    }
    let mut extra = serde_json::Map::new();
    extra.insert("preset".into(), json!(preset_name(args)));
    extra.insert("optimizer".into(), json!(config.optimizer.to_string()));
    extra.insert("init".into(), json!(config.init.to_string()));
    extra.insert("sizes".into(), json!(config.sizes()));
    extra.insert("epochs".into(), json!(config.epochs));
    extra.insert("threads".into(), json!(config.threads));
    extra.insert("epoch_seconds".into(), json!(seconds));
    extra.insert(
        "validation_accuracy".into(),
        json!(trained.validation_accuracy),
    );
    reporter.finish(trained.test_accuracy, &lines, extra)?;
    Ok(())
}
// ANCHOR_END: run_train

// ANCHOR: run_seeds
/// Trains `count` networks of the same settings, seeds `--seed`, `--seed + 1`,
/// …, and prints each one's accuracies and their spread: how far apart two
/// runs that differ only by chance land.
fn run_seeds(count: usize, args: &TrainArgs) -> anyhow::Result<()> {
    if args.save.is_some() || args.common.plot.is_some() {
        bail!(
            "--save and --plot are for one network, and `seeds` trains {count}: train the seed you want with `--seed S --save FILE` or `--plot FILE`"
        );
    }
    let config = config(args);
    let data = load_split(&config, &args.common)?;
    let silent = CommonArgs {
        quiet: true,
        json: false,
        ..args.common.clone()
    };
    let seeds: Vec<u64> = (0..count as u64)
        .map(|i| args.common.seed.wrapping_add(i))
        .collect();
    let info = run_info(&config, &data, args.common.seed);
    // With --json, stdout carries only the JSON object.
    let say = |line: String| {
        if args.common.json {
            eprintln!("{line}")
        } else {
            println!("{line}")
        }
    };
    if !args.common.quiet {
        eprintln!(
            "{}: {count} runs of {} steps, seeds {} to {}",
            info.network,
            info.steps,
            seeds[0],
            seeds[count - 1]
        );
    }
    let (mut tests, mut validations, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for &seed in &seeds {
        let mut reporter = Reporter::start(run_info(&config, &data, seed), &silent);
        let trained = train::train(
            &config,
            seed,
            &data.train,
            data.validation.as_ref(),
            &data.test,
            &mut reporter,
        )
        .with_context(|| format!("seed {seed}"))?;
        let validation = trained.validation_accuracy;
        say(format!(
            "seed {seed:>5}: {}test {:.2}%  ({:.1} s of training)",
            validation.map_or(String::new(), |v| format!("validation {:.2}%, ", 100.0 * v)),
            100.0 * trained.test_accuracy,
            reporter.training_seconds()
        ));
        tests.push(trained.test_accuracy);
        validations.extend(validation);
        rows.push(json!({"seed": seed, "validation_accuracy": validation, "test_accuracy": trained.test_accuracy}));
    }
    let tests = train::Spread::of(&tests);
    let validations = (!validations.is_empty()).then(|| train::Spread::of(&validations));
    let describe = |name: &str, s: &train::Spread| {
        format!(
            "{name} accuracy over {count} seeds: mean {:.2}%, standard deviation {:.2} points, from {:.2}% to {:.2}%",
            100.0 * s.mean,
            100.0 * s.sd,
            100.0 * s.min,
            100.0 * s.max
        )
    };
    if let Some(v) = &validations {
        say(describe("Validation", v));
    }
    say(describe("Test", &tests));
    if args.common.json {
        println!(
            "{}",
            json!({
                "stage": "ch6-mlp",
                "network": info.network,
                "preset": preset_name(args),
                "runs": rows,
                "test_accuracy": tests,
                "validation_accuracy": validations,
            })
        );
    }
    Ok(())
}
// ANCHOR_END: run_seeds

/// `--preset`'s value as typed (`numpy-mlp`), if one was given.
fn preset_name(args: &TrainArgs) -> Option<String> {
    args.preset
        .and_then(|p| p.to_possible_value())
        .map(|v| v.get_name().to_string())
}

fn test_set(data_dir: Option<&Path>) -> anyhow::Result<mnist::Dataset> {
    Ok(mnist::Mnist::load_from(data_dir)?.test)
}

fn predict(model: &Path, index: usize, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let mut mlp = model_file::load(model, 1)?;
    let test = test_set(data_dir)?;
    if index >= test.len() {
        bail!(
            "--index {index} is out of range: the test set has images 0 to {}",
            test.len() - 1
        );
    }
    let probabilities = mlp.probabilities(&test, index);
    print!("{}", show::digit(&test, index));
    let label = test.labels()[index];
    let top = show::top3(&probabilities);
    let verdict = if top[0].0 == label as usize {
        "right"
    } else {
        "wrong"
    };
    println!(
        "Test image {index}: label {label}, predicted {} ({verdict})",
        top[0].0
    );
    for (digit, p) in top {
        println!("  {digit}: {:6.2}%", 100.0 * p);
    }
    Ok(())
}

fn evaluate(model: &Path, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let mut mlp = model_file::load(model, 2)?;
    let test = test_set(data_dir)?;
    let predicted = mlp.predictions(&test);
    let right = predicted
        .iter()
        .zip(test.labels())
        .filter(|(p, l)| p == l)
        .count();
    println!(
        "Model {} ({}, {} parameters)",
        model.display(),
        mlp.describe(),
        mlp.parameter_count()
    );
    println!(
        "Test accuracy: {:.2}% ({right} of {})",
        100.0 * right as f64 / test.len() as f64,
        test.len()
    );
    println!();
    print!(
        "{}",
        show::confusion_table(&show::confusion_matrix(test.labels(), &predicted))
    );
    Ok(())
}

/// Trains the comparison network once per run and reports and draws the curves.
fn comparison(
    title: &str,
    runs: &[(String, Init, OptimizerKind, f64)],
    args: &CompareArgs,
) -> anyhow::Result<()> {
    let (train_set, test) = train_cli::load_data(&args.common)?;
    let quiet = args.common.quiet;
    let sizes = train::COMPARISON_SIZES
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-");
    if !quiet {
        eprintln!(
            "{title}: {sizes} ReLU, {} iterations of batch {} each",
            args.iterations, args.batch_size
        );
    }
    let curves = train::compare(
        runs,
        &train_set,
        &test,
        args.iterations,
        args.batch_size,
        args.common.seed,
        |c| {
            if !quiet {
                eprintln!("  {:<24} done", c.name);
            }
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}. Try a smaller learning rate or fewer --iterations"))?;
    // At most 100 points a line: trends, not noise.
    let window = args.iterations.div_ceil(100);
    let mut out = format!(
        "{:<24} {:>22} {:>14}\n",
        "",
        format!("mean loss, last {window}"),
        "test accuracy"
    );
    for c in &curves {
        out += &format!(
            "{:<24} {:>22.4} {:>13.2}%\n",
            c.name,
            train::tail_mean(&c.losses, window),
            100.0 * c.test_accuracy
        );
    }
    if args.common.json {
        let rows: Vec<_> = curves
            .iter()
            .map(|c| json!({"name": c.name, "losses": c.losses, "test_accuracy": c.test_accuracy}))
            .collect();
        eprint!("{out}");
        println!(
            "{}",
            json!({"title": title, "sizes": train::COMPARISON_SIZES, "runs": rows})
        );
    } else {
        print!("{out}");
    }
    if let Some(path) = &args.common.plot {
        let series: Vec<Series> = curves.iter().map(|c| train::smoothed(c, window)).collect();
        let chart_title = format!(
            "{title} · batch {} · means of {window} steps",
            args.batch_size
        );
        train_cli::draw_line_chart(
            path,
            &chart_title,
            "iteration",
            "training loss",
            &series,
            false,
        )
        .with_context(|| format!("drawing {}", path.display()))?;
        let line = format!("Chart drawn to {}", path.display());
        if args.common.json {
            eprintln!("{line}")
        } else {
            println!("{line}")
        }
    } else if !quiet {
        eprintln!("Add --plot PATH (.png or .svg) to draw the curves.");
    }
    Ok(())
}

// ANCHOR: compare_runs
fn compare_optimizers(args: &CompareArgs) -> anyhow::Result<()> {
    let runs: Vec<_> = train::optimizer_lineup()
        .into_iter()
        .map(|(kind, eta)| (format!("{kind} (η = {eta})"), Init::He, kind, eta))
        .collect();
    comparison("Optimizers on MNIST", &runs, args)
}

fn compare_init(args: &CompareArgs) -> anyhow::Result<()> {
    let runs: Vec<_> = [Init::Std, Init::Xavier, Init::He]
        .into_iter()
        .map(|init| (init.to_string(), init, OptimizerKind::Sgd, 0.01))
        .collect();
    comparison("Initial weights, SGD η = 0.01", &runs, args)
}
// ANCHOR_END: compare_runs
