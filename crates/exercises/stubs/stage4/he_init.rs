//! Exercise `he_init` (stage 4, chapter "Stage 4: mini-batches,
//! initialisation, optimizers"). Check it with `cargo xtask exercise he_init`.

use nalgebra::DMatrix;
use rand::Rng;

/// He initialisation: weights `W: fan_in × fan_out` drawn from
/// `N(0, σ²)` with `σ² = 2 / fan_in`, every entry drawn from `rng` (so the
/// same seed gives the same network).
///
/// Why 2: ReLU zeroes half its inputs, halving the variance that reaches
/// the next layer; twice `1/fan_in` makes up for it.
///
/// Hints: `rand_distr::{Distribution, Normal}`, `Normal::new(0.0, σ)`,
/// `normal.sample(rng)`, `DMatrix::from_fn(rows, cols, |_, _| ...)`.
pub fn he(fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    todo!("he: your code here")
}
