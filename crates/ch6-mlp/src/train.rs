//! # Mini-batch training, presets, and the chapter's two comparisons
//!
//! Stage 4 of the course (chapter 6). A [`Config`] is a recipe: the network's
//! sizes, its initial weights, an optimizer and a [`Schedule`] of shuffled
//! mini-batch epochs, trained by the engine's one loop
//! ([`crate::engine::train`]); after every epoch the network is measured on
//! the validation split and on the test set. The presets reproduce two
//! tutorials' settings; the comparisons redo the book's figures of
//! optimizers and initialisations.

use ch5_backprop::train::to_f64;
use mnist::{BatchSampler, Dataset};

use crate::engine::evaluate::accuracy;
use crate::engine::optim::{Optimizer, OptimizerKind};
use crate::engine::train::{self as engine_train, Measure, Schedule, TrainEvent, Trained};
use crate::engine::train_step;
use crate::init::Init;
use crate::mlp::Mlp;

/// Everything that decides a training run besides the seed and the data.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Hidden layer sizes (`[100, 200]`); input 784 and output 10 around them.
    pub hidden: Vec<usize>,
    pub init: Init,
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
    pub batch_size: usize,
    /// Skip the last batch of each epoch if it is smaller than `batch_size`.
    pub drop_last: bool,
    pub epochs: usize,
    /// The last `validation` training images are held out to validate on (0: none).
    pub validation: usize,
    /// Threads a large matrix product may use.
    pub threads: usize,
}

impl Config {
    // ANCHOR: default_run
    /// What `cargo run -p ch6-mlp` trains: the `numpy-mlp` network, optimizer
    /// and schedule, on all 60,000 training images. The tutorial holds out
    /// 10,000 to validate on; a final model learns from every image it can
    /// (98.14% test accuracy with seed 42, against 97.99% with the hold-out).
    pub fn default_run() -> Config {
        Config {
            validation: 0,
            ..Preset::NumpyMlp.config()
        }
    }
    // ANCHOR_END: default_run

    /// The recipe's epochs and batches for a run from `seed`, for the engine's loop.
    pub fn schedule(&self, seed: u64) -> Schedule {
        Schedule {
            epochs: self.epochs,
            batch_size: self.batch_size,
            drop_last: self.drop_last,
            last_epoch_steps: None,
            learning_rate: self.learning_rate,
            decay_epochs: 0,
            seed,
        }
    }

    /// Optimizer steps in one epoch over `images` training images.
    pub fn steps_per_epoch(&self, images: usize) -> usize {
        self.schedule(0).steps_per_epoch(images)
    }

    /// `[784, hidden…, 10]`.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![mnist::IMAGE_SIZE];
        sizes.extend(&self.hidden);
        sizes.push(mnist::CLASSES);
        sizes
    }
}

/// Settings that reproduce a tutorial's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// The numpy MLP tutorial: 784-100-200-10 ReLU, Xavier, SGD 0.1, batch 32,
    /// 25 epochs on the first 50,000 images, validated on the last 10,000
    /// (it reports validation accuracy 0.9809). Like the tutorial's
    /// `iterate_minibatches`, each epoch skips the 16 images of the last,
    /// incomplete batch.
    NumpyMlp,
    /// The Keras MNIST tutorial: 784-512-10 ReLU, RMSprop 0.001, batch 128,
    /// 5 epochs on all 60,000 (it reports test accuracy 0.9789).
    Keras,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::NumpyMlp, Preset::Keras];

    /// The name on the command line: `numpy-mlp`, `keras`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::NumpyMlp => "numpy-mlp",
            Preset::Keras => "keras",
        }
    }
}

impl Config {
    /// `784-100-200-10 ReLU`.
    pub fn describe_sizes(&self) -> String {
        let sizes: Vec<String> = self.sizes().iter().map(usize::to_string).collect();
        format!("{} ReLU", sizes.join("-"))
    }

    /// What a run on `images` training images (`validation` more held out) trains, in words.
    pub fn plan(&self, images: usize, validation: Option<usize>) -> String {
        format!(
            "Training on {images} images, {} epochs of {} mini-batches{}",
            self.epochs,
            self.steps_per_epoch(images),
            validation.map_or(String::new(), |v| format!(", validating on the last {v}"))
        )
    }

    /// The lines a run's summary adds: seconds per epoch, and the
    /// validation accuracy when there is a validation split.
    pub fn summary(&self, trained: &Trained) -> Vec<String> {
        let seconds = &trained.epoch_seconds;
        let fastest = seconds.iter().copied().fold(f64::INFINITY, f64::min);
        let threads = if self.threads == 1 {
            "thread"
        } else {
            "threads"
        };
        let mut lines = vec![format!(
            "Seconds per epoch: {:.3} mean, {fastest:.3} fastest ({} {threads} at most)",
            seconds.iter().sum::<f64>() / seconds.len().max(1) as f64,
            self.threads
        )];
        if let Some(v) = trained.accuracies.validation {
            lines.push(format!(
                "Validation accuracy: {:.2}% on the last {} training images",
                100.0 * v,
                self.validation
            ));
        }
        lines
    }

    /// The settings in words, from the settings themselves:
    /// `784-100-200-10, Xavier init, SGD η = 0.1, batch 32, 25 epochs, …`.
    pub fn describe(&self) -> String {
        let sizes: Vec<String> = self.sizes().iter().map(usize::to_string).collect();
        let mut text = format!(
            "{} ReLU, {} init, {} η = {}, batch {}, {} epochs",
            sizes.join("-"),
            self.init,
            self.optimizer,
            self.learning_rate,
            self.batch_size,
            self.epochs
        );
        if self.validation > 0 {
            text += &format!(", the last {} training images held out", self.validation);
        }
        if self.threads > 1 {
            text += &format!(", {} threads", self.threads);
        }
        text
    }
}

// ANCHOR: presets
impl Preset {
    pub fn config(self) -> Config {
        match self {
            Preset::NumpyMlp => Config {
                hidden: vec![100, 200],
                init: Init::Xavier,
                optimizer: OptimizerKind::Sgd,
                learning_rate: 0.1,
                batch_size: 32,
                drop_last: true,
                epochs: 25,
                validation: 10_000,
                // Batch-32 products are too small to share between threads.
                threads: 1,
            },
            Preset::Keras => Config {
                hidden: vec![512],
                // Keras's default initialiser, `glorot_uniform`.
                init: Init::XavierUniform,
                optimizer: OptimizerKind::Rmsprop,
                learning_rate: 0.001,
                batch_size: 128,
                // Keras's `fit` trains on the last, smaller batch too.
                drop_last: false,
                epochs: 5,
                validation: 0,
                // The 128 × 784 × 512 products are large enough for two threads.
                threads: 2,
            },
        }
    }
}
// ANCHOR_END: presets

// ANCHOR: train
/// Trains a fresh network of `config` from `seed` on `train` with the
/// engine's loop, measuring accuracy on `validation` (if any) and `test`
/// after each epoch.
pub fn train<E>(
    config: &Config,
    seed: u64,
    train: &Dataset,
    validation: Option<&Dataset>,
    test: &Dataset,
    report: impl FnMut(TrainEvent) -> Result<(), E>,
) -> Result<(Mlp<f32>, Trained), E> {
    let mut mlp = Mlp::<f32>::new(&config.sizes(), config.init, seed, config.threads);
    let mut optimizer =
        (config.optimizer).build_for_threads::<f32>(config.learning_rate, config.threads);
    let measure = Measure {
        validation,
        test: Some(test),
        ..Measure::default()
    };
    let schedule = config.schedule(seed);
    let run = engine_train::train(
        &mut mlp,
        optimizer.as_mut(),
        &schedule,
        train,
        measure,
        None,
        report,
    )?;
    Ok((mlp, run))
}
// ANCHOR_END: train

/// Loss per iteration of one network trained for `iterations` mini-batches of
/// `batch_size`, drawn at random (with replacement, as the book's chapter 6
/// comparisons do) from `seed`. Stops early, with an error, if the loss
/// becomes NaN or infinite.
pub fn loss_curve(
    mlp: &mut Mlp<f32>,
    optimizer: &mut dyn Optimizer<f32>,
    train: &Dataset,
    iterations: usize,
    batch_size: usize,
    seed: u64,
) -> Result<Vec<f64>, String> {
    let mut sampler = BatchSampler::new(train.len(), seed);
    let mut losses = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let batch = sampler.sample(batch_size);
        let loss = to_f64(train_step(mlp, train, &batch, optimizer));
        if !loss.is_finite() {
            return Err(format!("the loss became {loss} at iteration {}", i + 1));
        }
        losses.push(loss);
    }
    Ok(losses)
}

/// The network of the book's chapter 6 comparisons: four hidden layers of 100.
pub const COMPARISON_SIZES: [usize; 6] = [784, 100, 100, 100, 100, 10];

/// One of the book's comparisons: its title and its runs, each a name, the
/// initial weights, an optimizer and its learning rate.
pub struct Comparison {
    pub title: &'static str,
    pub runs: Vec<(String, Init, OptimizerKind, f64)>,
}

impl Comparison {
    /// `Optimizers on MNIST: 784-100-100-100-100-10 ReLU, 2000 iterations of batch 128 each`.
    pub fn heading(&self, iterations: usize, batch_size: usize) -> String {
        let sizes = COMPARISON_SIZES.map(|s| s.to_string()).join("-");
        format!(
            "{}: {sizes} ReLU, {iterations} iterations of batch {batch_size} each",
            self.title
        )
    }
}

// ANCHOR: compare_optimizers
/// The optimizers compared, with the book's learning rates (Adam and RMSprop
/// at 0.001, their usual defaults; the others at 0.01), all from He weights.
pub fn optimizer_runs() -> Comparison {
    let runs = [
        (OptimizerKind::Sgd, 0.01),
        (OptimizerKind::Momentum, 0.01),
        (OptimizerKind::Adagrad, 0.01),
        (OptimizerKind::Rmsprop, 0.001),
        (OptimizerKind::Adam, 0.001),
    ];
    Comparison {
        title: "Optimizers on MNIST",
        runs: (runs.into_iter())
            .map(|(kind, eta)| (format!("{kind} (η = {eta})"), Init::He, kind, eta))
            .collect(),
    }
}

// ANCHOR_END: compare_optimizers

// ANCHOR: compare_init
/// The initial weights compared: std 0.01, Xavier and He, each trained by SGD η = 0.01.
pub fn init_runs() -> Comparison {
    Comparison {
        title: "Initial weights, SGD η = 0.01",
        runs: ([Init::Std, Init::Xavier, Init::He].into_iter())
            .map(|init| (init.to_string(), init, OptimizerKind::Sgd, 0.01))
            .collect(),
    }
}
// ANCHOR_END: compare_init

/// One line of a comparison: its name, the loss per iteration, and the test
/// accuracy after training.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LossCurve {
    pub name: String,
    pub losses: Vec<f64>,
    pub test_accuracy: f64,
}

/// Trains the comparison network once per `(name, init, optimizer, learning rate)`,
/// all from the same seed and batches, and returns their curves.
pub fn compare(
    runs: &[(String, Init, OptimizerKind, f64)],
    train: &Dataset,
    test: &Dataset,
    iterations: usize,
    batch_size: usize,
    seed: u64,
    mut progress: impl FnMut(&LossCurve),
) -> Result<Vec<LossCurve>, String> {
    let mut curves = Vec::new();
    for (name, init, kind, eta) in runs {
        let mut mlp = Mlp::<f32>::new(&COMPARISON_SIZES, *init, seed, 1);
        let mut optimizer = kind.build::<f32>(*eta);
        let losses = loss_curve(
            &mut mlp,
            optimizer.as_mut(),
            train,
            iterations,
            batch_size,
            seed.wrapping_add(1),
        )
        .map_err(|e| format!("{name}: {e}"))?;
        let curve = LossCurve {
            name: name.clone(),
            losses,
            test_accuracy: accuracy(&mut mlp, test),
        };
        progress(&curve);
        curves.push(curve);
    }
    Ok(curves)
}

/// The comparison as a table: each curve's mean loss over its last
/// `window` iterations and its test accuracy, one line each.
pub fn comparison_table(curves: &[LossCurve], window: usize) -> String {
    let mut out = format!(
        "{:<24} {:>22} {:>14}\n",
        "",
        format!("mean loss, last {window}"),
        "test accuracy"
    );
    for c in curves {
        out += &format!(
            "{:<24} {:>22.4} {:>13.2}%\n",
            c.name,
            tail_mean(&c.losses, window),
            100.0 * c.test_accuracy
        );
    }
    out
}

/// The mean of the last `window` values: a steadier "final loss" than the last one.
pub fn tail_mean(values: &[f64], window: usize) -> f64 {
    let tail = &values[values.len().saturating_sub(window)..];
    tail.iter().sum::<f64>() / tail.len().max(1) as f64
}

/// A curve as the mean loss of each block of `window` iterations, one
/// point `(last iteration of the block, mean)` per block: a chart of trends
/// rather than noise.
pub fn smoothed(curve: &LossCurve, window: usize) -> Vec<(f64, f64)> {
    let window = window.max(1);
    curve
        .losses
        .chunks(window)
        .enumerate()
        .map(|(i, w)| {
            (
                (i * window + w.len()) as f64,
                w.iter().sum::<f64>() / w.len() as f64,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_follow_the_tutorials() {
        let numpy = Preset::NumpyMlp.config();
        assert_eq!(numpy.sizes(), vec![784, 100, 200, 10]);
        assert_eq!(
            (numpy.batch_size, numpy.epochs, numpy.validation),
            (32, 25, 10_000)
        );
        assert_eq!(
            (numpy.optimizer, numpy.learning_rate, numpy.init),
            (OptimizerKind::Sgd, 0.1, Init::Xavier)
        );
        let keras = Preset::Keras.config();
        assert_eq!(keras.sizes(), vec![784, 512, 10]);
        assert_eq!(
            (keras.batch_size, keras.epochs, keras.validation),
            (128, 5, 0)
        );
        assert_eq!(
            (keras.optimizer, keras.learning_rate, keras.init),
            (OptimizerKind::Rmsprop, 0.001, Init::XavierUniform)
        );
        // 50,000 / 32 = 1562.5: the tutorial's loop skips the half batch, Keras's does not.
        assert_eq!(numpy.steps_per_epoch(50_000), 1562);
        assert_eq!(keras.steps_per_epoch(60_000), 469);
        assert_eq!(numpy.steps_per_epoch(20), 1);
    }

    #[test]
    fn smoothing_and_tail_means() {
        let curve = LossCurve {
            name: "c".into(),
            losses: vec![4.0, 2.0, 0.0, 2.0],
            test_accuracy: 0.0,
        };
        assert_eq!(smoothed(&curve, 2), vec![(2.0, 3.0), (4.0, 1.0)]);
        assert_eq!(smoothed(&curve, 3), vec![(3.0, 2.0), (4.0, 2.0)]);
        assert_eq!(smoothed(&curve, 10), vec![(4.0, 2.0)]);
        assert_eq!(tail_mean(&curve.losses, 2), 1.0);
        assert_eq!(tail_mean(&curve.losses, 100), 2.0);
    }
}
