//! Exercise `numerical_gradient` (stage 2, chapter "Stage 2: a hidden
//! layer"; stage 1 introduces it). Check it with
//! `cargo xtask exercise numerical_gradient`.

use nalgebra::DMatrix;

/// The step of the differences.
pub const H: f64 = 1e-4;

/// The gradient `∂f/∂x` of a number-valued function of a matrix `x: r × c`:
/// for each entry `x[i]` (`0..x.len()`), the central difference
/// `(f(x with x[i] + h) − f(x with x[i] − h)) / 2h`. The result is `r × c`.
///
/// Nudge the entry in place (`x[i] = original + H`, call `f(x)`, …) and put
/// it back before the next one: `x` must end as it began.
pub fn numerical_gradient(
    mut f: impl FnMut(&DMatrix<f64>) -> f64,
    x: &mut DMatrix<f64>,
) -> DMatrix<f64> {
    todo!("numerical_gradient: your code here")
}
