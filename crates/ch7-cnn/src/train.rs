//! # Training SimpleConvNet
//!
//! Stage 6 of the course (chapter 7). The book's recipe: Adam with learning
//! rate 0.001, mini-batches of 100, shuffled epochs over the 60,000
//! training images. The loop is the engine's, the one every network of
//! stages 4 to 7 trains with: one optimizer step per batch, the network
//! measured on the test set after each epoch, everything reported through a
//! callback of [`TrainEvent`]s. What is this stage's own is the recipe
//! ([`Config`], as a [`Schedule`]) and, with `shift`, the augmentation hook
//! that moves each batch's digits ([`crate::augment`]).

use ch6_mlp::engine::train::{self as engine, Augment, Measure, Schedule, TrainEvent, Trained};
use ch6_mlp::init::Init;
use ch6_mlp::{Optimizer, OptimizerKind};
use mnist::Dataset;
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
    // ANCHOR: schedule
    /// The run's epochs, batches and learning rates, as the engine's loop
    /// takes them: no batch is dropped (the last of an epoch may be short);
    /// `seed` is the run's, each epoch's shuffle drawn from `seed + 1`.
    pub fn schedule(&self, seed: u64) -> Schedule {
        Schedule {
            epochs: self.epochs,
            batch_size: self.batch_size,
            drop_last: false,
            last_epoch_steps: self.last_epoch_steps,
            learning_rate: self.learning_rate,
            decay_epochs: self.decay_epochs,
            seed,
        }
    }
    // ANCHOR_END: schedule

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
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError<E> {
    #[error(transparent)]
    Shape(#[from] ShapeError),
    #[error(transparent)]
    Report(E),
}

// ANCHOR: train
/// Trains a fresh SimpleConvNet of `config` from `seed` on `train` with the
/// engine's loop and Adam, measuring test accuracy after each epoch; with
/// `config.shift`, each batch's digits are moved first, by shifts drawn from
/// their own stream (seed + 2).
pub fn train<E>(
    config: &Config,
    seed: u64,
    train: &Dataset,
    test: &Dataset,
    report: impl FnMut(TrainEvent) -> Result<(), E>,
) -> Result<(SimpleConvNet<f32>, Trained), TrainError<E>> {
    let mut net =
        SimpleConvNet::<f32>::new(config.architecture, config.init, seed, config.threads)?;
    let mut optimizer = config.optimizer();
    let mut shifts = StdRng::seed_from_u64(seed.wrapping_add(2));
    let mut shift =
        |data: &Dataset, batch: &[usize]| shifted_batch(data, batch, config.shift, &mut shifts);
    let augment: Option<&mut Augment<'_>> =
        (config.shift > 0).then_some(&mut shift as &mut Augment<'_>);
    let measure = Measure {
        test: Some(test),
        ..Measure::default()
    };
    let trained = engine::train(
        &mut net,
        optimizer.as_mut(),
        &config.schedule(seed),
        train,
        measure,
        augment,
        report,
    )
    .map_err(TrainError::Report)?;
    Ok((net, trained))
}
// ANCHOR_END: train

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_count_a_partial_last_epoch() {
        let mut c = Config::book(2);
        assert_eq!(c.schedule(0).steps_per_epoch(60_000), 600);
        assert_eq!(c.schedule(0).steps(60_000), 1200);
        assert_eq!(c.schedule(0).learning_rate_of(1), 0.001);
        c.decay_epochs = 1;
        let s = c.schedule(0);
        assert_eq!(
            (s.learning_rate_of(0), s.learning_rate_of(1)),
            (0.001, 0.0001)
        );
        c.last_epoch_steps = Some(250);
        assert_eq!(c.schedule(0).steps(60_000), 850);
        c.last_epoch_steps = Some(10_000);
        assert_eq!(c.schedule(0).steps(60_000), 1200);
        assert_eq!(c.schedule(0).steps_per_epoch(150), 2);
    }
}
