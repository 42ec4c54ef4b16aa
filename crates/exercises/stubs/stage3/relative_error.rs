//! Exercise `relative_error` (stage 3, chapter "Stage 3: backpropagation",
//! the gradient check). Check it with `cargo xtask exercise relative_error`.

use nalgebra::DMatrix;

/// How far an analytic gradient is from a numerical one, relative to their
/// size: `max_i |a_i − n_i| / s`, with `s = max_i max(|a_i|, |n_i|)` the
/// largest entry of either (one scale for all entries), and 0 when the two
/// are equal (also when both are all zeros). Both are `r × c`.
///
/// Why one scale: an entry that should be 0 carries rounding noise of about
/// 1e-13 in the numerical gradient; divided by its own tiny size it would
/// look like a large error.
pub fn relative_error(analytic: &DMatrix<f64>, numerical: &DMatrix<f64>) -> f64 {
    todo!("relative_error: your code here")
}
