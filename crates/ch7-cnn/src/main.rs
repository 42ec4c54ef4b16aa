//! # `cargo run -p ch7-cnn`: stage 6's command line
//!
//! Stage 6 of the course (chapter 7). With no subcommand it trains
//! SimpleConvNet with the book's recipe (Adam η = 0.001, batch 100) for a
//! short default run; `--epochs` trains the full recipe. `seeds` trains one
//! network per seed and shows the spread; `predict` and `evaluate` use a
//! saved model (their flags and printing are `train_cli::models`'). The
//! library and the engine do the work; this file binds flags to them.

use std::path::{Path, PathBuf};

use anyhow::bail;
use ch6_mlp::engine::evaluate::{mistakes, predictions, probabilities};
use ch6_mlp::engine::model_file::{self, is_model};
use ch6_mlp::engine::train::TrainEvent;
use ch6_mlp::init::Init;
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use train_cli::models::{self, EvaluateArgs, PredictArgs, SeedRun, SeedsArgs};
use train_cli::{CommonArgs, Output, Reporter, RunInfo, TrainError, one_of, positive_usize, say};

use ch6_mlp::Trainable;
use ch7_cnn::SimpleConvNet;
use ch7_cnn::pictures::{self, Image};
use ch7_cnn::train::{self, Config};

/// Stage 6: convolution and pooling, SimpleConvNet on MNIST
#[derive(Parser, Debug)]
#[command(name = "ch7-cnn", version, args_conflicts_with_subcommands = true)]
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
    /// Train the same settings once per seed (--seed, --seed + 1, …) and show how much the test accuracy varies
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
}

/// The initialisations that make sense for a convolution (fan-in `C·FH·FW`).
const INITS: [Init; 2] = [Init::He, Init::Std];

// ANCHOR: default_run
/// What `cargo run -p ch7-cnn` trains with no flags: `DEFAULT_EPOCHS`
/// epochs of the book's recipe, which fit in about a minute on two cores;
/// the book trains 20 (`--epochs 20`).
const DEFAULT_EPOCHS: usize = 3;
// ANCHOR_END: default_run

#[derive(Args, Debug, Clone)]
struct TrainArgs {
    /// Passes over the training set [default: 3; the book trains 20]
    #[arg(long, value_name = "N", value_parser = train_cli::count_up_to(100_000), allow_negative_numbers = true)]
    epochs: Option<usize>,
    /// Train only the first N mini-batches of the last epoch [default: the whole epoch]
    #[arg(long, value_name = "N", value_parser = positive_usize, allow_negative_numbers = true)]
    steps: Option<usize>,
    /// Images per mini-batch
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = positive_usize, allow_negative_numbers = true)]
    batch_size: usize,
    /// Step size of Adam
    #[arg(long, value_name = "ETA", default_value_t = 0.001, value_parser = train_cli::learning_rate, allow_negative_numbers = true)]
    learning_rate: f64,
    /// Initial weights
    #[arg(long, default_value = "he", value_parser = one_of(&INITS, Init::name, |i| i.to_string()))]
    init: Init,
    /// Move each training image by up to N pixels at random each time it is seen (data augmentation, the book's chapter 8); 0 for none, at most 13 (a shift of half the image or more can push a digit out of it)
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = train_cli::whole_up_to(13), allow_negative_numbers = true)]
    shift: usize,
    /// Train the last N epochs at a tenth of the learning rate (learning rate decay, the book's chapter 6); 0 for none (at least --epochs: all of them)
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = train_cli::whole_up_to(100_000), allow_negative_numbers = true)]
    decay_epochs: usize,
    /// Threads a large matrix product may use, at most 256
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = train_cli::count_up_to(256), allow_negative_numbers = true)]
    threads: usize,
    /// Save the trained network to FILE (safetensors)
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    train_cli::exit_code(match cli.command {
        None => run_train(&cli.train),
        Some(Command::Train(args)) => run_train(&args),
        Some(Command::Seeds { seeds, train }) => run_seeds(seeds.count.unwrap_or(3), &train),
        Some(Command::Predict(args)) => predict(&args),
        Some(Command::Evaluate(args)) => evaluate(&args),
    })
}

/// The book's recipe with the flags' changes.
fn config(args: &TrainArgs) -> Config {
    Config {
        init: args.init,
        learning_rate: args.learning_rate,
        batch_size: args.batch_size,
        last_epoch_steps: args.steps,
        shift: args.shift,
        decay_epochs: args.decay_epochs,
        threads: args.threads,
        ..Config::book(args.epochs.unwrap_or(DEFAULT_EPOCHS))
    }
}

fn run_info(config: &Config, (train_size, test_size): (usize, usize), seed: u64) -> RunInfo {
    RunInfo {
        stage: "ch7-cnn".into(),
        network: format!(
            "SimpleConvNet, {} init, Adam{}{}",
            config.init,
            if config.shift > 0 {
                format!(", shifts up to {} px", config.shift)
            } else {
                String::new()
            },
            if config.decay_epochs > 0 {
                format!(", η/10 for the last {} epochs", config.decay_epochs)
            } else {
                String::new()
            }
        ),
        parameters: config.architecture.parameter_count().unwrap_or(0),
        steps: config.schedule(0).steps(train_size),
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        train_size,
        test_size,
        seed,
    }
}

/// What the run trains, in words, and how to train the rest.
fn plan(config: &Config, images: usize) -> String {
    let per_epoch = config.schedule(0).steps_per_epoch(images);
    let steps = config.schedule(0).steps(images);
    let mut line = format!(
        "Training on {images} images: {} of batch {} ({} per epoch)",
        train_cli::count(steps, "step"),
        config.batch_size,
        per_epoch
    );
    if config.epochs < 20 {
        line += "; the book trains 20 epochs: `cargo run --release -p ch7-cnn -- --epochs 20`";
    }
    line
}

/// Hands one event of the training loop to the reporter.
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
    check_memory(&config)?;
    // --save, and the two pictures drawn beside --plot's curves.
    let pictures: Vec<PathBuf> = args
        .common
        .plot
        .iter()
        .flat_map(|p| ["filters", "feature-maps"].map(|suffix| beside(p, suffix)))
        .collect();
    let mut outputs: Vec<Output> = pictures
        .iter()
        .map(|path| Output {
            flag: "--plot",
            path,
            is_ours: train_cli::is_plot,
        })
        .collect();
    outputs.extend(args.save.as_deref().map(|path| Output {
        flag: "--save",
        path,
        is_ours: is_model::<SimpleConvNet<f32>>,
    }));
    let (train_set, test) = train_cli::load_data(&args.common, &outputs)?;
    let mut reporter = Reporter::start(
        run_info(&config, (train_set.len(), test.len()), args.common.seed),
        &args.common,
    )
    .with_init_flag("--init");
    reporter.note(&plan(&config, train_set.len()));
    let seed = args.common.seed;
    let (mut net, trained) = train::train(&config, seed, &train_set, &test, |e| {
        record(&mut reporter, e)
    })?;

    let seconds = &trained.epoch_seconds;
    let shown: Vec<String> = seconds.iter().map(|s| format!("{s:.1}")).collect();
    let lines = vec![
        config.architecture.describe(),
        format!(
            "Seconds per epoch: {} ({} at most)",
            shown.join(", "),
            train_cli::count(config.threads, "thread")
        ),
    ];
    let extra = json!({
        "architecture": config.architecture.describe(),
        "init": config.init.to_string(),
        "epochs": config.epochs,
        "shift": config.shift,
        "decay_epochs": config.decay_epochs,
        "threads": config.threads,
        "epoch_seconds": seconds,
    });
    let serde_json::Value::Object(extra) = extra else {
        unreachable!("an object")
    };
    // A network that learned nothing (finish says so) is not saved.
    reporter.finish(trained.test_accuracy(), &lines, extra)?;
    if let Some(path) = &args.save {
        let written = train_cli::write_bytes(path, &model_file::to_bytes(&net))?;
        say(&args.common, &written.said("Model saved to", path));
    }
    if let Some(path) = &args.common.plot {
        // The filters before the first step: a fresh network of the same seed.
        let initial = SimpleConvNet::<f32>::new(config.architecture, config.init, seed, 1)?;
        for line in draw_pictures(path, &initial.conv.w, &mut net, &test)? {
            say(&args.common, &line);
        }
    }
    Ok(())
}

/// Refuses a batch size whose activations would not fit in memory: per
/// image, the im2col rows, the convolution's outputs and the pooled and
/// hidden layers, each kept about three times (values, gradients, masks).
fn check_memory(config: &Config) -> anyhow::Result<()> {
    let a = config.architecture;
    let side = (a.input.height + 2 * a.pad - a.filter_size) / a.stride + 1;
    let patches = (side * side) as u128;
    let per_image = patches * (a.filter_size * a.filter_size) as u128
        + 3 * patches * a.filters as u128
        + 3 * (a.hidden + a.classes) as u128;
    let rows = config.batch_size.max(mnist::EVAL_BATCH) as u128;
    let what = format!(
        "SimpleConvNet on batches of {}",
        train_cli::thousands(config.batch_size)
    );
    train_cli::check_bytes(4 * rows.saturating_mul(per_image), &what, "--batch-size")
}

/// `curves.png` → `curves-filters.png`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or("ch7-cnn".into(), |s| s.to_string_lossy());
    let ext = path
        .extension()
        .map_or("png".into(), |e| e.to_string_lossy());
    path.with_file_name(format!("{stem}-{suffix}.{ext}"))
}

/// Test image whose feature maps are drawn.
const SHOWN_DIGIT: usize = 0;

/// The library's grey levels as a tile without a caption.
fn tile(image: Image) -> train_cli::Tile {
    train_cli::Tile {
        pixels: image.ink,
        width: image.width,
        caption: String::new(),
    }
}

// ANCHOR: draw_pictures
/// Beside the `--plot` curves: the filters before and after training, and
/// the feature maps of one test digit, each in grey levels of its own range
/// (black its smallest number, white its largest). Returns what to tell the learner.
fn draw_pictures(
    plot: &Path,
    initial_filters: &nalgebra::DMatrix<f32>,
    net: &mut SimpleConvNet<f32>,
    test: &mnist::Dataset,
) -> anyhow::Result<Vec<String>> {
    let (fh, fw) = (net.conv.window.height, net.conv.window.width);
    let filters = beside(plot, "filters");
    let tiles: Vec<_> = [initial_filters, &net.conv.w]
        .into_iter()
        .flat_map(|w| pictures::filter_images(w, fh, fw))
        .map(|f| tile(pictures::grey_levels(&f)))
        .collect();
    let (n, rows) = (net.conv.filters(), net.conv.filters().div_ceil(10));
    let title = format!("The {n} first-layer filters ({fh}×{fw}), before and after training");
    let note = format!(
        "top {rows} rows before training, bottom {rows} after; black: lowest weight, white: highest"
    );
    let mut said = vec![train_cli::drawn(&filters, "Filters drawn to", |path| {
        train_cli::draw_tiles(path, &title, &note, &tiles, 10, train_cli::Colours::Ink)
    })?];

    let maps = beside(plot, "feature-maps");
    let digit = nalgebra::DMatrix::from_fn(28, 28, |i, j| {
        f32::from(test.image(SHOWN_DIGIT)[i * 28 + j])
    });
    let mut tiles = vec![tile(pictures::grey_levels(&digit))];
    for map in net.feature_maps(test, SHOWN_DIGIT) {
        tiles.push(tile(pictures::grey_levels(&pictures::centred(
            &map, 28, 28,
        ))));
    }
    let label = test.labels()[SHOWN_DIGIT];
    let title = format!("What the trained filters see in test image {SHOWN_DIGIT} (a {label})");
    let note = "the digit, then one feature map per filter, after convolution and ReLU";
    said.push(train_cli::drawn(&maps, "Feature maps drawn to", |path| {
        train_cli::draw_tiles(path, &title, note, &tiles, 8, train_cli::Colours::Ink)
    })?);
    Ok(said)
}
// ANCHOR_END: draw_pictures

/// Trains `count` networks of the same settings, seeds `--seed`, `--seed + 1`,
/// …, and prints each one's test accuracy and their spread.
fn run_seeds(count: usize, args: &TrainArgs) -> anyhow::Result<()> {
    if args.save.is_some() || args.common.plot.is_some() {
        bail!(
            "--save and --plot are for one network, and `seeds` trains {count}: train the seed you want with `--seed S --save FILE` or `--plot FILE`"
        );
    }
    let config = config(args);
    check_memory(&config)?;
    let (train_set, test) = train_cli::load_data(&args.common, &[])?;
    let info = run_info(&config, (train_set.len(), test.len()), args.common.seed);
    let heading = format!("{}: {count} runs", plan(&config, train_set.len()));
    let about = json!({"stage": "ch7-cnn", "network": info.network, "epochs": config.epochs, "steps": info.steps});
    models::seeds(&args.common, count, &heading, about, |seed, silent| {
        // A silent reporter still stops a run that diverges.
        let mut reporter = Reporter::start(
            run_info(&config, (train_set.len(), test.len()), seed),
            silent,
        );
        let (_, trained) = train::train(&config, seed, &train_set, &test, |e| {
            record(&mut reporter, e)
        })?;
        Ok(SeedRun {
            validation: None,
            test: trained.test_accuracy(),
            epoch_seconds: trained.epoch_seconds,
        })
    })
}

fn predict(args: &PredictArgs) -> anyhow::Result<()> {
    let mut net: SimpleConvNet<f32> = model_file::load(&args.model.model, 1)?;
    let test = args.test_set()?;
    let p = probabilities(&mut net, &test, args.index).map_err(|e| args.model.error(e))?;
    args.print(&test, &p);
    Ok(())
}

fn evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    args.check_outputs()?;
    let mut net: SimpleConvNet<f32> = model_file::load(&args.model.model, 2)?;
    let test = args.model.test_set()?;
    let predicted = predictions(&mut net, &test).map_err(|e| args.model.error(e))?;
    let description = format!("SimpleConvNet: {}", net.describe());
    args.print(&description, net.parameter_count(), &test, &predicted);
    if args.gallery.is_some() {
        let wrong = mistakes(&mut net, &test, &predicted, models::GALLERY);
        let wrong = wrong.map_err(|e| args.model.error(e))?;
        let wrong: Vec<_> = wrong.into_iter().map(Into::into).collect();
        args.draw_gallery(&test, &wrong)?;
    }
    Ok(())
}
