//! # The training loop every network of stages 4 to 7 trains with
//!
//! One epoch shuffles the training set (from the seed) and walks through it
//! in mini-batches, one optimizer step each; after every epoch (or every
//! few) the network is measured on whichever sets the caller names. The
//! loop knows nothing of the network but its [`Trainable`] trait, and
//! nothing of the command line: it reports through a callback, one
//! [`TrainEvent`] at a time, and a callback's error stops it (that is how
//! the command line's reporter stops a run that diverges).
//!
//! What varies between recipes is data, not code: a [`Schedule`] (epochs,
//! batch size, whether a last short batch is skipped, learning-rate decay,
//! a partial last epoch), a [`Measure`], and an optional
//! augmentation that turns each batch's images into new ones.

use std::time::Instant;

use mnist::{BatchSampler, Dataset};

pub use ch5_backprop::train::{Accuracies, TrainEvent};

use crate::engine::evaluate::accuracy;
use crate::engine::network::{Trainable, step};
use crate::engine::optim::Optimizer;

// ANCHOR: schedule
/// How long and in what pieces a network trains.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// Passes over the training set.
    pub epochs: usize,
    pub batch_size: usize,
    /// Skip the last batch of each epoch when it is smaller than `batch_size`
    /// (and the set holds at least one whole batch).
    pub drop_last: bool,
    /// Stop after this many steps of the last epoch (`None`: the whole epoch).
    pub last_epoch_steps: Option<usize>,
    /// The learning rate η...
    pub learning_rate: f64,
    /// ...for all but the last `decay_epochs` epochs, which train at `η/10`
    /// (learning-rate decay; 0: never).
    pub decay_epochs: usize,
    /// The run's seed: each epoch's shuffle comes from `seed + 1`, a stream
    /// of its own, so that a change to the network leaves the batches alone.
    pub seed: u64,
}
// ANCHOR_END: schedule

impl Schedule {
    /// Optimizer steps in one full epoch over `images` training images (at
    /// least one: with fewer images than a batch, the one batch is not dropped).
    pub fn steps_per_epoch(&self, images: usize) -> usize {
        let batch = self.batch_size.max(1);
        if self.drop_last && images >= batch {
            images / batch
        } else {
            images.div_ceil(batch)
        }
    }

    /// Steps of epoch `e` (from 0): all of them, or the last epoch's share.
    pub fn steps_of_epoch(&self, e: usize, images: usize) -> usize {
        let per_epoch = self.steps_per_epoch(images);
        match self.last_epoch_steps {
            Some(s) if e + 1 == self.epochs => s.min(per_epoch),
            _ => per_epoch,
        }
    }

    /// Steps of the whole run.
    pub fn steps(&self, images: usize) -> usize {
        (0..self.epochs)
            .map(|e| self.steps_of_epoch(e, images))
            .sum()
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

/// Which sets the network is measured on, and when.
#[derive(Clone, Copy, Debug, Default)]
pub struct Measure<'a> {
    /// Accuracy on (part of) the training set itself.
    pub train: Option<&'a Dataset>,
    /// A validation split held out of the training images.
    pub validation: Option<&'a Dataset>,
    pub test: Option<&'a Dataset>,
    /// Measure after every `every` epochs, and after the last (0 counts as 1).
    pub every: usize,
}

impl Measure<'_> {
    /// True when epoch `number` (from 1) of `epochs` ends with a measurement.
    fn after(&self, number: usize, epochs: usize) -> bool {
        number % self.every.max(1) == 0 || number == epochs
    }

    fn measure<T: nalgebra::RealField + Copy>(&self, net: &mut impl Trainable<T>) -> Accuracies {
        let mut on = |set: Option<&Dataset>| set.map(|d| accuracy(net, d));
        Accuracies {
            train: on(self.train),
            validation: on(self.validation),
            test: on(self.test),
        }
    }
}

/// Turns the images at a batch's indices into new training images (data
/// augmentation): returns them as a data set of their own, in batch order.
pub type Augment<'a> = dyn FnMut(&Dataset, &[usize]) -> Dataset + 'a;

/// What a run ends with besides the trained network.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    /// Seconds of training (no evaluation) of each epoch.
    pub epoch_seconds: Vec<f64>,
    /// The last measurement.
    pub accuracies: Accuracies,
}

impl Trained {
    /// The last test accuracy (NaN when the test set was not measured).
    pub fn test_accuracy(&self) -> f64 {
        self.accuracies.test.unwrap_or(f64::NAN)
    }
}

// ANCHOR: train
/// Trains `net` on `data` by `schedule`: each epoch a fresh shuffle cut into
/// batches, one `optimizer` step each, the images augmented first when
/// `augment` is given; measured as `measure` says.
/// `report` sees every step's loss and every measurement; its error stops
/// training and is returned.
pub fn train<N: Trainable<f32>, E>(
    net: &mut N,
    optimizer: &mut dyn Optimizer<f32>,
    schedule: &Schedule,
    data: &Dataset,
    measure: Measure<'_>,
    mut augment: Option<&mut Augment<'_>>,
    mut report: impl FnMut(TrainEvent) -> Result<(), E>,
) -> Result<Trained, E> {
    let mut sampler = BatchSampler::new(data.len(), schedule.seed.wrapping_add(1));
    let mut trained = Trained {
        epoch_seconds: Vec::new(),
        accuracies: Accuracies::default(),
    };
    for e in 0..schedule.epochs {
        if schedule.decay_epochs > 0 {
            optimizer.set_learning_rate(schedule.learning_rate_of(e));
        }
        let started = Instant::now();
        let batches = sampler.epoch(schedule.batch_size);
        for batch in batches.iter().take(schedule.steps_of_epoch(e, data.len())) {
            match augment.as_mut() {
                Some(augment) => {
                    let moved = augment(data, batch);
                    let all: Vec<usize> = (0..batch.len()).collect();
                    net.load_batch(&moved, &all);
                }
                None => net.load_batch(data, batch),
            }
            let loss = net.gradient();
            step(optimizer, net);
            report(TrainEvent::Step(f64::from(loss)))?;
        }
        trained.epoch_seconds.push(started.elapsed().as_secs_f64());
        if measure.after(e + 1, schedule.epochs) {
            trained.accuracies = measure.measure(net);
            report(TrainEvent::Evaluated(trained.accuracies))?;
        }
    }
    Ok(trained)
}
// ANCHOR_END: train

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            epochs: 2,
            batch_size: 100,
            drop_last: false,
            last_epoch_steps: None,
            learning_rate: 0.001,
            decay_epochs: 0,
            seed: 1,
        }
    }

    #[test]
    fn steps_count_a_partial_last_epoch_and_dropped_batches() {
        let mut s = schedule();
        assert_eq!(s.steps_per_epoch(60_000), 600);
        assert_eq!(s.steps(60_000), 1200);
        assert_eq!(s.learning_rate_of(1), 0.001);
        s.decay_epochs = 1;
        assert_eq!(
            (s.learning_rate_of(0), s.learning_rate_of(1)),
            (0.001, 0.0001)
        );
        s.last_epoch_steps = Some(250);
        assert_eq!(s.steps(60_000), 850);
        s.last_epoch_steps = Some(10_000);
        assert_eq!(s.steps(60_000), 1200);
        assert_eq!(s.steps_per_epoch(150), 2);
        // 50,000 / 32 = 1562.5: dropping the last batch skips the half batch.
        let numpy = Schedule {
            batch_size: 32,
            drop_last: true,
            ..schedule()
        };
        assert_eq!(numpy.steps_per_epoch(50_000), 1562);
        assert_eq!(numpy.steps_per_epoch(20), 1);
    }

    #[test]
    fn measurements_come_every_few_epochs_and_after_the_last() {
        let e = Measure {
            every: 5,
            ..Measure::default()
        };
        let after: Vec<usize> = (1..=12).filter(|&n| e.after(n, 12)).collect();
        assert_eq!(after, vec![5, 10, 12]);
        let every = Measure::default();
        assert!((1..=3).all(|n| every.after(n, 3)));
    }
}
