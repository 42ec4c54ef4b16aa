//! # `cargo run -p ch4-two-layer`: stage 2 of the course as a program
//!
//! Trains the two-layer network of `lib.rs` (chapter 4 of the book) on
//! MNIST by mini-batch gradient descent, every gradient measured
//! numerically, and shows what that costs: the parameter count and forward
//! passes per gradient at start-up, the time of the first gradient after
//! one step, the mean time per gradient at the end. The training loop is
//! stage 1's with the new network; the flags (stage 1's plus `--hidden`),
//! progress, summary, `--json` and `--plot` come from the shared training CLI
//! (`train-cli`).

use std::time::{Duration, Instant};

use anyhow::Result;
use ch4_two_layer::{GradientMethod, TwoLayerNet};
use clap::Parser;
use mnist::{BatchSampler, CLASSES, Dataset, IMAGE_SIZE, TRAIN_EVAL_IMAGES};
use train_cli::{
    CommonArgs, Recipe, RecipeArgs, Reporter, RunInfo, count, positive_usize, thousands, timed,
};

/// Stage 2: a two-layer network (784 → hidden sigmoid units → 10) learns
/// MNIST from numerical gradients, and shows why they do not scale: every
/// derivative is measured by nudging one of ~40,000 parameters by ±h.
#[derive(Parser, Debug)]
#[command(
    name = "ch4-two-layer",
    version,
    after_help = "The book's own run is `--learning-rate 0.1 --steps 10000`, a long one; \
                  the default rate learns within the default run's few hundred steps."
)]
struct Args {
    /// How each numerical gradient is computed: `fast` recomputes only what a nudged weight changes;
    /// `naive` reruns the whole forward pass for each nudge, two per parameter
    #[arg(long, default_value_t = GradientMethod::Fast)]
    gradient: GradientMethod,

    /// Number of hidden units (sigmoid)
    #[arg(long, default_value_t = 50, value_parser = positive_usize, allow_negative_numbers = true)]
    hidden: usize,

    #[command(flatten)]
    recipe: RecipeArgs,

    #[command(flatten)]
    common: CommonArgs,
}

/// The run without flags: 200 steps of 100 images at η = 1.0, ten times the
/// book's rate, so that a short run learns.
const DEFAULTS: Recipe = Recipe {
    steps: 200,
    batch_size: 100,
    learning_rate: 1.0,
    eval_every: 25,
};

fn main() -> std::process::ExitCode {
    train_cli::exit_code(run())
}

fn run() -> Result<()> {
    let args: Args = DEFAULTS.parse();
    let recipe = args.recipe.resolve(DEFAULTS);
    let sizes = [IMAGE_SIZE, args.hidden, CLASSES];
    train_cli::check_memory(&sizes, recipe.batch_size, 3, 8, "--hidden or --batch-size")?;
    let (train, test) = train_cli::load_data(&args.common, &[])?;
    let mut net = TwoLayerNet::new(IMAGE_SIZE, args.hidden, CLASSES, args.common.seed);
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
        if step == 1 {
            report.note(&pace(args.gradient, gradient_time, recipe.steps));
        }
        if step % recipe.eval_every == 0 || step == recipe.steps {
            let train_accuracy = train_eval.accuracy(|x| net.predict(x));
            let test_accuracy = test.accuracy(|x| net.predict(x));
            report.evaluated(Some(train_accuracy), None, test_accuracy);
        }
    }
    // ANCHOR_END: training_loop

    finish_report(report, &args, recipe, gradient_time)
}

/// Starts the reporter with the run's settings, and tells the learner what
/// one naive gradient costs this network.
fn start_report(
    args: &Args,
    recipe: Recipe,
    net: &TwoLayerNet,
    train: &Dataset,
    train_eval: &Dataset,
    test_size: usize,
) -> Reporter {
    let info = RunInfo {
        stage: "ch4-two-layer".into(),
        network: format!("784→{}→10, sigmoid, softmax", args.hidden),
        parameters: net.parameter_count(),
        steps: recipe.steps,
        batch_size: recipe.batch_size,
        learning_rate: recipe.learning_rate,
        train_size: train.len(),
        test_size,
        seed: args.common.seed,
    };
    let report = Reporter::start(info, &args.common);
    report.note(&cost_of_naive_gradient(net, train, recipe.batch_size));
    report.note(&format!(
        "Gradient method: {}. Train accuracy on the first {} training images.",
        args.gradient,
        thousands(train_eval.len()),
    ));
    report
}

/// What one naive numerical gradient costs this network, measured: time a
/// few forward passes of one batch and multiply by the `2 · parameters` passes
/// the naive gradient makes.
fn cost_of_naive_gradient(net: &TwoLayerNet, train: &Dataset, batch_size: usize) -> String {
    let batch: Vec<usize> = (0..batch_size.min(train.len())).collect();
    let (x, t) = (
        train.batch_images::<f64>(&batch),
        train.batch_labels(&batch),
    );
    std::hint::black_box(net.loss(&x, &t)); // warm up: first-touch allocations
    const PASSES: u32 = 20;
    let started = Instant::now();
    for _ in 0..PASSES {
        std::hint::black_box(net.loss(&x, &t));
    }
    let pass = started.elapsed().as_secs_f64() / f64::from(PASSES);
    let passes = 2 * net.parameter_count();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{} parameters: one naive numerical gradient = {} forward passes of the batch \
         (stage 1's network: 15,700). One pass takes {} here, so a naive gradient is {} \
         of forward passes (shared by {}).",
        thousands(net.parameter_count()),
        thousands(passes),
        duration(pass),
        duration(pass * passes as f64),
        count(threads, "thread"),
    )
}

/// After the first step: how long its gradient took, and the whole run at that pace.
fn pace(method: GradientMethod, first_gradient: Duration, steps: usize) -> String {
    format!(
        "First {method} gradient: {}; {} at this pace: {}",
        duration(first_gradient.as_secs_f64()),
        count(steps, "step"),
        duration(first_gradient.as_secs_f64() * steps as f64),
    )
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
        "Time per {} numerical gradient: {} (batch {}, mean of {})",
        args.gradient,
        duration(per_gradient_ms / 1e3),
        recipe.batch_size,
        count(recipe.steps, "step"),
    )];
    let mut extra = serde_json::Map::new();
    extra.insert("gradient_method".into(), args.gradient.name().into());
    extra.insert("hidden".into(), args.hidden.into());
    extra.insert("ms_per_gradient".into(), per_gradient_ms.into());
    report.finish(test_accuracy, &lines, extra)?;
    Ok(())
}

/// Seconds in words a learner reads at a glance: `0.21 ms`, `48 ms`, `17.3 s`, `2.1 h`.
fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 0.01 => format!("{:.2} ms", s * 1e3),
        s if s < 1.0 => format!("{:.0} ms", s * 1e3),
        s if s < 120.0 => format!("{s:.1} s"),
        s if s < 7200.0 => format!("{:.1} min", s / 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}
