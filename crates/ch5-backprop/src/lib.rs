//! # Stage 3: backpropagation, built from layers
//!
//! Chapter 5 of the book. Stage 2 (`ch4-two-layer`) found the gradient of a
//! two-layer network numerically: two loss evaluations per parameter, about
//! 80,000 of them. Here the same gradient comes from one forward and one
//! backward pass, by the chain rule, so training gets thousands of times faster.
//!
//! The chapter in the order it tells it:
//! - `examples/apple_shopping.rs`: multiplication and addition nodes, the
//!   chain rule on numbers before matrices;
//! - [`by_hand`]: stage 2's whole backward pass written out once, a matrix
//!   line per step;
//! - [`layer`]: the [`Layer`] trait (`forward`, `backward`) and the layers
//!   [`Affine`], [`Sigmoid`], [`Relu`], [`Tanh`], each with its derivation;
//! - [`loss`]: [`SoftmaxWithLoss`] and [`MeanSquaredError`], where backward starts;
//! - [`network`]: a [`Network`] of layers (`predict`, `loss`, `gradient`) and [`Sgd`];
//! - [`gradient_check`]: every analytic gradient compared with a numerical one;
//! - [`train`]: the training loops (the book's mini-batch recipe, per-sample
//!   SGD from the layer tutorial, and XOR).
//!
//! This stage is the textbook: each layer is its formulas as nalgebra
//! expressions, allocating freely, with no special paths. Stage 4
//! (`ch6-mlp`) is the engine that makes the same layers fast, and is checked
//! against these. Everything is generic over the scalar (`f32` or `f64`);
//! the gradient checks run in `f64`.

pub mod by_hand;
pub mod gradient_check;
pub mod layer;
pub mod loss;
pub mod network;
pub mod train;

pub use layer::{Affine, Layer, Relu, Sigmoid, Tanh};
pub use loss::{Loss, MeanSquaredError, SoftmaxWithLoss, cross_entropy, softmax};
pub use network::{Activation, Network, Sgd};
