//! # `cargo run -p ch5-backprop`: stage 3's programs
//!
//! A thin command line over the library (chapter 5 of the book):
//! - `train` (the default): the book's two-layer net trained by backprop,
//!   Affine → ReLU (or `--activation sigmoid`, the stage 2 net) → Affine →
//!   SoftmaxWithLoss, 10,000 steps of batch 100;
//! - `xor`: a 2-3-1 tanh network learns XOR;
//! - `per-sample`: the layer tutorial's 784-100-50-10 tanh network trained
//!   one image at a time.
//!
//! Flags, progress, `--json` and `--plot` come from the shared `train-cli` crate.

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use nalgebra::RealField;
use train_cli::{
    CommonArgs, Reporter, RunInfo, TrainError, count_up_to, learning_rate, positive_usize,
    thousands, whole_number,
};

use ch5_backprop::train::{self, MinibatchConfig, TrainEvent};
use ch5_backprop::{Activation, Network};

#[derive(Parser, Debug)]
#[command(
    name = "ch5-backprop",
    about = "Stage 3: backpropagation built from layers (chapter 5). Without a subcommand, runs `train`.",
    version,
    allow_negative_numbers = true,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The book's chapter 5 recipe: Affine-ReLU-Affine-SoftmaxWithLoss trained by backprop (the default)
    Train(TrainArgs),
    /// XOR: a 2-3-1 tanh network with mean squared error, per-sample SGD
    Xor(XorArgs),
    /// MNIST one image at a time: 784-100-50-10, tanh everywhere, mean squared error on one-hot targets
    PerSample(PerSampleArgs),
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum ActivationArg {
    Relu,
    Sigmoid,
}

/// The scalar type the network computes in.
#[derive(Copy, Clone, Debug, ValueEnum)]
enum Precision {
    /// 64-bit floats, as numpy computes by default
    F64,
    /// 32-bit floats: about twice as fast
    F32,
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Number of SGD steps (mini-batches), at most 10,000,000
    #[arg(long, default_value_t = 10_000, value_parser = count_up_to(10_000_000), allow_negative_numbers = true)]
    steps: usize,
    /// Images per mini-batch, drawn at random with replacement
    #[arg(long, default_value_t = 100, value_parser = positive_usize, allow_negative_numbers = true)]
    batch_size: usize,
    /// SGD learning rate
    #[arg(long, default_value_t = 0.1, value_parser = learning_rate, allow_negative_numbers = true)]
    learning_rate: f64,
    /// Width of the hidden layer
    #[arg(long, default_value_t = 50, value_parser = positive_usize, allow_negative_numbers = true)]
    hidden: usize,
    /// Hidden activation: relu (chapter 5) or sigmoid (the stage 2 network)
    #[arg(long, value_enum, default_value_t = ActivationArg::Relu)]
    activation: ActivationArg,
    /// Standard deviation of the initial weights, N(0, std²)
    #[arg(long, default_value_t = 0.01, value_parser = learning_rate, allow_negative_numbers = true)]
    init_std: f64,
    /// Scalar type of the network
    #[arg(long, value_enum, default_value_t = Precision::F64)]
    precision: Precision,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct XorArgs {
    /// Passes over the four samples
    #[arg(long, default_value_t = 1000, value_parser = count_up_to(10_000_000), allow_negative_numbers = true)]
    epochs: usize,
    /// SGD learning rate
    #[arg(long, default_value_t = 0.1, value_parser = learning_rate, allow_negative_numbers = true)]
    learning_rate: f64,
    /// Seed for the initial weights
    #[arg(long, default_value_t = 42, value_parser = whole_number::<u64>, allow_negative_numbers = true)]
    seed: u64,
    /// Print only the outputs
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct PerSampleArgs {
    /// Passes over the training images
    #[arg(long, default_value_t = 1, value_parser = count_up_to(10_000), allow_negative_numbers = true)]
    epochs: usize,
    /// SGD learning rate
    #[arg(long, default_value_t = 0.1, value_parser = learning_rate, allow_negative_numbers = true)]
    learning_rate: f64,
    /// Measure test accuracy every N images
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = positive_usize, allow_negative_numbers = true)]
    evaluate_every: usize,
    /// Scalar type of the network
    #[arg(long, value_enum, default_value_t = Precision::F64)]
    precision: Precision,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    train_cli::exit_code(run())
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => run_train(&cli.train),
        Some(Command::Train(args)) => run_train(&args),
        Some(Command::Xor(args)) => run_xor(&args),
        Some(Command::PerSample(args)) => run_per_sample(&args),
    }
}

fn run_train(args: &TrainArgs) -> Result<()> {
    match args.precision {
        Precision::F64 => train_in::<f64>(args),
        Precision::F32 => train_in::<f32>(args),
    }
}

fn train_in<T: RealField + Copy + From<u8>>(args: &TrainArgs) -> Result<()> {
    let sizes = [mnist::IMAGE_SIZE, args.hidden, mnist::CLASSES];
    let bytes = std::mem::size_of::<T>() as u128;
    train_cli::check_memory(
        &sizes,
        args.batch_size,
        3,
        bytes,
        "--hidden or --batch-size",
    )?;
    let (train_set, test_set) = train_cli::load_data(&args.common, &[])?;
    let activation = match args.activation {
        ActivationArg::Relu => Activation::Relu,
        ActivationArg::Sigmoid => Activation::Sigmoid,
    };
    let seed = args.common.seed;
    let mut network = Network::<T>::two_layer(
        mnist::IMAGE_SIZE,
        args.hidden,
        mnist::CLASSES,
        activation,
        args.init_std,
        seed,
    );
    let info = RunInfo {
        stage: "ch5-backprop".into(),
        network: format!(
            "{}-{}-{} ({})",
            mnist::IMAGE_SIZE,
            args.hidden,
            mnist::CLASSES,
            network.describe()
        ),
        parameters: network.parameter_count(),
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        train_size: train_set.len(),
        test_size: test_set.len(),
        seed,
    };
    let mut reporter = Reporter::start(info, &args.common).with_init_flag("--init-std");
    let precision = format!("{:?}", args.precision).to_lowercase();
    reporter.note(&format!(
        "Gradient by backpropagation in {precision}; train accuracy on the first {} training images.",
        thousands(mnist::TRAIN_EVAL_IMAGES.min(train_set.len()))
    ));
    let config = MinibatchConfig {
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        // The sampler's stream differs from the initialisation's.
        seed: seed.wrapping_add(1),
    };
    train::train_minibatch(&mut network, &train_set, &test_set, config, |event| {
        record(&mut reporter, event)
    })?;
    let ms_per_step = 1000.0 * reporter.training_seconds() / reporter.steps_done().max(1) as f64;
    let mut extra = serde_json::Map::new();
    extra.insert("gradient_method".into(), "backprop".into());
    extra.insert("precision".into(), precision.clone().into());
    extra.insert("ms_per_step".into(), ms_per_step.into());
    let lines = [format!(
        "Backpropagation ({precision}): {ms_per_step:.3} ms per step (batch loading, gradient and SGD update)"
    )];
    finish(reporter, &lines, extra)
}

/// Prints the summary with the last evaluation's test accuracy.
fn finish(
    reporter: Reporter,
    lines: &[String],
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    let test_accuracy = reporter
        .history()
        .last()
        .map_or(f64::NAN, |e| e.test_accuracy);
    reporter.finish(test_accuracy, lines, extra)?;
    Ok(())
}

fn run_xor(args: &XorArgs) -> Result<()> {
    let mut network = Network::<f64>::tanh_mlp(&[2, 3, 1], args.seed);
    if !args.quiet {
        println!("XOR with a 2-3-1 network: {}", network.describe());
    }
    let report_every = (args.epochs / 10).max(1);
    let loss = train::train_xor(
        &mut network,
        args.epochs,
        args.learning_rate,
        |epoch, loss| {
            if !args.quiet && (epoch % report_every == 0 || epoch == 1) {
                println!(
                    "epoch {epoch:>5}/{}  mean squared error {loss:.6}",
                    args.epochs
                );
            }
        },
    );
    let (x, t) = train::xor_data::<f64>();
    let y = network.predict(&x);
    println!("x1 x2  output  rounded");
    for n in 0..4 {
        println!(
            "{:>2} {:>2}  {:>6.3}  {:>7}",
            x[(n, 0)],
            x[(n, 1)],
            y[(n, 0)],
            // As an integer: a rounded −0.002 prints as 0, not −0.
            y[(n, 0)].round() as i64
        );
    }
    if !args.quiet {
        println!("final mean squared error {loss:.6}");
    }
    let wrong = (0..4)
        .filter(|&n| (y[(n, 0)] - t[(n, 0)]).abs() >= 0.5)
        .count();
    if !loss.is_finite() || wrong > 0 {
        anyhow::bail!(
            "the network did not learn XOR: {wrong} of the 4 outputs round to the wrong answer, \
             mean squared error {loss:.4} (0.25 or more means it answers about the same for every input).\n  \
             Try a smaller --learning-rate (this run used {}), or more --epochs",
            args.learning_rate
        );
    }
    Ok(())
}

fn run_per_sample(args: &PerSampleArgs) -> Result<()> {
    match args.precision {
        Precision::F64 => per_sample_in::<f64>(args),
        Precision::F32 => per_sample_in::<f32>(args),
    }
}

fn per_sample_in<T: RealField + Copy + From<u8>>(args: &PerSampleArgs) -> Result<()> {
    let (train_set, test_set) = train_cli::load_data(&args.common, &[])?;
    let sizes = [mnist::IMAGE_SIZE, 100, 50, mnist::CLASSES];
    let mut network = Network::<T>::tanh_mlp(&sizes, args.common.seed);
    let info = RunInfo {
        stage: "ch5-backprop".into(),
        network: format!("784-100-50-10 per sample ({})", network.describe()),
        parameters: network.parameter_count(),
        steps: args.epochs * train_set.len(),
        batch_size: 1,
        learning_rate: args.learning_rate,
        train_size: train_set.len(),
        test_size: test_set.len(),
        seed: args.common.seed,
    };
    let mut reporter = Reporter::start(info, &args.common);
    train::train_per_sample(
        &mut network,
        &train_set,
        &test_set,
        args.epochs,
        args.learning_rate,
        args.evaluate_every,
        |event| record(&mut reporter, event),
    )?;
    let seconds_per_epoch = reporter.training_seconds() / args.epochs as f64;
    let mut extra = serde_json::Map::new();
    extra.insert("gradient_method".into(), "backprop".into());
    extra.insert(
        "precision".into(),
        format!("{:?}", args.precision).to_lowercase().into(),
    );
    extra.insert("seconds_per_epoch".into(), seconds_per_epoch.into());
    let lines = [format!(
        "Per-sample SGD: {seconds_per_epoch:.2} s per epoch of {} images",
        train_set.len()
    )];
    finish(reporter, &lines, extra)
}

/// Hands one event of a training loop to the reporter.
fn record(reporter: &mut Reporter, event: TrainEvent) -> Result<(), TrainError> {
    match event {
        TrainEvent::Step(loss) => reporter.step(loss),
        TrainEvent::Evaluated(a) => {
            reporter.evaluated(a.train, a.validation, a.test.unwrap_or(f64::NAN));
            Ok(())
        }
    }
}
