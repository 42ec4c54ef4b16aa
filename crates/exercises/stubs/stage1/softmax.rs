//! Exercise `softmax` (stage 1, chapter "Stage 1: one layer, numerical
//! gradients"). Check it with `cargo xtask exercise softmax`.

use nalgebra::DMatrix;

/// Softmax of each row of the scores `a: N × k`:
/// `y[n, i] = exp(a[n, i] − m) / Σ_j exp(a[n, j] − m)`, with `m` the row's
/// largest score. The result has `a`'s shape and each row sums to 1.
///
/// Subtracting `m` changes nothing mathematically but keeps `exp` from
/// overflowing: the check feeds scores of 1000.
///
/// Hints: `a.clone()`, `row_iter_mut()`, `row.max()`, `row.apply(|v| ...)`, `row.sum()`.
pub fn softmax(a: &DMatrix<f64>) -> DMatrix<f64> {
    todo!("softmax: your code here")
}
