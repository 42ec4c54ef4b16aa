//! # `cargo run -p ch6-mlp`: stage 4's command line
//!
//! Stage 4 of the course (chapter 6). With no subcommand it trains: by
//! default the `numpy-mlp` settings on all 60,000 training images;
//! `--preset` picks a tutorial's exact settings and the other flags change
//! them. `seeds` trains one network per seed; `predict` and `evaluate` use a
//! saved model; `compare-optimizers` and `compare-init` redo the book's
//! chapter 6 figures. The library does the work; this file binds flags to it.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use mnist::Dataset;
use serde_json::json;
use train_cli::{
    CommonArgs, Output, Reporter, RunInfo, Series, count_up_to, one_of, positive_usize, say,
    whole_number,
};

use ch6_mlp::init::Init;
use ch6_mlp::optim::OptimizerKind;
use ch6_mlp::train::{self, Config, Preset, Spread};
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
    /// Train the same settings once per seed (--seed, --seed + 1, …) and show how much the accuracies vary
    Seeds {
        /// How many seeds (networks) to train
        #[arg(long, value_name = "N", default_value_t = 5, value_parser = count_up_to(1_000), allow_negative_numbers = true)]
        count: usize,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Draw test image N in the terminal with its label and the model's top-3 guesses
    Predict {
        /// Which test image (0 to 9999)
        #[arg(long, value_name = "N", value_parser = whole_number::<usize>, allow_negative_numbers = true)]
        index: usize,
        /// Print the label and all ten probabilities as one JSON object instead
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Print a saved model's test accuracy and its confusion matrix
    Evaluate(ModelArgs),
    /// SGD, Momentum, AdaGrad, RMSprop and Adam side by side: loss against iterations
    CompareOptimizers(CompareArgs),
    /// Initial weights std 0.01, Xavier and He side by side (SGD): loss against iterations
    CompareInit(CompareArgs),
}

/// `--preset`'s help: each preset's settings, from the settings themselves.
fn preset_help(preset: Preset) -> String {
    preset.config().describe()
}

#[derive(Args, Debug, Clone)]
struct TrainArgs {
    /// Start from a tutorial's settings; the flags below override them [default: numpy-mlp's settings on all 60000 images, none held out]
    #[arg(long, value_parser = one_of(&Preset::ALL, Preset::name, preset_help))]
    preset: Option<Preset>,
    /// Passes over the training set [default: the preset's]
    #[arg(long, value_name = "N", value_parser = count_up_to(100_000), allow_negative_numbers = true)]
    epochs: Option<usize>,
    /// Images per mini-batch [default: the preset's]
    #[arg(long, value_name = "N", value_parser = positive_usize, allow_negative_numbers = true)]
    batch_size: Option<usize>,
    /// Step size of the optimizer [default: the preset's]
    #[arg(long, value_name = "ETA", value_parser = train_cli::learning_rate, allow_negative_numbers = true)]
    learning_rate: Option<f64>,
    /// Update rule [default: the preset's]
    #[arg(long, value_parser = one_of(&OptimizerKind::ALL, OptimizerKind::name, |k| k.to_string()))]
    optimizer: Option<OptimizerKind>,
    /// Initial weights [default: the preset's]
    #[arg(long, value_parser = one_of(&Init::ALL, Init::name, |i| i.to_string()))]
    init: Option<Init>,
    /// Hidden layer sizes, comma-separated, such as 100,200 [default: the preset's]
    #[arg(long, value_name = "N,N,…", value_parser = hidden_sizes, allow_negative_numbers = true)]
    hidden: Option<HiddenSizes>,
    /// Hold out the last N training images for validation, 0 for none [default: the preset's]
    #[arg(long, value_name = "N", value_parser = whole_number::<usize>, allow_negative_numbers = true)]
    validation: Option<usize>,
    /// Threads a large matrix product may use [default: the preset's]
    #[arg(long, value_name = "N", value_parser = positive_usize, allow_negative_numbers = true)]
    threads: Option<usize>,
    /// Save the trained network to FILE (safetensors)
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug, Clone)]
struct ModelArgs {
    /// A model saved with `--save FILE`
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Directory with the four MNIST .gz files [default: $MNIST_DIR if set, else the repository's data/mnist/]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct CompareArgs {
    /// Mini-batches to train each network for
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = count_up_to(10_000_000), allow_negative_numbers = true)]
    iterations: usize,
    /// Images per mini-batch
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = positive_usize, allow_negative_numbers = true)]
    batch_size: usize,
    #[command(flatten)]
    common: CommonArgs,
}

/// The sizes of `--hidden` (one flag value, not a list of flags).
#[derive(Clone, Debug)]
struct HiddenSizes(Vec<usize>);

/// Value parser for `--hidden`: `100,200` → `[100, 200]`.
fn hidden_sizes(s: &str) -> Result<HiddenSizes, String> {
    s.split(',')
        .map(|part| positive_usize(part.trim()))
        .collect::<Result<_, _>>()
        .map(HiddenSizes)
        .map_err(|e| format!("expected sizes such as 100,200 ({e})"))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    train_cli::exit_code(match cli.command {
        None => run_train(&cli.train),
        Some(Command::Train(args)) => run_train(&args),
        Some(Command::Seeds { count, train }) => run_seeds(count, &train),
        Some(Command::Predict { index, json, model }) => predict(index, json, &model),
        Some(Command::Evaluate(model)) => evaluate(&model),
        Some(Command::CompareOptimizers(args)) => compare_optimizers(&args),
        Some(Command::CompareInit(args)) => compare_init(&args),
    })
}

/// The preset's settings with the flags' overrides.
fn config(args: &TrainArgs) -> Config {
    let c = args.preset.map_or_else(Config::default_run, Preset::config);
    Config {
        epochs: args.epochs.unwrap_or(c.epochs),
        batch_size: args.batch_size.unwrap_or(c.batch_size),
        learning_rate: args.learning_rate.unwrap_or(c.learning_rate),
        optimizer: args.optimizer.unwrap_or(c.optimizer),
        init: args.init.unwrap_or(c.init),
        hidden: args.hidden.clone().map_or(c.hidden, |h| h.0),
        validation: args.validation.unwrap_or(c.validation),
        threads: args.threads.unwrap_or(c.threads),
        drop_last: c.drop_last,
    }
}

/// Training, validation (the last `config.validation` training images, if any) and test sets.
fn load_split(
    config: &Config,
    common: &CommonArgs,
    outputs: &[Output],
) -> anyhow::Result<(Dataset, Option<Dataset>, Dataset)> {
    let flags = "--hidden or --batch-size";
    train_cli::check_memory(&config.sizes(), config.batch_size, 4, 4, flags)?;
    let (all, test) = train_cli::load_data(common, outputs)?;
    if config.validation >= all.len() {
        bail!(
            "--validation {} leaves no training images: the training set has {} (see --train-size); use a smaller --validation or 0",
            config.validation,
            all.len()
        );
    }
    let (train, validation) = all.split_at(all.len() - config.validation);
    Ok((train, (config.validation > 0).then_some(validation), test))
}

/// What the reporter shows of a run of `config` on `train` images from `seed`.
fn run_info(config: &Config, train: &Dataset, seed: u64) -> RunInfo {
    RunInfo {
        stage: "ch6-mlp".into(),
        network: format!(
            "{} ReLU, {} init, {}",
            sizes(config),
            config.init,
            config.optimizer
        ),
        parameters: config.sizes().windows(2).map(|p| (p[0] + 1) * p[1]).sum(),
        steps: config.epochs * config.steps_per_epoch(train.len()),
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        train_size: train.len(),
        seed,
    }
}

fn sizes(config: &Config) -> String {
    config
        .sizes()
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    let config = config(args);
    let save = args.save.as_deref().map(|path| Output {
        flag: "--save",
        path,
        is_ours: model_file::is_model,
    });
    let outputs: Vec<Output> = save.into_iter().collect();
    let (train_set, validation, test) = load_split(&config, &args.common, &outputs)?;
    let mut reporter = Reporter::start(
        run_info(&config, &train_set, args.common.seed),
        &args.common,
    )
    .with_init_flag("--init");
    reporter.note(&format!(
        "Training on {} images, {} epochs of {} mini-batches{}",
        train_set.len(),
        config.epochs,
        config.steps_per_epoch(train_set.len()),
        validation.as_ref().map_or(String::new(), |v| format!(
            ", validating on the last {}",
            v.len()
        ))
    ));
    let trained = train::train(
        &config,
        args.common.seed,
        &train_set,
        validation.as_ref(),
        &test,
        |e| reporter.record(e),
    )?;

    let seconds = &trained.epoch_seconds;
    let fastest = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let mut lines = vec![format!(
        "Seconds per epoch: {:.3} mean, {fastest:.3} fastest ({} at most)",
        seconds.iter().sum::<f64>() / seconds.len() as f64,
        train_cli::count(config.threads, "thread")
    )];
    if let Some(v) = trained.validation_accuracy {
        lines.push(format!(
            "Validation accuracy: {:.2}% on the last {} training images",
            100.0 * v,
            config.validation
        ));
    }
    let extra = json!({
        "preset": args.preset.map(Preset::name),
        "optimizer": config.optimizer.to_string(),
        "init": config.init.to_string(),
        "sizes": config.sizes(),
        "epochs": config.epochs,
        "threads": config.threads,
        "epoch_seconds": seconds,
        "validation_accuracy": trained.validation_accuracy,
    });
    let serde_json::Value::Object(extra) = extra else {
        unreachable!("an object")
    };
    // A network that learned nothing (finish says so) is not saved.
    reporter.finish(trained.test_accuracy, &lines, extra)?;
    if let Some(path) = &args.save {
        let written = train_cli::write_bytes(path, &model_file::to_bytes(&trained.mlp))?;
        say(&args.common, &written.said("Model saved to", path));
    }
    Ok(())
}

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
    let (train_set, validation, test) = load_split(&config, &args.common, &[])?;
    let first = args.common.seed;
    if !args.common.quiet {
        let info = run_info(&config, &train_set, first);
        eprintln!(
            "{}: {count} runs of {} steps, seeds {first} to {}",
            info.network,
            info.steps,
            first + count as u64 - 1
        );
    }
    let silent = CommonArgs {
        quiet: true,
        json: false,
        ..args.common.clone()
    };
    let (mut rows, mut tests, mut validations) = (Vec::new(), Vec::new(), Vec::new());
    for seed in (first..).take(count) {
        // A silent reporter still stops a run that diverges.
        let mut reporter =
            Reporter::start(run_info(&config, &train_set, seed), &silent).with_init_flag("--init");
        let trained = train::train(&config, seed, &train_set, validation.as_ref(), &test, |e| {
            reporter.record(e)
        })
        .with_context(|| format!("seed {seed}"))?;
        let (v, t) = (trained.validation_accuracy, trained.test_accuracy);
        let shown = v.map_or(String::new(), |v| format!("validation {:.2}%, ", 100.0 * v));
        say(
            &args.common,
            &format!(
                "seed {seed:>5}: {shown}test {:.2}%  ({:.1} s of training)",
                100.0 * t,
                trained.epoch_seconds.iter().sum::<f64>()
            ),
        );
        rows.push(json!({"seed": seed, "validation_accuracy": v, "test_accuracy": t}));
        tests.push(t);
        validations.extend(v);
    }
    let spreads = [("Validation", validations), ("Test", tests)]
        .map(|(name, values)| (name, (!values.is_empty()).then(|| Spread::of(&values))));
    for (name, spread) in &spreads {
        if let Some(s) = spread {
            say(
                &args.common,
                &format!("{name} accuracy over {count} seeds: {}", s.describe()),
            );
        }
    }
    if args.common.json {
        let network = run_info(&config, &train_set, first).network;
        println!(
            "{}",
            json!({"stage": "ch6-mlp", "network": network, "preset": args.preset.map(Preset::name), "runs": rows, "validation_accuracy": spreads[0].1, "test_accuracy": spreads[1].1})
        );
    }
    Ok(())
}

/// The test set for `predict` and `evaluate`, which must hold an image.
fn test_set(args: &ModelArgs) -> anyhow::Result<Dataset> {
    let test = mnist::Mnist::load_from(args.data_dir.as_deref())?.test;
    if test.is_empty() {
        bail!("the test set holds no images: there is nothing to predict or evaluate");
    }
    Ok(test)
}

fn predict(index: usize, json: bool, args: &ModelArgs) -> anyhow::Result<()> {
    let mut mlp = model_file::load(&args.model, 1)?;
    let test = test_set(args)?;
    if index >= test.len() {
        bail!(
            "--index {index} is out of range: the test set has images 0 to {}",
            test.len() - 1
        );
    }
    if json {
        // All ten, unrounded: what the book's draw-a-digit page is checked against.
        let probabilities = mlp.probabilities(&test, index);
        let label = test.labels()[index];
        println!(
            "{}",
            json!({"index": index, "label": label, "probabilities": probabilities})
        );
    } else {
        print!("{}", show::prediction(&mut mlp, &test, index));
    }
    Ok(())
}

fn evaluate(args: &ModelArgs) -> anyhow::Result<()> {
    let mut mlp = model_file::load(&args.model, 2)?;
    let test = test_set(args)?;
    println!(
        "Model {} ({}, {} parameters)",
        args.model.display(),
        mlp.describe(),
        mlp.parameter_count()
    );
    print!("{}", show::evaluation(&mut mlp, &test));
    Ok(())
}

/// Trains the comparison network once per run, prints the final losses and
/// accuracies, and draws the curves with `--plot`.
fn comparison(
    title: &str,
    runs: &[(String, Init, OptimizerKind, f64)],
    args: &CompareArgs,
) -> anyhow::Result<()> {
    let sizes = train::COMPARISON_SIZES;
    train_cli::check_memory(&sizes, args.batch_size, 4, 4, "--batch-size")?;
    let (train_set, test) = train_cli::load_data(&args.common, &[])?;
    let quiet = args.common.quiet;
    if !quiet {
        let sizes = train::COMPARISON_SIZES.map(|s| s.to_string()).join("-");
        eprintln!(
            "{title}: {sizes} ReLU, {} iterations of batch {} each",
            args.iterations, args.batch_size
        );
    }
    let progress = |c: &train::Curve| {
        if !quiet {
            eprintln!("  {:<24} done", c.name)
        }
    };
    let curves = train::compare(
        runs,
        &train_set,
        &test,
        args.iterations,
        args.batch_size,
        args.common.seed,
        progress,
    )
    .map_err(|e| anyhow::anyhow!("{e}. Try a smaller learning rate or fewer --iterations"))?;
    // At most 100 points a line: trends, not noise.
    let window = args.iterations.div_ceil(100);
    say(
        &args.common,
        train::comparison_table(&curves, window).trim_end(),
    );
    if args.common.json {
        let rows: Vec<_> = curves
            .iter()
            .map(|c| json!({"name": c.name, "losses": c.losses, "test_accuracy": c.test_accuracy}))
            .collect();
        println!(
            "{}",
            json!({"title": title, "sizes": train::COMPARISON_SIZES, "runs": rows})
        );
    }
    if let Some(path) = &args.common.plot {
        let series: Vec<Series> = curves
            .iter()
            .map(|c| Series {
                name: c.name.clone(),
                points: train::smoothed(c, window),
            })
            .collect();
        let chart_title = format!(
            "{title} · batch {} · means of {window} steps",
            args.batch_size
        );
        let written = train_cli::draw_line_chart(
            path,
            &chart_title,
            "iteration",
            "training loss",
            &series,
            false,
        )
        .with_context(|| format!("drawing {}", path.display()))?;
        say(&args.common, &written.said("Chart drawn to", path));
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
