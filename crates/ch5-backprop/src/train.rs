//! # Training loops
//!
//! Stage 3 of the course (chapter 5). With the gradient from backprop, the
//! training loops are the ones a learner will meet everywhere:
//! - [`train_minibatch`]: the book's chapter 5 recipe, random mini-batches of
//!   100 drawn with replacement, one SGD step each, accuracies once per epoch;
//! - [`train_per_sample`]: the layer tutorial's loop, one image at a time;
//! - [`train_xor`]: the classic first test, four samples of XOR.
//!
//! A loop tells its caller what happens through a callback, one [`TrainEvent`]
//! at a time (a step's loss, an evaluation's accuracies); the caller may stop
//! training by returning an error. The command line (`main.rs`) turns the
//! events into progress, a summary, `--json` and `--plot`.

use mnist::{BatchSampler, Dataset, TRAIN_EVAL_IMAGES};
use nalgebra::{DMatrix, RealField};

use crate::network::{Network, Sgd};

/// Accuracies measured at one evaluation, as fractions in `[0, 1]`: on
/// (part of) the training images, on a held-out validation split, and on
/// the test set; `None` for a set not measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Accuracies {
    pub train: Option<f64>,
    pub validation: Option<f64>,
    pub test: Option<f64>,
}

/// What a training loop reports as it happens, through a callback (the
/// command line turns these into progress and a summary). Stage 4's engine
/// trains every later network with a loop that reports the same events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrainEvent {
    /// One parameter update done; the loss of its batch.
    Step(f64),
    /// Accuracies measured after the steps so far.
    Evaluated(Accuracies),
}

/// A scalar of the network as an `f64`, for reporting.
pub fn to_f64<T: RealField + Copy>(x: T) -> f64 {
    nalgebra::try_convert::<T, f64>(x).unwrap_or(f64::NAN)
}

/// The accuracy of `network` on all of `data`.
pub fn accuracy<T: RealField + Copy + From<u8>>(network: &mut Network<T>, data: &Dataset) -> f64 {
    data.accuracy(|x| network.predict(x))
}

/// Settings of the mini-batch recipe.
#[derive(Clone, Copy, Debug)]
pub struct MinibatchConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Seeds the mini-batch sampler (the network has its own seed).
    pub seed: u64,
}

// ANCHOR: train_minibatch
/// The book's chapter 5 training loop: draw `batch_size` random images
/// (with replacement), one forward and one backward pass for the gradient,
/// one SGD step; measure training and test accuracy once per epoch
/// (`train.len() / batch_size` steps) and at the end, the training accuracy
/// on the first [`TRAIN_EVAL_IMAGES`].
pub fn train_minibatch<T: RealField + Copy + From<u8>, E>(
    network: &mut Network<T>,
    train: &Dataset,
    test: &Dataset,
    config: MinibatchConfig,
    mut report: impl FnMut(TrainEvent) -> Result<(), E>,
) -> Result<(), E> {
    let sgd = Sgd::new(nalgebra::convert::<f64, T>(config.learning_rate));
    let mut sampler = BatchSampler::new(train.len(), config.seed);
    let steps_per_epoch = (train.len() / config.batch_size).max(1);
    let train_eval = train.first(TRAIN_EVAL_IMAGES);
    for step in 1..=config.steps {
        let batch = sampler.sample(config.batch_size);
        let (x, t) = (train.batch_images(&batch), train.batch_one_hot(&batch));
        let loss = network.gradient(&x, &t);
        sgd.update(network);
        report(TrainEvent::Step(to_f64(loss)))?;
        if step % steps_per_epoch == 0 || step == config.steps {
            report(TrainEvent::Evaluated(Accuracies {
                train: Some(accuracy(network, &train_eval)),
                validation: None,
                test: Some(accuracy(network, test)),
            }))?;
        }
    }
    Ok(())
}
// ANCHOR_END: train_minibatch

// ANCHOR: train_per_sample
/// The layer tutorial's loop: every training image in order, one at a time
/// (`x: 1 × 784`), one SGD step each (`epochs` passes). Test accuracy every
/// `evaluate_every` images and at the end of each epoch.
pub fn train_per_sample<T: RealField + Copy + From<u8>, E>(
    network: &mut Network<T>,
    train: &Dataset,
    test: &Dataset,
    epochs: usize,
    learning_rate: f64,
    evaluate_every: usize,
    mut report: impl FnMut(TrainEvent) -> Result<(), E>,
) -> Result<(), E> {
    let sgd = Sgd::new(nalgebra::convert::<f64, T>(learning_rate));
    for _ in 0..epochs {
        for i in 0..train.len() {
            let (x, t) = (train.batch_images(&[i]), train.batch_one_hot(&[i]));
            let loss = network.gradient(&x, &t);
            sgd.update(network);
            report(TrainEvent::Step(to_f64(loss)))?;
            if (i + 1) % evaluate_every == 0 || i + 1 == train.len() {
                report(TrainEvent::Evaluated(Accuracies {
                    test: Some(accuracy(network, test)),
                    ..Default::default()
                }))?;
            }
        }
    }
    Ok(())
}
// ANCHOR_END: train_per_sample

// ANCHOR: xor
/// The four XOR samples: inputs `4 × 2` and targets `4 × 1`.
pub fn xor_data<T: RealField + Copy>() -> (DMatrix<T>, DMatrix<T>) {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    (x.map(nalgebra::convert), t.map(nalgebra::convert))
}

/// Trains `network` on XOR, one sample at a time, for `epochs` passes.
/// Calls `on_epoch(epoch, mean loss)` after each pass; returns the final mean loss.
pub fn train_xor<T: RealField + Copy>(
    network: &mut Network<T>,
    epochs: usize,
    learning_rate: f64,
    mut on_epoch: impl FnMut(usize, f64),
) -> f64 {
    let (inputs, targets) = xor_data::<T>();
    let sgd = Sgd::new(nalgebra::convert::<f64, T>(learning_rate));
    let mut mean_loss = f64::NAN;
    for epoch in 1..=epochs {
        let mut total = 0.0;
        for n in 0..4 {
            let x = inputs.rows(n, 1).into_owned();
            let t = targets.rows(n, 1).into_owned();
            total += to_f64(network.gradient(&x, &t));
            sgd.update(network);
        }
        mean_loss = total / 4.0;
        on_epoch(epoch, mean_loss);
    }
    mean_loss
}
// ANCHOR_END: xor
