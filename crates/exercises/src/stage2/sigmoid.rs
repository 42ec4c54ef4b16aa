//! Exercise `sigmoid` (stage 2, chapter "Stage 2: a hidden layer"). Check it
//! with `cargo xtask exercise sigmoid`.

use nalgebra::DMatrix;

/// The logistic function of each entry: `σ(a) = 1 / (1 + e^(−a))`.
/// Any shape in, the same shape out, every entry in `(0, 1)`.
///
/// Hint: `a.map(|v| ...)`.
pub fn sigmoid(a: &DMatrix<f64>) -> DMatrix<f64> {
    todo!("sigmoid: your code here")
}
