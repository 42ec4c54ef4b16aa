//! `cargo run -p ch4-two-layer`: stage 2 of the course as a program. Trains
//! the two-layer network of `lib.rs` on MNIST by mini-batch gradient descent,
//! every gradient measured numerically, and shows what that costs: the
//! parameter count and forward passes per gradient at start-up, the measured
//! time per gradient at the end. Reports through the shared training CLI
//! (`train-cli`), with the same flags as stage 1 plus `--hidden`.

use std::time::{Duration, Instant};

use anyhow::Result;
use ch4_two_layer::{GradientMethod, TwoLayerNet};
use clap::{Parser, ValueEnum};
use mnist::{BatchSampler, CLASSES, IMAGE_SIZE};
use train_cli::{
    Accuracies, CommonArgs, Reporter, RunInfo, count, learning_rate, positive_usize, thousands,
};

/// Stage 2: a two-layer network (784 → hidden sigmoid units → 10) learns
/// MNIST from numerical gradients, and shows why they do not scale: every
/// derivative is measured by nudging one of ~40,000 parameters by ±h.
#[derive(Parser, Debug)]
#[command(name = "ch4-two-layer", version)]
struct Args {
    /// How each numerical gradient is computed: `fast` recomputes only what a nudged weight changes;
    /// `naive` reruns the whole forward pass for each nudge (79,520 with 50 hidden units: seconds per step)
    #[arg(long, value_enum, default_value_t = Method::Fast)]
    gradient: Method,

    /// Number of gradient-descent steps (mini-batches)
    #[arg(long, default_value_t = 200, value_parser = positive_usize)]
    steps: usize,

    /// Images per mini-batch, drawn at random from the training set
    #[arg(long, default_value_t = 100, value_parser = positive_usize)]
    batch_size: usize,

    /// Step size η of gradient descent: θ ← θ − η·∂E/∂θ. The book uses 0.1 for 10,000 steps
    /// (`--learning-rate 0.1 --steps 10000`, a long run);
    /// 1.0 learns within the few hundred steps a one-minute run affords
    #[arg(long, default_value_t = 1.0, value_parser = learning_rate)]
    learning_rate: f64,

    /// Number of hidden units (sigmoid)
    #[arg(long, default_value_t = 50, value_parser = positive_usize)]
    hidden: usize,

    /// Measure train and test accuracy every N steps
    #[arg(long, value_name = "N", default_value_t = 25, value_parser = positive_usize)]
    eval_every: usize,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Method {
    Fast,
    Naive,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Fast => "fast",
            Method::Naive => "naive",
        }
    }
}

/// Train accuracy is measured on this many training images, to keep
/// evaluations cheap next to the training they report on.
const TRAIN_EVAL_IMAGES: usize = 10_000;

fn main() -> Result<()> {
    let args = Args::parse();
    let (train, test) = train_cli::load_data(&args.common)?;
    let method = match args.gradient {
        Method::Fast => GradientMethod::Fast,
        Method::Naive => GradientMethod::Naive,
    };

    // ANCHOR: training_loop
    let mut net = TwoLayerNet::new(IMAGE_SIZE, args.hidden, CLASSES, args.common.seed);
    let mut sampler = BatchSampler::new(train.len(), args.common.seed);
    let train_eval = train.first(TRAIN_EVAL_IMAGES);
    let info = RunInfo {
        stage: "ch4-two-layer".into(),
        network: format!("784→{}→10, sigmoid, softmax", args.hidden),
        parameters: net.parameter_count(),
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        train_size: train.len(),
        seed: args.common.seed,
    };
    let mut report = Reporter::start(info, &args.common);
    report.note(&cost_of_naive_gradient(&net, &train, args.batch_size));
    report.note(&format!(
        "Gradient method: {}. Train accuracy on the first {} training images.",
        args.gradient.name(),
        thousands(train_eval.len()),
    ));

    let mut gradient_time = Duration::ZERO;
    for step in 1..=args.steps {
        let batch = sampler.sample(args.batch_size);
        let (x, t) = (
            train.batch_images::<f64>(&batch),
            train.batch_labels(&batch),
        );
        let loss = net.loss(&x, &t);

        let started = Instant::now();
        let grads = net.gradient(method, &x, &t);
        gradient_time += started.elapsed();
        net.update(&grads, args.learning_rate);
        if step == 1 {
            report.note(&format!(
                "First {} gradient: {}; {} at this pace: {}",
                args.gradient.name(),
                duration(gradient_time.as_secs_f64()),
                count(args.steps, "step"),
                duration(gradient_time.as_secs_f64() * args.steps as f64),
            ));
        }

        report.step(loss)?;
        if step % args.eval_every == 0 || step == args.steps {
            report.evaluate(|| Accuracies {
                train: Some(train_eval.accuracy(|x| net.predict(x))),
                validation: None,
                test: test.accuracy(|x| net.predict(x)),
            });
        }
    }
    // ANCHOR_END: training_loop

    let test_accuracy = report.history().last().map_or(0.0, |e| e.test_accuracy);
    let per_gradient_ms = 1e3 * gradient_time.as_secs_f64() / args.steps as f64;
    let lines = [format!(
        "Time per {} numerical gradient: {} (batch {}, mean of {})",
        args.gradient.name(),
        duration(per_gradient_ms / 1e3),
        args.batch_size,
        count(args.steps, "step"),
    )];
    let mut extra = serde_json::Map::new();
    extra.insert("gradient_method".into(), args.gradient.name().into());
    extra.insert("hidden".into(), args.hidden.into());
    extra.insert("ms_per_gradient".into(), per_gradient_ms.into());
    report.finish(test_accuracy, &lines, extra)?;
    Ok(())
}

/// What one naive numerical gradient costs this network, measured: time a
/// few forward passes of one batch and multiply by the `2 · parameters` passes
/// the naive gradient makes.
fn cost_of_naive_gradient(net: &TwoLayerNet, train: &mnist::Dataset, batch_size: usize) -> String {
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
    format!(
        "{} parameters: one naive numerical gradient = {} forward passes of the batch \
         (stage 1's network: 15,700). One pass takes {} here, so a naive gradient is {} \
         of forward passes (shared by two threads).",
        thousands(net.parameter_count()),
        thousands(passes),
        duration(pass),
        duration(pass * passes as f64),
    )
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
