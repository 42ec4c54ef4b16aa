//! # The engine: what every network of stages 4 to 7 trains on
//!
//! Stage 3's layers are the textbook: plain code that reads like its
//! formulas. The engine is where speed lives, each device named and
//! measured (the book's chapter on making it fast), together with the
//! machinery every later network shares rather than copies:
//! - [`dense`]: stage 3's `Affine`, engineered: kept buffers, transposes
//!   read in place, the `gemm` crate's products;
//! - [`tiles`]: register tiles, a product kernel for the short sums of batch-32 gradients;
//! - [`simd`]: element-wise passes at the CPU's full vector width, chosen at run time;
//! - [`devices`]: the one switch that turns each of these devices on or off;
//! - [`layers`]: ReLU in place and softmax with cross-entropy, fused;
//! - [`optim`]: SGD, Momentum, AdaGrad, RMSprop and Adam, one update rule each;
//! - [`network`]: the one trait a trainable network implements, and the optimizer step;
//! - [`train`]: the one training loop, with its schedule, evaluation and augmentation hook;
//! - [`evaluate`]: predictions, accuracy, probabilities, confusion and mistakes;
//! - [`model_file`]: saving and loading any of them (safetensors).

pub mod dense;
pub mod devices;
pub mod evaluate;
pub mod layers;
pub mod model_file;
pub mod network;
pub mod optim;
pub mod simd;
pub mod tiles;
pub mod train;

pub use network::{Trainable, step, train_step};
