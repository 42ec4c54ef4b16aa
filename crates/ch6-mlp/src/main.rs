//! # `cargo run -p ch6-mlp`: stage 4's command line
//!
//! Stage 4 of the course (chapter 6). With no subcommand it trains: by
//! default the `numpy-mlp` settings on all 60,000 training images;
//! `--preset` picks a tutorial's exact settings and the other flags change
//! them. `seeds` trains one network per seed; `predict` and `evaluate` use a
//! saved model; `compare-optimizers` and `compare-init` redo the book's
//! chapter 6 figures. The library does the work; this file binds flags to it.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Parser, Subcommand};
use mnist::Dataset;
use serde_json::json;
use train_cli::{
    Colours, CommonArgs, EvaluateArgs, Histogram, Output, PictureArgs, Plane, PredictArgs,
    Reporter, RunInfo, SeedRun, SeedsArgs, Series, Tile, Track, TrainError, count_up_to, one_of,
    positive_usize, say, whole_number,
};

use ch6_mlp::engine::evaluate::{mistakes, predictions, probabilities};
use ch6_mlp::engine::model_file;
use ch6_mlp::engine::train::TrainEvent;
use ch6_mlp::train::{self, Config, Preset};
use ch6_mlp::{Init, Mlp, OptimizerKind, pictures};

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
        #[command(flatten)]
        seeds: SeedsArgs,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Draw test image N in the terminal with its label and the model's top-3 guesses
    Predict(PredictArgs),
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

#[derive(Args, Debug, Clone)]
struct TrainArgs {
    /// Start from a tutorial's settings; the flags below override them [default: numpy-mlp's settings on all 60000 images, none held out]
    #[arg(long, value_parser = one_of(&Preset::ALL, Preset::name, |p| p.config().describe()))]
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
    #[arg(long, value_name = "N,N,…", value_parser = train_cli::sizes, allow_negative_numbers = true)]
    hidden: Option<train_cli::Sizes>,
    /// Hold out the last N training images for validation, 0 for none [default: the preset's]
    #[arg(long, value_name = "N", value_parser = whole_number::<usize>, allow_negative_numbers = true)]
    validation: Option<usize>,
    /// Threads a large matrix product may use, at most 256 [default: the preset's]
    #[arg(long, value_name = "N", value_parser = count_up_to(256), allow_negative_numbers = true)]
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

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    train_cli::exit_code(match cli.command {
        None => run_train(&cli.train),
        Some(Command::Train(args)) => run_train(&args),
        Some(Command::Seeds { seeds, train }) => run_seeds(seeds.count.unwrap_or(5), &train),
        Some(Command::Predict(args)) => predict(&args),
        Some(Command::Evaluate(args)) => evaluate(&args),
        Some(Command::CompareOptimizers(args)) => comparison(&train::optimizer_runs(), &args),
        Some(Command::CompareInit(args)) => comparison(&train::init_runs(), &args),
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
    train_cli::check_memory(
        &config.sizes(),
        config.batch_size,
        4,
        4,
        "--hidden or --batch-size",
    )?;
    train_cli::load_split(common, outputs, config.validation)
}

/// What the reporter shows of a run of `config` on `train` images from `seed`.
fn run_info(config: &Config, train: &Dataset, test: &Dataset, seed: u64) -> RunInfo {
    RunInfo {
        stage: "ch6-mlp".into(),
        network: format!(
            "{}, {} init, {}",
            config.describe_sizes(),
            config.init,
            config.optimizer
        ),
        parameters: config.sizes().windows(2).map(|p| (p[0] + 1) * p[1]).sum(),
        steps: config.epochs * config.steps_per_epoch(train.len()),
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        train_size: train.len(),
        test_size: test.len(),
        seed,
    }
}

/// Hands one event of the engine's training loop to the reporter.
fn record(reporter: &mut Reporter, event: TrainEvent) -> Result<(), TrainError> {
    match event {
        TrainEvent::Step(loss) => reporter.step(loss),
        TrainEvent::Evaluated(a) => {
            reporter.evaluated(a.train, a.validation, a.test.unwrap_or(f64::NAN));
            Ok(())
        }
    }
}

fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    let config = config(args);
    let save = args.save.as_deref().map(|path| Output {
        flag: "--save",
        path,
        is_ours: model_file::is_model::<Mlp<f32>>,
    });
    let weights = args.plot_weights.as_deref().map(|path| Output {
        flag: "--plot-weights",
        path,
        is_ours: train_cli::is_plot,
    });
    let outputs: Vec<Output> = save.into_iter().chain(weights).collect();
    let (train_set, validation, test) = load_split(&config, &args.common, &outputs)?;
    let seed = args.common.seed;
    let mut reporter = Reporter::start(run_info(&config, &train_set, &test, seed), &args.common)
        .with_init_flag("--init");
    reporter.note(&config.plan(train_set.len(), validation.as_ref().map(Dataset::len)));
    let (mlp, trained) =
        train::train(&config, seed, &train_set, validation.as_ref(), &test, |e| {
            record(&mut reporter, e)
        })?;
    let lines = config.summary(&trained);
    let extra = train_cli::fields(json!({
        "preset": args.preset.map(Preset::name),
        "optimizer": config.optimizer.to_string(),
        "init": config.init.to_string(),
        "sizes": config.sizes(),
        "epochs": config.epochs,
        "threads": config.threads,
        "epoch_seconds": trained.epoch_seconds,
        "validation_accuracy": trained.accuracies.validation,
    }));
    // A network that learned nothing (finish says so) is not saved.
    reporter.finish(trained.test_accuracy(), &lines, extra)?;
    if let Some(path) = &args.save {
        let written = train_cli::write_bytes(path, &model_file::to_bytes(&mlp))?;
        say(&args.common, &written.said("Model saved to", path));
    }
    if let Some(path) = &args.plot_weights {
        let tiles: Vec<Tile> = (mlp.first_layer_units(64).into_iter())
            .map(|pixels| Tile {
                pixels,
                width: 28,
                caption: String::new(),
            })
            .collect();
        let title = format!(
            "The first {} units of the first layer (columns of W1)",
            tiles.len()
        );
        let note =
            "red: ink there excites the unit; blue: inhibits it; white: 0 (each its own scale)";
        let said = train_cli::drawn(path, "First-layer units drawn to", |path| {
            train_cli::draw_tiles(path, &title, note, &tiles, 8, Colours::EachOwnScale)
        })?;
        say(&args.common, &said);
    }
    Ok(())
}

/// Trains `count` networks of the same settings, seeds `--seed`, `--seed + 1`, ….
fn run_seeds(count: usize, args: &TrainArgs) -> anyhow::Result<()> {
    if args.save.is_some() || args.common.plot.is_some() || args.plot_weights.is_some() {
        bail!(
            "--save, --plot and --plot-weights are for one network, and `seeds` trains {count}: train the seed you want with `--seed S --save FILE` or `--plot FILE`"
        );
    }
    let config = config(args);
    let (train_set, validation, test) = load_split(&config, &args.common, &[])?;
    let info = run_info(&config, &train_set, &test, args.common.seed);
    let heading = format!("{}: {count} runs of {} steps", info.network, info.steps);
    let about = json!({"stage": "ch6-mlp", "network": info.network, "preset": args.preset.map(Preset::name)});
    train_cli::models::seeds(&args.common, count, &heading, about, |seed, silent| {
        // A silent reporter still stops a run that diverges.
        let mut reporter = Reporter::start(run_info(&config, &train_set, &test, seed), silent)
            .with_init_flag("--init");
        let (_, trained) =
            train::train(&config, seed, &train_set, validation.as_ref(), &test, |e| {
                record(&mut reporter, e)
            })?;
        Ok(SeedRun {
            validation: trained.accuracies.validation,
            test: trained.test_accuracy(),
            epoch_seconds: trained.epoch_seconds,
        })
    })
}

fn predict(args: &PredictArgs) -> anyhow::Result<()> {
    let mut mlp: Mlp<f32> = model_file::load(&args.model.model, 1)?;
    let test = args.test_set()?;
    let p = probabilities(&mut mlp, &test, args.index).map_err(|e| args.model.error(e))?;
    args.print(&test, &p);
    Ok(())
}

fn evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    args.check_outputs()?;
    let mut mlp: Mlp<f32> = model_file::load(&args.model.model, 2)?;
    let test = args.model.test_set()?;
    let predicted = predictions(&mut mlp, &test).map_err(|e| args.model.error(e))?;
    args.print(&mlp.describe(), mlp.parameter_count(), &test, &predicted);
    if args.gallery.is_some() {
        let wrong = mistakes(&mut mlp, &test, &predicted, train_cli::models::GALLERY)
            .map_err(|e| args.model.error(e))?;
        let wrong: Vec<_> = wrong.into_iter().map(Into::into).collect();
        args.draw_gallery(&test, &wrong)?;
    }
    Ok(())
}

/// Trains the comparison network once per run, prints the final losses and
/// accuracies, and draws the curves with `--plot`.
fn comparison(runs: &train::Comparison, args: &CompareArgs) -> anyhow::Result<()> {
    let sizes = train::COMPARISON_SIZES;
    train_cli::check_memory(&sizes, args.batch_size, 4, 4, "--batch-size")?;
    let (train_set, test) = train_cli::load_data(&args.common, &[])?;
    let quiet = args.common.quiet;
    if !quiet {
        eprintln!("{}", runs.heading(args.iterations, args.batch_size));
    }
    let progress = |c: &train::LossCurve| {
        if !quiet {
            eprintln!("  {:<24} done", c.name)
        }
    };
    let (iterations, batch, seed) = (args.iterations, args.batch_size, args.common.seed);
    let curves = train::compare(
        &runs.runs, &train_set, &test, iterations, batch, seed, progress,
    )
    .map_err(|e| anyhow::anyhow!("{e}. Try a smaller learning rate or fewer --iterations"))?;
    // At most 100 points a line: trends, not noise.
    let window = args.iterations.div_ceil(100);
    say(
        &args.common,
        train::comparison_table(&curves, window).trim_end(),
    );
    if args.common.json {
        println!(
            "{}",
            json!({"title": runs.title, "sizes": sizes, "runs": curves})
        );
    }
    let Some(path) = &args.common.plot else {
        if !quiet {
            eprintln!("Add --plot PATH (.png or .svg) to draw the curves.");
        }
        return Ok(());
    };
    let series: Vec<Series> = (curves.iter())
        .map(|c| Series {
            name: c.name.clone(),
            points: train::smoothed(c, window),
        })
        .collect();
    let title = format!(
        "{} · batch {} · means of {window} steps",
        runs.title, args.batch_size
    );
    let said = train_cli::drawn(path, "Chart drawn to", |path| {
        train_cli::draw_line_chart(path, &title, "iteration", "training loss", &series, false)
    })?;
    say(&args.common, &said);
    Ok(())
}

/// `activations`: the book's histograms of hidden-layer outputs, one row per
/// activation and initial weights, one column per layer.
fn activations(args: &PictureArgs) -> anyhow::Result<()> {
    args.check()?;
    let rows = pictures::activation_rows(args.seed);
    print!("{}", pictures::activation_table(&rows));
    let Some(path) = &args.plot else {
        return Ok(());
    };
    let rows: Vec<(String, Vec<Histogram>)> = (rows.into_iter())
        .map(|row| {
            let histograms = (row.histograms.into_iter().enumerate())
                .map(|(l, counts)| Histogram {
                    title: format!("layer {}", l + 1),
                    counts,
                    lo: 0.0,
                    hi: row.hi,
                    total: row.outputs,
                })
                .collect();
            (row.name, histograms)
        })
        .collect();
    let title = "Hidden-layer outputs by initial weights (100,000 per layer)";
    let note =
        "% of each layer's outputs per bin; ReLU rows leave out its exact zeros and values above 2";
    let said = train_cli::drawn(path, "Histograms drawn to", |path| {
        train_cli::draw_histograms(path, title, note, &rows)
    })?;
    println!("{said}");
    Ok(())
}

/// `optimizer-paths`: figure 6-8, each optimizer's 30 steps down the valley.
fn optimizer_paths(args: &PictureArgs) -> anyhow::Result<()> {
    args.check()?;
    let paths = pictures::optimizer_paths();
    print!("{}", pictures::paths_table(&paths));
    let Some(path) = &args.plot else {
        return Ok(());
    };
    let planes: Vec<Plane> = (paths.into_iter())
        .map(|(kind, eta, points)| Plane {
            title: format!("{kind}, η = {eta}"),
            x: (-10.0, 10.0),
            y: (-5.0, 5.0),
            contours: pictures::valley_contours(),
            arrows: Vec::new(),
            paths: vec![Track {
                name: kind.to_string(),
                points: points.iter().map(|p| (p[0], p[1])).collect(),
            }],
        })
        .collect();
    let [x0, y0] = pictures::PATH_START;
    let title = format!(
        "Four optimizers down f(x, y) = x²/20 + y², {} steps from ({x0}, {y0})",
        pictures::PATH_STEPS
    );
    let said = train_cli::drawn(path, "Paths drawn to", |path| {
        train_cli::draw_planes(path, &title, &planes, 2, 260)
    })?;
    println!("{said}");
    Ok(())
}
