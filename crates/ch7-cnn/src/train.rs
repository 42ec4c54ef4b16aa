//! # Training SimpleConvNet
//!
//! Stage 6 of the course (chapter 7). The book's recipe: Adam with learning
//! rate 0.001, mini-batches of 100, shuffled epochs over the 60,000
//! training images. The loop is stage 4's: one optimizer step per batch,
//! the network measured on the test set after each epoch, everything
//! reported through a callback of [`TrainEvent`]s.

use std::time::Instant;

use ch5_backprop::train::to_f64;
use ch6_mlp::init::Init;
use ch6_mlp::optim::{Adam, Optimizer, OptimizerKind};
use mnist::{Accuracies, BatchSampler, Dataset, TrainEvent};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::augment::shifted_batch;
use crate::layout::ShapeError;
use crate::net::{Architecture, SimpleConvNet};

// ANCHOR: config
/// Everything that decides a training run besides the seed and the data.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub architecture: Architecture,
    /// Initial weights: `He` (`σ² = 2/fan_in`, chapter 6) by default; `Std`
    /// is the book's chapter 7 choice, `N(0, 0.01²)`.
    pub init: Init,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// Move each training image by up to this many pixels, at random, each
    /// time it is seen (0: never, the book's recipe); see [`crate::augment`].
    pub shift: usize,
    /// Train the last `decay_epochs` epochs at a tenth of the learning rate
    /// (learning rate decay, the book's chapter 6; 0: never).
    pub decay_epochs: usize,
    /// Stop after this many steps of the last epoch (`None`: the whole epoch):
    /// the default run trains part of an epoch.
    pub last_epoch_steps: Option<usize>,
    /// Threads a large matrix product may use.
    pub threads: usize,
}

impl Config {
    /// The book's recipe (Adam, η = 0.001, batch 100) for `epochs` epochs.
    pub fn book(epochs: usize) -> Config {
        Config {
            architecture: Architecture::SIMPLE,
            init: Init::He,
            learning_rate: 0.001,
            batch_size: 100,
            epochs,
            shift: 0,
            decay_epochs: 0,
            last_epoch_steps: None,
            threads: 2,
        }
    }
}
// ANCHOR_END: config

impl Config {
    /// Optimizer steps in one full epoch over `images` training images.
    pub fn steps_per_epoch(&self, images: usize) -> usize {
        images.div_ceil(self.batch_size)
    }

    /// Steps of the whole run.
    pub fn steps(&self, images: usize) -> usize {
        let per_epoch = self.steps_per_epoch(images);
        let last = self
            .last_epoch_steps
            .map_or(per_epoch, |s| s.min(per_epoch));
        self.epochs.saturating_sub(1) * per_epoch + if self.epochs > 0 { last } else { 0 }
    }

    /// The settings in words.
    pub fn describe(&self) -> String {
        format!(
            "{}, {} init, Adam η = {}, batch {}{}",
            self.architecture.describe(),
            self.init,
            self.learning_rate,
            self.batch_size,
            if self.shift > 0 {
                format!(", images moved by up to {} pixels", self.shift)
            } else {
                String::new()
            }
        )
    }

    /// The optimizer of the recipe: Adam.
    pub fn optimizer(&self) -> Box<dyn Optimizer<f32>> {
        OptimizerKind::Adam.build::<f32>(self.learning_rate)
    }

    /// The learning rate of epoch `e` (from 0): `η`, or `η/10` in the last `decay_epochs`.
    pub fn learning_rate_of(&self, e: usize) -> f64 {
        if e + self.decay_epochs >= self.epochs {
            self.learning_rate / 10.0
        } else {
            self.learning_rate
        }
    }
}

/// The random streams of training besides the weights', each from its own
/// seed, so that changing one leaves the others alone: the shuffles of the
/// epochs (seed + 1) and the shifts of data augmentation (seed + 2).
pub struct Streams {
    pub batches: BatchSampler,
    pub shifts: StdRng,
}

impl Streams {
    /// The streams of a run from `seed` over `images` training images.
    pub fn new(images: usize, seed: u64) -> Streams {
        Streams {
            batches: BatchSampler::new(images, seed.wrapping_add(1)),
            shifts: StdRng::seed_from_u64(seed.wrapping_add(2)),
        }
    }
}

// ANCHOR: epoch
/// One epoch (or its first `steps` batches): a fresh shuffle of `train`,
/// cut into batches of `config.batch_size`, one Adam step each; with
/// `config.shift`, each batch's images moved at random (drawn from `streams.shifts`).
pub fn epoch<E>(
    net: &mut SimpleConvNet<f32>,
    train: &Dataset,
    streams: &mut Streams,
    config: &Config,
    steps: usize,
    optimizer: &mut dyn Optimizer<f32>,
    report: &mut impl FnMut(TrainEvent) -> Result<(), E>,
) -> Result<(), E> {
    let batches = streams.batches.epoch(config.batch_size);
    for batch in batches.iter().take(steps) {
        let loss = if config.shift == 0 {
            net.train_step(train, batch, optimizer)
        } else {
            let x = shifted_batch(train, batch, config.shift, &mut streams.shifts);
            net.set_batch(x, train.batch_one_hot(batch));
            net.learn(optimizer)
        };
        report(TrainEvent::Step(to_f64(loss)))?;
    }
    Ok(())
}
// ANCHOR_END: epoch

/// What a training run ends with.
pub struct Trained {
    pub net: SimpleConvNet<f32>,
    /// The filters before the first step, `W: (C·FH·FW) × FN` (for pictures).
    pub initial_filters: nalgebra::DMatrix<f32>,
    /// Seconds of training (no evaluation) of each epoch.
    pub epoch_seconds: Vec<f64>,
    pub test_accuracy: f64,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E> {
    #[error(transparent)]
    Shape(#[from] ShapeError),
    #[error(transparent)]
    Report(E),
}

// ANCHOR: train
/// Trains a fresh SimpleConvNet of `config` from `seed` on `train`,
/// measuring test accuracy after each epoch.
pub fn train<E>(
    config: &Config,
    seed: u64,
    train: &Dataset,
    test: &Dataset,
    mut report: impl FnMut(TrainEvent) -> Result<(), E>,
) -> Result<Trained, RunError<E>> {
    let mut net =
        SimpleConvNet::<f32>::new(config.architecture, config.init, seed, config.threads)?;
    let initial_filters = net.conv.w.clone();
    let mut optimizer = Adam::new(config.learning_rate as f32);
    let mut streams = Streams::new(train.len(), seed);
    let per_epoch = config.steps_per_epoch(train.len());
    let mut epoch_seconds = Vec::new();
    let mut test_accuracy = f64::NAN;
    for e in 0..config.epochs {
        let last = e + 1 == config.epochs;
        let steps = match config.last_epoch_steps {
            Some(s) if last => s.min(per_epoch),
            _ => per_epoch,
        };
        optimizer.learning_rate = config.learning_rate_of(e) as f32;
        let started = Instant::now();
        epoch(
            &mut net,
            train,
            &mut streams,
            config,
            steps,
            &mut optimizer,
            &mut report,
        )
        .map_err(RunError::Report)?;
        epoch_seconds.push(started.elapsed().as_secs_f64());
        test_accuracy = net.accuracy(test);
        let accuracies = Accuracies {
            train: None,
            validation: None,
            test: test_accuracy,
        };
        report(TrainEvent::Evaluated(accuracies)).map_err(RunError::Report)?;
    }
    Ok(Trained {
        net,
        initial_filters,
        epoch_seconds,
        test_accuracy,
    })
}
// ANCHOR_END: train

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_count_a_partial_last_epoch() {
        let mut c = Config::book(2);
        assert_eq!(c.steps_per_epoch(60_000), 600);
        assert_eq!(c.steps(60_000), 1200);
        assert_eq!(c.learning_rate_of(1), 0.001);
        c.decay_epochs = 1;
        assert_eq!(
            (c.learning_rate_of(0), c.learning_rate_of(1)),
            (0.001, 0.0001)
        );
        c.last_epoch_steps = Some(250);
        assert_eq!(c.steps(60_000), 850);
        c.last_epoch_steps = Some(10_000);
        assert_eq!(c.steps(60_000), 1200);
        assert_eq!(c.steps_per_epoch(150), 2);
    }
}
