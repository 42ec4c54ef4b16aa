//! Exercise `cross_entropy` (stage 1, chapter "Stage 1: one layer, numerical
//! gradients"). Check it with `cargo xtask exercise cross_entropy`.

use nalgebra::DMatrix;

/// The small constant inside the logarithm, as the book has it: `ln(0 + δ)`
/// is large but finite.
pub const DELTA: f64 = 1e-7;

/// Mean cross-entropy `E = −(1/N) Σ_n ln(y[n, t_n] + δ)` of the probabilities
/// `y: N × k` (rows sum to 1) against the labels `t: N` digits (`labels[n]`
/// is the right class of row `n`). Only the right answer's probability counts.
pub fn cross_entropy(y: &DMatrix<f64>, labels: &[u8]) -> f64 {
    todo!("cross_entropy: your code here")
}
