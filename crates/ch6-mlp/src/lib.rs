//! # Stage 4: a mini-batch MLP on MNIST
//!
//! Chapter 6 of the book, the finale of the course. Stage 3 (`ch5-backprop`)
//! built layers that run forwards and backwards and proved their gradients
//! right. Here they train a real network the way every framework does:
//! - [`dense`]: stage 3's `Affine`, engineered: kept buffers, transposes
//!   read in place, the `gemm` crate's products;
//! - [`mlp`]: stage 3's network of `Affine → ReLU → … → SoftmaxWithLoss`,
//!   engineered the same way, fed whole mini-batches;
//! - [`init`]: initial weights, `std 0.01`, Xavier or He;
//! - [`optim`]: SGD, Momentum, AdaGrad, RMSprop and Adam, one update rule each;
//! - [`simd`]: element-wise passes at the CPU's full vector width, chosen at run time;
//! - [`tiles`]: register tiles, a product kernel for the short sums of batch-32 gradients;
//! - [`train`]: shuffled mini-batch epochs, the tutorials' presets, and the
//!   book's comparisons of optimizers and initialisations;
//! - [`model_file`]: saving and loading a trained network (safetensors);
//! - [`show`]: a digit drawn in the terminal, a confusion matrix, the digits it gets wrong;
//! - [`pictures`]: the numbers behind the chapter's pictures of activations and optimizer paths.
//!
//! This stage is the engine: every device that exists for speed lives here,
//! each named where it is used, and the engine is checked against stage 3's
//! plain layers. Training runs in f32 for speed; the gradient checks run the
//! very same generic code in f64 (tests in [`mlp`] and [`dense`]).

pub mod dense;
pub mod init;
pub mod mlp;
pub mod model_file;
pub mod optim;
pub mod pictures;
pub mod show;
pub mod simd;
pub mod tiles;
pub mod train;

pub use dense::Dense;
pub use init::Init;
pub use mlp::Mlp;
pub use optim::{Optimizer, OptimizerKind};
pub use train::{Config, Preset};
