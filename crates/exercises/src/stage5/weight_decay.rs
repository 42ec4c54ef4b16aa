//! Exercise `weight_decay` (stage 5, chapter "Stage 5: batch normalisation,
//! weight decay, dropout, and honest search"). Check it with
//! `cargo xtask exercise weight_decay`.
//!
//! Weight decay adds a penalty on large weights to the loss, and so a term
//! to each weight matrix's gradient. Biases are not decayed.

use nalgebra::DMatrix;

/// The penalty `λ/2 · Σ_layers ‖W‖²`, where `‖W‖² = Σ_ij W[i, j]²` is the
/// sum of the squared entries of one layer's weight matrix, and `weights`
/// holds every layer's `W` (of any shapes).
///
/// Hint: `DMatrix::norm_squared` is `‖W‖²`.
pub fn weight_penalty(weights: &[DMatrix<f64>], lambda: f64) -> f64 {
    todo!("weight_penalty: your code here")
}

/// Adds the penalty's gradient to one layer's `grad_w = ∂E/∂W` (the
/// cross-entropy's gradient, which backward computed): `grad_w` and `w`
/// are both `n_in × n_out`.
///
/// Differentiate `λ/2 · Σ_ij W[i, j]²` with respect to one `W[i, j]`.
pub fn add_decay_gradient(grad_w: &mut DMatrix<f64>, w: &DMatrix<f64>, lambda: f64) {
    todo!("add_decay_gradient: your code here")
}
