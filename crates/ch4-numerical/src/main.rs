//! # `cargo run -p ch4-numerical`: stage 1 of the course as a program
//!
//! Trains the softmax network of `lib.rs` (chapter 4 of the book) on MNIST
//! by mini-batch gradient descent, every gradient measured numerically. The
//! training loop is the chapter's; the flags, progress, summary, `--json`
//! and `--plot` come from the shared training CLI (`train-cli`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use ch4_numerical::{GradientMethod, SoftmaxNet};
use clap::{Parser, Subcommand};
use mnist::{BatchSampler, CLASSES, Dataset, IMAGE_SIZE, TRAIN_EVAL_IMAGES};
use train_cli::{
    Colours, CommonArgs, Output, Plane, Recipe, RecipeArgs, Reporter, RunInfo, Tile, Track, timed,
};

/// Stage 1: a single-layer softmax network (784 → 10) learns MNIST from
/// numerical gradients: every derivative is measured by nudging a parameter
/// by ±h and watching the loss.
#[derive(Parser, Debug)]
#[command(
    name = "ch4-numerical",
    version,
    allow_negative_numbers = true,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Draw the ten columns of W, one template per digit, as 28×28 images into this file (.png or .svg)
    #[arg(long, value_name = "PATH", value_parser = train_cli::plot_path)]
    plot_weights: Option<PathBuf>,

    /// How each numerical gradient is computed: `fast` recomputes only what a nudged weight changes;
    /// `naive` reruns the whole forward pass for each of the 2 × 7,850 = 15,700 nudges
    #[arg(long, default_value_t = GradientMethod::Fast)]
    gradient: GradientMethod,

    #[command(flatten)]
    recipe: RecipeArgs,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Draw the book's figure 4-9: the negative gradient of x0² + x1² as arrows, and gradient descent from (-3, 4)
    GradientField {
        /// The file to draw into (.png or .svg)
        #[arg(long, value_name = "PATH", value_parser = train_cli::plot_path)]
        plot: PathBuf,
        /// Replace the file even when it is not a picture this program drew
        #[arg(long)]
        force: bool,
    },
}

/// The run without flags: 2,000 steps of 100 images at η = 0.5.
const DEFAULTS: Recipe = Recipe {
    steps: 2_000,
    batch_size: 100,
    learning_rate: 0.5,
    eval_every: 100,
};

fn main() -> std::process::ExitCode {
    train_cli::exit_code(run())
}

fn run() -> Result<()> {
    let args: Args = DEFAULTS.parse();
    if let Some(Command::GradientField { plot, force }) = &args.command {
        return gradient_field(plot, *force);
    }
    let recipe = args.recipe.resolve(DEFAULTS);
    train_cli::check_memory(
        &[IMAGE_SIZE, CLASSES],
        recipe.batch_size,
        3,
        8,
        "--batch-size",
    )?;
    let weights = args.plot_weights.as_deref().map(|path| Output {
        flag: "--plot-weights",
        path,
        is_ours: train_cli::is_plot,
    });
    let outputs: Vec<Output> = weights.into_iter().collect();
    let (train, test) = train_cli::load_data(&args.common, &outputs)?;
    let mut net = SoftmaxNet::new(IMAGE_SIZE, CLASSES, args.common.seed);
    let mut sampler = BatchSampler::new(train.len(), args.common.seed);
    let train_eval = train.first(TRAIN_EVAL_IMAGES);
    let mut report = start_report(&args, recipe, &net, &train, &train_eval, test.len());
    let mut gradient_time = Duration::ZERO;

    // ANCHOR: training_loop
    for step in 1..=recipe.steps {
        let batch = sampler.sample(recipe.batch_size);
        let x = train.batch_images::<f64>(&batch);
        let t = train.batch_labels(&batch);
        let loss = net.loss(&x, &t);
        let grads = timed(&mut gradient_time, || net.gradient(args.gradient, &x, &t));
        net.update(&grads, recipe.learning_rate);

        report.step(loss)?;
        if step % recipe.eval_every == 0 || step == recipe.steps {
            let train_accuracy = train_eval.accuracy(|x| net.predict(x));
            let test_accuracy = test.accuracy(|x| net.predict(x));
            report.evaluated(Some(train_accuracy), None, test_accuracy);
        }
    }
    // ANCHOR_END: training_loop

    finish_report(report, &args, recipe, gradient_time)?;
    if let Some(path) = &args.plot_weights {
        let written = plot_weights(path, &net)?;
        train_cli::say(&args.common, &written.said("Templates drawn to", path));
    }
    Ok(())
}

/// Starts the reporter with the run's settings, and tells the learner what
/// one naive gradient costs this network.
fn start_report(
    args: &Args,
    recipe: Recipe,
    net: &SoftmaxNet,
    train: &Dataset,
    train_eval: &Dataset,
    test_size: usize,
) -> Reporter {
    let info = RunInfo {
        stage: "ch4-numerical".into(),
        network: "softmax 784→10".into(),
        parameters: net.parameter_count(),
        steps: recipe.steps,
        batch_size: recipe.batch_size,
        learning_rate: recipe.learning_rate,
        train_size: train.len(),
        test_size,
        seed: args.common.seed,
    };
    let report = Reporter::start(info, &args.common);
    report.note(&format!(
        "{} parameters: one naive numerical gradient = {} forward passes of the batch; \
         gradient method: {}. Train accuracy on the first {} training images.",
        train_cli::thousands(net.parameter_count()),
        train_cli::thousands(2 * net.parameter_count()),
        args.gradient,
        train_cli::thousands(train_eval.len()),
    ));
    report
}

/// The summary, with the mean time of one numerical gradient.
fn finish_report(
    report: Reporter,
    args: &Args,
    recipe: Recipe,
    gradient_time: Duration,
) -> Result<()> {
    let test_accuracy = report.history().last().map_or(0.0, |e| e.test_accuracy);
    let per_gradient_ms = 1e3 * gradient_time.as_secs_f64() / recipe.steps as f64;
    let lines = [format!(
        "Time per {} numerical gradient: {per_gradient_ms:.2} ms (batch {})",
        args.gradient, recipe.batch_size
    )];
    let mut extra = serde_json::Map::new();
    extra.insert("gradient_method".into(), args.gradient.name().into());
    extra.insert("ms_per_gradient".into(), per_gradient_ms.into());
    report.finish(test_accuracy, &lines, extra)?;
    Ok(())
}

/// `--plot-weights`: the ten columns of `W` as 28×28 images, red where a
/// dark pixel raises that digit's score, blue where it lowers it.
fn plot_weights(path: &Path, net: &SoftmaxNet) -> Result<train_cli::Written> {
    let tiles: Vec<Tile> = net
        .templates()
        .into_iter()
        .enumerate()
        .map(|(digit, w)| Tile {
            pixels: w,
            width: 28,
            caption: format!("{digit}"),
        })
        .collect();
    train_cli::draw_tiles(
        path,
        "The ten columns of W after training, one template per digit",
        "red: ink there raises the digit's score; blue: lowers it; white: 0 (each its own scale)",
        &tiles,
        5,
        Colours::EachOwnScale,
    )
    .with_context(|| format!("drawing {}", path.display()))
}

/// `gradient-field`: the book's figure 4-9, −∇f of `f = x0² + x1²` on a
/// grid, with the path of gradient descent (η = 0.1, 20 steps) from (−3, 4).
fn gradient_field(path: &Path, force: bool) -> Result<()> {
    let output = Output {
        flag: "--plot",
        path,
        is_ours: train_cli::is_plot,
    };
    train_cli::check_outputs(&[output], &[], force)?;
    let f = ch4_numerical::sum_of_squares;
    // A grid from −4 to 4 in steps of 0.5.
    let grid: Vec<(f64, f64)> = (0..17)
        .flat_map(|i| (0..17).map(move |j| (-4.0 + 0.5 * j as f64, -4.0 + 0.5 * i as f64)))
        .collect();
    let downhill = ch4_numerical::downhill(f, &grid);
    // The longest arrow is 0.45 long, just short of the grid's spacing.
    let longest = downhill.iter().map(|d| d.0.hypot(d.1)).fold(0.0, f64::max);
    let arrows = grid
        .iter()
        .zip(&downhill)
        .map(|(&(x0, x1), &(d0, d1))| {
            let s = 0.45 / longest;
            ((x0, x1), (x0 + s * d0, x1 + s * d1))
        })
        .collect();
    let circle = |r: f64| {
        (0..=72)
            .map(|k| {
                let t = std::f64::consts::TAU * k as f64 / 72.0;
                (r * t.cos(), r * t.sin())
            })
            .collect()
    };
    let plane = Plane {
        title: "−∇f of f(x0, x1) = x0² + x1², and descent from (−3, 4), η = 0.1".into(),
        x: (-4.5, 4.5),
        y: (-4.5, 4.5),
        contours: [1.0, 2.0, 3.0, 4.0].map(circle).to_vec(),
        arrows,
        paths: vec![Track {
            name: "gradient descent, 20 steps".into(),
            points: ch4_numerical::descent_path(f, (-3.0, 4.0), 0.1, 20),
        }],
    };
    let written = train_cli::draw_planes(
        path,
        "The gradient field: every arrow points downhill, to the minimum",
        &[plane],
        1,
        720,
    )
    .with_context(|| format!("drawing {}", path.display()))?;
    println!("{}", written.said("Gradient field drawn to", path));
    Ok(())
}
