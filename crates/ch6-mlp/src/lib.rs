//! # Stage 4: a mini-batch MLP on MNIST
//!
//! Chapter 6 of the book. Stage 3 (`ch5-backprop`) built layers that run
//! forwards and backwards and proved their gradients right. Here they
//! train a real network the way every framework does:
//! - [`mlp`]: stage 3's network of `Affine → ReLU → … → SoftmaxWithLoss`,
//!   engineered, fed whole mini-batches;
//! - [`init`]: initial weights, `std 0.01`, Xavier or He;
//! - [`train`]: the recipes (the tutorials' presets) and the book's
//!   comparisons of optimizers and initialisations;
//! - [`pictures`]: the numbers behind the chapter's pictures of activations
//!   and optimizer paths.
//!
//! Underneath is [`engine`]: every device that exists for speed, each named
//! where it is used and checked against stage 3's plain layers, and the
//! machinery every later network shares (the optimizers, the one
//! [`Trainable`] trait, the one training loop, evaluation and the model
//! file). Training runs in f32 for speed; the gradient checks run the very
//! same generic code in f64 (tests in [`mlp`] and [`engine::dense`]).

pub mod engine;
pub mod init;
pub mod mlp;
pub mod pictures;
pub mod train;

pub use engine::Trainable;
pub use engine::dense::Dense;
pub use engine::optim::{Optimizer, OptimizerKind};
pub use init::Init;
pub use mlp::Mlp;
pub use train::{Config, Preset};
