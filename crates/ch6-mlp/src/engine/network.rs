//! # The one trait a trainable network implements
//!
//! Stages 4 to 7 train different networks (stage 4's `Mlp`, stage 5's
//! regularised network, stage 6's `SimpleConvNet`, …) with the same
//! machinery: one optimizer step, one training loop, one evaluation, one
//! model file. Each network says only what is its own, by implementing
//! [`Trainable`]: how a batch is loaded, how its loss and gradients are
//! computed, how it scores a batch, which parameters it has, and what goes
//! into its model file. Everything else is written once, against this
//! trait ([`step`], [`crate::engine::train`], [`crate::engine::evaluate`],
//! [`crate::engine::model_file`]).

use mnist::Dataset;
use nalgebra::{DMatrix, RealField};

use crate::engine::model_file::{ModelError, ModelFile, Tensor};
use crate::engine::optim::Optimizer;

// ANCHOR: trainable
/// A network the engine can train, evaluate, save and load.
pub trait Trainable<T: RealField + Copy> {
    /// Makes the images at `indices` of `data` (pixels / 255) and their
    /// one-hot labels the current batch.
    fn load_batch(&mut self, data: &Dataset, indices: &[usize]);

    /// One forward pass in training mode and one backward pass over the
    /// current batch: afterwards every parameter's gradient is that of the
    /// batch's loss. Returns the loss.
    fn gradient(&mut self) -> T;

    /// The scores (logits) `N × classes` of the current batch, at inference
    /// (no dropout; batch norm with its running averages).
    fn scores(&mut self) -> &DMatrix<T>;

    /// Visits every `(parameter, gradient)` pair, always in the same order.
    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>));

    /// Images per chunk when a whole data set is scored.
    fn eval_batch(&self) -> usize {
        1000
    }

    /// The network in words, such as `784-100-200-10 ReLU`.
    fn describe(&self) -> String;

    /// Number of trainable numbers.
    fn parameter_count(&self) -> usize;

    /// The `format` its model files carry: the program that writes them.
    const FORMAT: &'static str;

    /// What its model file holds: the metadata that rebuilds the
    /// architecture, and every tensor.
    fn model(&self) -> (Vec<(&'static str, String)>, Vec<Tensor>);

    /// The network a model file describes, every number checked; its large
    /// products may use `threads` threads.
    fn from_model(file: &ModelFile, threads: usize) -> Result<Self, ModelError>
    where
        Self: Sized;
}
// ANCHOR_END: trainable

// ANCHOR: step
/// One training step's update: every parameter of `net` moved by
/// `optimizer` from the gradients of its last backward pass. `slot`
/// numbers the matrices so that an optimizer keeps a memory for each.
pub fn step<T: RealField + Copy>(optimizer: &mut dyn Optimizer<T>, net: &mut impl Trainable<T>) {
    optimizer.start_step();
    let mut slot = 0;
    net.for_each_param(&mut |param, grad| {
        optimizer.update(slot, param.as_mut_slice(), grad.as_slice());
        slot += 1;
    });
}
// ANCHOR_END: step

// ANCHOR: train_step
/// One training step on the images at `indices` of `data`: load, forward,
/// backward, update. Returns the batch's loss.
pub fn train_step<T: RealField + Copy>(
    net: &mut impl Trainable<T>,
    data: &Dataset,
    indices: &[usize],
    optimizer: &mut dyn Optimizer<T>,
) -> T {
    net.load_batch(data, indices);
    let loss = net.gradient();
    step(optimizer, net);
    loss
}
// ANCHOR_END: train_step
