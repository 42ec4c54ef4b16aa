//! # Stage 5: batch normalisation, weight decay, dropout, and honest search
//!
//! The rest of chapter 6 of the book. Stage 4 (`ch6-mlp`) trains a network
//! fast and well; this stage makes a deep one learn faster and overfit less,
//! and chooses its settings without cheating:
//! - [`batch_norm`]: batch normalisation, its backward derived on the
//!   computational graph of its forward;
//! - [`dropout`]: inverted dropout, a seeded mask in training;
//! - [`network`]: [`RegularizedNet`], stage 4's `Dense` layers with
//!   optional batch norm and dropout and a weight-decay penalty, trained by
//!   any of stage 4's optimizers; [`network::Config::check`] refuses bad
//!   settings first;
//! - [`train`]: training with stage 4's one loop, and the overfitting and
//!   batch-norm experiments of the book;
//! - [`search`]: random search over learning rate and weight decay on a
//!   validation split of the training data, never the test set.
//!
//! The new layers are plain nalgebra expressions, as stage 3's are, generic
//! over the scalar so that their gradients are checked in f64; training runs
//! in f32 on stage 4's matrix products.

pub mod batch_norm;
pub mod dropout;
pub mod network;
pub mod search;
pub mod train;

pub use batch_norm::BatchNorm;
pub use dropout::Dropout;
pub use network::{Block, Config, ConfigError, RegularizedNet};
