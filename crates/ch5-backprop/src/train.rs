//! # Training loops
//!
//! Stage 3 of the course (chapter 5). With the gradient from backprop, the
//! training loops are the ones a learner will meet everywhere:
//! - [`train_minibatch`]: the book's chapter 5 recipe, random mini-batches of
//!   100 drawn with replacement, one SGD step each, accuracies once per epoch;
//! - [`train_per_sample`]: the layer tutorial's loop, one image at a time;
//! - [`train_xor`]: the classic first test, four samples of XOR.
//!
//! They report through `train_cli::Reporter` (progress, divergence stop,
//! summary, `--json`, `--plot`).

use std::time::{Duration, Instant};

use mnist::{BatchSampler, CLASSES, Dataset, IMAGE_SIZE};
use nalgebra::{DMatrix, RealField};
use train_cli::{Accuracies, Reporter, TrainError};

use crate::network::{Network, Sgd};

/// A scalar of the network as an `f64`, for reporting.
pub fn to_f64<T: RealField + Copy>(x: T) -> f64 {
    nalgebra::try_convert::<T, f64>(x).unwrap_or(f64::NAN)
}

/// The accuracy of `network` on all of `data`, in chunks of 1,000 images.
pub fn accuracy<T: RealField + Copy + From<u8>>(network: &mut Network<T>, data: &Dataset) -> f64 {
    let (mut x, mut t) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    let mut correct = 0.0;
    for start in (0..data.len()).step_by(1000) {
        let indices: Vec<usize> = (start..data.len().min(start + 1000)).collect();
        load_batch(data, &indices, &mut x, &mut t);
        let labels = &data.labels()[start..start + indices.len()];
        correct += network.accuracy(&x, labels) * labels.len() as f64;
    }
    correct / data.len().max(1) as f64
}

/// Writes the images at `indices` into `x: N × 784` (pixel / 255) and their
/// one-hot labels into `t: N × 10`, reusing both matrices (resized only when
/// `N` changes). The same numbers as `Dataset::batch_images` and
/// `batch_one_hot`, without allocating them anew at every step.
pub fn load_batch<T: RealField + Copy + From<u8>>(
    data: &Dataset,
    indices: &[usize],
    x: &mut DMatrix<T>,
    t: &mut DMatrix<T>,
) {
    let n = indices.len();
    if x.shape() != (n, IMAGE_SIZE) {
        *x = DMatrix::zeros(n, IMAGE_SIZE);
    }
    if t.shape() != (n, CLASSES) {
        *t = DMatrix::zeros(n, CLASSES);
    }
    // 256 divisions instead of one per pixel.
    let scale = T::from(255u8);
    let value: [T; 256] = std::array::from_fn(|p| T::from(p as u8) / scale);
    // Column by column, in nalgebra's storage order: pixel c of every image.
    let images: Vec<&[u8]> = indices.iter().map(|&i| data.image(i)).collect();
    for (c, column) in x.as_mut_slice().chunks_exact_mut(n.max(1)).enumerate() {
        for (x, image) in column.iter_mut().zip(&images) {
            *x = value[image[c] as usize];
        }
    }
    t.fill(T::zero());
    for (row, &i) in indices.iter().enumerate() {
        t[(row, data.labels()[i] as usize)] = T::one();
    }
}

/// Training accuracy is measured on this many training images (the first
/// ones), as in stage 1: an estimate of the accuracy on all 60,000 at a
/// sixth of the cost, so evaluations stay small next to the training.
pub const TRAIN_EVAL_IMAGES: usize = 10_000;

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
/// on the first [`TRAIN_EVAL_IMAGES`]. Returns the time spent in
/// `Network::gradient`.
pub fn train_minibatch<T: RealField + Copy + From<u8>>(
    network: &mut Network<T>,
    train: &Dataset,
    test: &Dataset,
    config: MinibatchConfig,
    reporter: &mut Reporter,
) -> Result<Duration, TrainError> {
    let sgd = Sgd::new(nalgebra::convert::<f64, T>(config.learning_rate));
    let mut sampler = BatchSampler::new(train.len(), config.seed);
    let steps_per_epoch = (train.len() / config.batch_size).max(1);
    let train_eval = train.first(TRAIN_EVAL_IMAGES);
    let (mut x, mut t) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    let mut gradient_time = Duration::ZERO;
    for step in 1..=config.steps {
        let batch = sampler.sample(config.batch_size);
        load_batch(train, &batch, &mut x, &mut t);
        let started = Instant::now();
        let loss = network.gradient(&x, &t);
        gradient_time += started.elapsed();
        sgd.update(network);
        reporter.step(to_f64(loss))?;
        if step % steps_per_epoch == 0 || step == config.steps {
            reporter.evaluate(|| Accuracies {
                train: Some(accuracy(network, &train_eval)),
                validation: None,
                test: accuracy(network, test),
            });
        }
    }
    Ok(gradient_time)
}
// ANCHOR_END: train_minibatch

/// Writes image `i` of `data` into the `1 × 784` row `x` (pixels / 255) and
/// its one-hot label into the `1 × 10` row `t`, reusing both.
pub fn load_sample<T: RealField + Copy + From<u8>>(
    data: &Dataset,
    i: usize,
    x: &mut DMatrix<T>,
    t: &mut DMatrix<T>,
) {
    let scale = T::from(255u8);
    for (x, &pixel) in x.as_mut_slice().iter_mut().zip(data.image(i)) {
        *x = T::from(pixel) / scale;
    }
    t.fill(T::zero());
    t[data.labels()[i] as usize] = T::one();
}

// ANCHOR: train_per_sample
/// The layer tutorial's loop: every training image in order, one at a time,
/// one SGD step each (`epochs` passes). Test accuracy every `evaluate_every`
/// images and at the end of each epoch.
pub fn train_per_sample<T: RealField + Copy + From<u8>>(
    network: &mut Network<T>,
    train: &Dataset,
    test: &Dataset,
    epochs: usize,
    learning_rate: f64,
    evaluate_every: usize,
    reporter: &mut Reporter,
) -> Result<(), TrainError> {
    let sgd = Sgd::new(nalgebra::convert::<f64, T>(learning_rate));
    let mut x = DMatrix::zeros(1, IMAGE_SIZE);
    let mut t = DMatrix::zeros(1, CLASSES);
    for _ in 0..epochs {
        for i in 0..train.len() {
            load_sample(train, i, &mut x, &mut t);
            let loss = network.gradient(&x, &t);
            sgd.update(network);
            reporter.step(to_f64(loss))?;
            if (i + 1) % evaluate_every == 0 || i + 1 == train.len() {
                reporter.evaluate(|| Accuracies {
                    test: accuracy(network, test),
                    ..Default::default()
                });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_batch_gives_the_datasets_own_numbers() {
        let pixels = (0..4 * IMAGE_SIZE).map(|i| (i * 7 % 256) as u8).collect();
        let data = Dataset::from_parts(pixels, vec![3, 1, 4, 1]);
        let (mut x, mut t) = (DMatrix::<f64>::zeros(0, 0), DMatrix::zeros(0, 0));
        for indices in [vec![2, 0, 3], vec![1], vec![3, 3, 0]] {
            load_batch(&data, &indices, &mut x, &mut t);
            assert_eq!(x, data.batch_images::<f64>(&indices));
            assert_eq!(t, data.batch_one_hot::<f64>(&indices));
        }
        let (mut x1, mut t1) = (
            DMatrix::<f32>::zeros(1, IMAGE_SIZE),
            DMatrix::zeros(1, CLASSES),
        );
        load_sample(&data, 2, &mut x1, &mut t1);
        assert_eq!(x1, data.batch_images::<f32>(&[2]));
        assert_eq!(t1, data.batch_one_hot::<f32>(&[2]));
    }
}
