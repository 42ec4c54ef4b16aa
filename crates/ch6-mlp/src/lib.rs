//! # Stage 4 (chapter 6): a mini-batch MLP on MNIST
//!
//! Work in progress.
