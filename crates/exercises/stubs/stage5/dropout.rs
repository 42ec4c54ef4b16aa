//! Exercise `dropout` (stage 5, chapter "Stage 5: batch normalisation,
//! weight decay, dropout, and honest search"). Check it with
//! `cargo xtask exercise dropout`.
//!
//! Inverted dropout, as stage 5's `Dropout`: in training each unit is
//! dropped with probability `ratio` and the kept ones are scaled by
//! `1/(1 − ratio)`, so inference is the plain network.

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use exercise_checks::stage5::uniform;

/// Inverted dropout of `x: N × D`.
pub struct Dropout {
    /// The probability of dropping a unit, in `[0, 1)`.
    pub ratio: f64,
    /// The layer's own random stream: draw every mask from it.
    pub rng: StdRng,
    /// The mask of the last training forward, `N × D`: `0` or `1/(1 − ratio)`.
    pub mask: DMatrix<f64>,
}

impl Dropout {
    /// A layer dropping with probability `ratio`, its masks drawn from `seed`.
    pub fn new(ratio: f64, seed: u64) -> Dropout {
        Dropout {
            ratio,
            rng: StdRng::seed_from_u64(seed),
            mask: DMatrix::zeros(0, 0),
        }
    }

    /// Training (`training`): a fresh mask `m = [u ≥ ratio] / (1 − ratio)`,
    /// entry by entry, from `u = uniform(&mut self.rng, N, D)` (numbers in
    /// `[0, 1)`, one draw per training forward), kept in `self.mask`, and
    /// `y = x ⊙ m`. Inference: `y = x`.
    ///
    /// Hints: `u.map(|u| ...)`, `x.component_mul(&m)` (`⊙`).
    pub fn forward(&mut self, x: &DMatrix<f64>, training: bool) -> DMatrix<f64> {
        todo!("Dropout::forward: your code here")
    }

    /// From `dy = ∂E/∂Y: N × D`, return `∂E/∂X: N × D`, through the mask of
    /// the last training forward.
    pub fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
        todo!("Dropout::backward: your code here")
    }
}
