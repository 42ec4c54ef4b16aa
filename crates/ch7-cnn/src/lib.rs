//! # Stage 6: convolution and pooling, SimpleConvNet on MNIST
//!
//! Chapter 7 of the book. Every network so far saw a digit as 784 unrelated
//! numbers: shift it by a pixel and the first layer sees something new. A
//! convolution slides one small filter over the whole image, so neighbouring
//! pixels are read together and the same weights are used at every place
//! (30 filters of 5 × 5 are 780 parameters where an affine layer from the
//! same 784 pixels to 30 × 24 × 24 outputs would need 13.5 million).
//!
//! The chapter in the order it tells it:
//! - [`layout`]: images `N × C × H × W` as nalgebra matrices `N × (C·H·W)`,
//!   one image per row, and the output size `(H + 2P − FH)/S + 1`, with an
//!   error when a window does not fit;
//! - [`im2col`]: every filter-sized patch unrolled into a row, so that a
//!   convolution is one matrix product; `col2im` folds a gradient back;
//! - [`conv`]: the [`Convolution`] layer, `Y = im2col(X)·W + b`, backward by
//!   the transposed products and col2im, and the direct seven-loop
//!   convolution it is tested against;
//! - [`pool`]: [`MaxPooling`], which remembers where each maximum was;
//! - [`net`]: [`SimpleConvNet`], `conv 30×5×5 → ReLU → pool 2×2 → Affine 100
//!   → ReLU → Affine 10 → softmax with loss`, a `Trainable` network of the
//!   engine (which also saves and loads it);
//! - [`train`]: the book's recipe, Adam η = 0.001, batch 100, and
//!   [`augment`]: training digits moved by a pixel or two (the book's
//!   chapter 8), the recipe that reaches 99%;
//! - [`pictures`]: the numbers behind the pictures of its filters and
//!   feature maps.
//!
//! The layers run on stage 4's engine (`matmul` with the `gemm` crate, kept
//! buffers, stage 4's `Dense` and Adam), which also trains, evaluates,
//! saves and loads the network through its one `Trainable` trait
//! (`ch6_mlp::engine`); they also implement stage 3's
//! [`ch5_backprop::Layer`], so stage 3's gradient checks test them in f64
//! and stage 3's plain `Network` runs them beside plain `Affine` layers.

pub mod augment;
pub mod conv;
pub mod im2col;
pub mod layout;
pub mod net;
pub mod pictures;
pub mod pool;
pub mod train;

pub use conv::Convolution;
pub use layout::{Shape, ShapeError, Window};
pub use net::{Architecture, SimpleConvNet};
pub use pool::MaxPooling;
pub use train::Config;
