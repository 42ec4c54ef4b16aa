//! # `cargo run -p ch4-numerical`: stage 1 of the course as a program
//!
//! Trains the softmax network of `lib.rs` (chapter 4 of the book) on MNIST
//! by mini-batch gradient descent, every gradient measured numerically. The
//! training loop is the chapter's; the flags, progress, summary, `--json`
//! and `--plot` come from the shared training CLI (`train-cli`).

use std::time::Duration;

use anyhow::Result;
use ch4_numerical::{GradientMethod, SoftmaxNet};
use clap::Parser;
use mnist::{BatchSampler, CLASSES, Dataset, IMAGE_SIZE, TRAIN_EVAL_IMAGES};
use train_cli::{Accuracies, CommonArgs, Recipe, RecipeArgs, Reporter, RunInfo, timed};

/// Stage 1: a single-layer softmax network (784 → 10) learns MNIST from
/// numerical gradients: every derivative is measured by nudging a parameter
/// by ±h and watching the loss.
#[derive(Parser, Debug)]
#[command(name = "ch4-numerical", version, allow_negative_numbers = true)]
struct Args {
    /// How each numerical gradient is computed: `fast` recomputes only what a nudged weight changes;
    /// `naive` reruns the whole forward pass for each of the 2 × 7,850 = 15,700 nudges
    #[arg(long, default_value_t = GradientMethod::Fast)]
    gradient: GradientMethod,

    #[command(flatten)]
    recipe: RecipeArgs,

    #[command(flatten)]
    common: CommonArgs,
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
    let recipe = args.recipe.resolve(DEFAULTS);
    train_cli::check_memory(
        &[IMAGE_SIZE, CLASSES],
        recipe.batch_size,
        3,
        8,
        "--batch-size",
    )?;
    let (train, test) = train_cli::load_data(&args.common, &[])?;
    let mut net = SoftmaxNet::new(IMAGE_SIZE, CLASSES, args.common.seed);
    let mut sampler = BatchSampler::new(train.len(), args.common.seed);
    let train_eval = train.first(TRAIN_EVAL_IMAGES);
    let mut report = start_report(&args, recipe, &net, &train, &train_eval);
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
            report.evaluate(|| Accuracies {
                train: Some(train_eval.accuracy(|x| net.predict(x))),
                validation: None,
                test: test.accuracy(|x| net.predict(x)),
            });
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
    net: &SoftmaxNet,
    train: &Dataset,
    train_eval: &Dataset,
) -> Reporter {
    let info = RunInfo {
        stage: "ch4-numerical".into(),
        network: "softmax 784→10".into(),
        parameters: net.parameter_count(),
        steps: recipe.steps,
        batch_size: recipe.batch_size,
        learning_rate: recipe.learning_rate,
        train_size: train.len(),
        seed: args.common.seed,
    };
    let report = Reporter::start(info, &args.common);
    report.note(&format!(
        "{} parameters: one naive numerical gradient = {} forward passes of the batch; \
         gradient method: {}. Train accuracy on the first {} training images.",
        net.parameter_count(),
        2 * net.parameter_count(),
        args.gradient,
        train_eval.len(),
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
