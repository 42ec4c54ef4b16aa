//! # `cargo run -p ch6-mlp`: stage 4's command line
//!
//! Stage 4 of the course (chapter 6). With no subcommand it trains: by
//! default the `numpy-mlp` settings on all 60,000 training images;
//! `--preset` picks a tutorial's exact settings and the other flags change
//! them. `seeds` trains one network per seed; `predict` and `evaluate` use a
//! saved model; `compare-optimizers` and `compare-init` redo the book's
//! chapter 6 figures. The library does the work; this file binds flags to it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use mnist::Dataset;
use serde_json::json;
use train_cli::{
    Colours, CommonArgs, Histogram, Output, Plane, Reporter, RunInfo, Series, Tile, Track,
    count_up_to, one_of, positive_usize, say, whole_number,
};

use ch6_mlp::init::Init;
use ch6_mlp::optim::OptimizerKind;
use ch6_mlp::train::{self, Config, Preset, Spread};
use ch6_mlp::{model_file, pictures, show};

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
    /// Print a saved model's test accuracy and its confusion matrix; --gallery draws the digits it gets wrong
    Evaluate(EvaluateArgs),
    /// SGD, Momentum, AdaGrad, RMSprop and Adam side by side: loss against iterations
    CompareOptimizers(CompareArgs),
    /// Initial weights std 0.01, Xavier and He side by side (SGD): loss against iterations
    CompareInit(CompareArgs),
    /// What 5 hidden layers of 100 units output for 1,000 random inputs, by initial weights and activation (the book's figures 6-10 to 6-14)
    Activations(PictureArgs),
    /// The paths of SGD, Momentum, AdaGrad and Adam down f(x, y) = x²/20 + y² from (-7, 2) (the book's figure 6-8)
    OptimizerPaths(PictureArgs),
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
    /// Draw the first layer's first 64 units (columns of W1) as 28×28 images into this file (.png or .svg)
    #[arg(long, value_name = "PATH", value_parser = train_cli::plot_path)]
    plot_weights: Option<PathBuf>,
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
struct EvaluateArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Draw the first 24 test digits the model gets wrong, with their labels and its guesses, into this file (.png or .svg)
    #[arg(long, value_name = "PATH", value_parser = train_cli::plot_path)]
    gallery: Option<PathBuf>,
    /// Replace the --gallery file even when it is not a picture this program drew
    #[arg(long)]
    force: bool,
}

#[derive(Args, Debug, Clone)]
struct PictureArgs {
    /// Draw the figure into this file (.png or .svg)
    #[arg(long, value_name = "PATH", value_parser = train_cli::plot_path)]
    plot: Option<PathBuf>,
    /// Seed for the random inputs and weights
    #[arg(long, default_value_t = 42, value_parser = whole_number::<u64>, allow_negative_numbers = true)]
    seed: u64,
    /// Replace the --plot file even when it is not a picture this program drew
    #[arg(long)]
    force: bool,
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
        Some(Command::Evaluate(args)) => evaluate(&args),
        Some(Command::CompareOptimizers(args)) => compare_optimizers(&args),
        Some(Command::CompareInit(args)) => compare_init(&args),
        Some(Command::Activations(args)) => activations(&args),
        Some(Command::OptimizerPaths(args)) => optimizer_paths(&args),
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
    let weights = args.plot_weights.as_deref().map(|path| Output {
        flag: "--plot-weights",
        path,
        is_ours: train_cli::is_plot,
    });
    let outputs: Vec<Output> = save.into_iter().chain(weights).collect();
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
    if let Some(path) = &args.plot_weights {
        let written = plot_weights(path, &trained.mlp)?;
        say(
            &args.common,
            &written.said("First-layer units drawn to", path),
        );
    }
    Ok(())
}

/// Trains `count` networks of the same settings, seeds `--seed`, `--seed + 1`,
/// …, and prints each one's accuracies and their spread: how far apart two
/// runs that differ only by chance land.
fn run_seeds(count: usize, args: &TrainArgs) -> anyhow::Result<()> {
    if args.save.is_some() || args.common.plot.is_some() || args.plot_weights.is_some() {
        bail!(
            "--save, --plot and --plot-weights are for one network, and `seeds` trains {count}: train the seed you want with `--seed S --save FILE` or `--plot FILE`"
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

fn evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.gallery {
        let output = Output {
            flag: "--gallery",
            path,
            is_ours: train_cli::is_plot,
        };
        train_cli::check_outputs(
            &[output],
            std::slice::from_ref(&args.model.model),
            args.force,
        )?;
    }
    let model = &args.model;
    let mut mlp = model_file::load(&model.model, 2)?;
    let test = test_set(model)?;
    println!(
        "Model {} ({}, {} parameters)",
        model.model.display(),
        mlp.describe(),
        mlp.parameter_count()
    );
    print!("{}", show::evaluation(&mut mlp, &test));
    if let Some(path) = &args.gallery {
        let written = gallery(path, &mut mlp, &test)?;
        println!("{}", written.said("Misclassified digits drawn to", path));
    }
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

/// `--plot-weights`: the first layer's first 64 units. Unit `j` is column
/// `j` of `W1` (784 weights, one per pixel), drawn as a 28×28 image.
fn plot_weights(path: &Path, mlp: &ch6_mlp::Mlp<f32>) -> anyhow::Result<train_cli::Written> {
    let w1 = &mlp.layers[0].w;
    let tiles: Vec<Tile> = w1
        .column_iter()
        .take(64)
        .map(|unit| Tile {
            pixels: unit.iter().map(|&w| f64::from(w)).collect(),
            width: 28,
            caption: String::new(),
        })
        .collect();
    train_cli::draw_tiles(
        path,
        &format!(
            "The first {} units of the first layer (columns of W1)",
            tiles.len()
        ),
        "red: ink there excites the unit; blue: inhibits it; white: 0 (each its own scale)",
        &tiles,
        8,
        Colours::EachOwnScale,
    )
    .with_context(|| format!("drawing {}", path.display()))
}

/// `evaluate --gallery`: the first 24 test digits the model gets wrong.
fn gallery(
    path: &Path,
    mlp: &mut ch6_mlp::Mlp<f32>,
    test: &Dataset,
) -> anyhow::Result<train_cli::Written> {
    let tiles: Vec<Tile> = show::mistakes(mlp, test, 24)
        .into_iter()
        .map(|m| Tile {
            pixels: test
                .image(m.index)
                .iter()
                .map(|&p| f64::from(p) / 255.0)
                .collect(),
            width: 28,
            caption: format!(
                "{} → {}  {:.1}%",
                m.label,
                m.predicted,
                100.0 * m.confidence
            ),
        })
        .collect();
    train_cli::draw_tiles(
        path,
        &format!("The first {} test digits the model gets wrong", tiles.len()),
        "under each: its label → the model's guess, and the probability it gave that guess",
        &tiles,
        6,
        Colours::Ink,
    )
    .with_context(|| format!("drawing {}", path.display()))
}

/// Checks `--plot` before anything is computed, for the subcommands that
/// read no MNIST files.
fn check_plot(args: &PictureArgs) -> anyhow::Result<()> {
    let outputs: Vec<Output> = args
        .plot
        .as_deref()
        .map(|path| Output {
            flag: "--plot",
            path,
            is_ours: train_cli::is_plot,
        })
        .into_iter()
        .collect();
    train_cli::check_outputs(&outputs, &[], args.force)
}

/// `activations`: the book's histograms of hidden-layer outputs, one row per
/// activation and initial weights, one column per layer.
fn activations(args: &PictureArgs) -> anyhow::Result<()> {
    use ch5_backprop::Activation;
    check_plot(args)?;
    let (layers, units, inputs, bins) = (5, 100, 1000, 30);
    println!(
        "{layers} layers of {units} units, {inputs} inputs x ~ N(0, 1), no biases.\n\
         Spread (standard deviation) of each layer's outputs, layers 1 to {layers}:"
    );
    let mut rows = Vec::new();
    for (activation, name, hi) in [
        (Activation::Sigmoid, "sigmoid", 1.0),
        (Activation::Relu, "ReLU", 2.0),
    ] {
        for init in [Init::Std, Init::Xavier, Init::He] {
            let outputs =
                pictures::layer_outputs(init, activation, layers, units, inputs, args.seed);
            let spreads: Vec<String> = outputs
                .iter()
                .map(|z| format!("{:.3}", z.variance().sqrt()))
                .collect();
            let row = format!("{name}, {init}");
            // ReLU's exact zeros (about half its outputs) are left out.
            let shown = |v: &f64| activation == Activation::Sigmoid || *v > 0.0;
            println!("  {row:<22} {}", spreads.join("  "));
            let histograms = outputs
                .iter()
                .enumerate()
                .map(|(l, z)| Histogram {
                    title: format!("layer {}", l + 1),
                    counts: pictures::histogram(z.iter().copied().filter(shown), bins, 0.0, hi),
                    lo: 0.0,
                    hi,
                    total: z.len(),
                })
                .collect();
            rows.push((row, histograms));
        }
    }
    if let Some(path) = &args.plot {
        let written = train_cli::draw_histograms(
            path,
            "Hidden-layer outputs by initial weights (100,000 per layer)",
            "% of each layer's outputs per bin; ReLU rows leave out its exact zeros and values above 2",
            &rows,
        )
        .with_context(|| format!("drawing {}", path.display()))?;
        println!("{}", written.said("Histograms drawn to", path));
    }
    Ok(())
}

/// `optimizer-paths`: figure 6-8, each optimizer's 30 steps down the valley.
fn optimizer_paths(args: &PictureArgs) -> anyhow::Result<()> {
    check_plot(args)?;
    let [x0, y0] = pictures::PATH_START;
    let steps = pictures::PATH_STEPS;
    println!("f(x, y) = x²/20 + y² from ({x0}, {y0}), {steps} steps; where each ends:");
    // Contour lines f = (k/2)², ellipses √20 times wider than tall.
    let contours: Vec<Vec<(f64, f64)>> = (1..=10)
        .map(|k| {
            let c = (k as f64 / 2.0).powi(2);
            (0..=90)
                .map(|s| {
                    let t = std::f64::consts::TAU * s as f64 / 90.0;
                    ((20.0 * c).sqrt() * t.cos(), c.sqrt() * t.sin())
                })
                .collect()
        })
        .collect();
    let mut planes = Vec::new();
    for (kind, eta) in pictures::PATH_LINEUP {
        let path = pictures::optimizer_path(kind, eta, pictures::PATH_START, steps);
        let end = path[steps];
        println!(
            "  {:<22} ({:>7.4}, {:>7.4}), f = {:.5}",
            format!("{kind} (η = {eta})"),
            end[0],
            end[1],
            pictures::valley(end)
        );
        planes.push(Plane {
            title: format!("{kind}, η = {eta}"),
            x: (-10.0, 10.0),
            y: (-5.0, 5.0),
            contours: contours.clone(),
            arrows: Vec::new(),
            paths: vec![Track {
                name: kind.to_string(),
                points: path.iter().map(|p| (p[0], p[1])).collect(),
            }],
        });
    }
    if let Some(path) = &args.plot {
        let written = train_cli::draw_planes(
            path,
            &format!("Four optimizers down f(x, y) = x²/20 + y², {steps} steps from ({x0}, {y0})"),
            &planes,
            2,
            260,
        )
        .with_context(|| format!("drawing {}", path.display()))?;
        println!("{}", written.said("Paths drawn to", path));
    }
    Ok(())
}
