//! Exercise `momentum` (stage 4, chapter "Stage 4: mini-batches,
//! initialisation, optimizers"). Check it with `cargo xtask exercise momentum`.

use ch6_mlp::Optimizer;
use ch6_mlp::engine::optim::memory;

/// Momentum: `v ← α·v − η·g`, then `W ← W + v`, entry by entry, with
/// `α = 0.9` and `v = 0` at first.
pub struct Momentum {
    /// `η`
    pub learning_rate: f64,
    /// `α`
    pub momentum: f64,
    /// One velocity per parameter matrix (`slot` 0, 1, …: `W1, b1, W2, …`).
    pub velocity: Vec<Vec<f64>>,
}

impl Momentum {
    pub fn new(learning_rate: f64) -> Momentum {
        Momentum {
            learning_rate,
            momentum: 0.9,
            velocity: Vec::new(),
        }
    }
}

impl Optimizer<f64> for Momentum {
    /// Updates parameter matrix number `slot` (its numbers in `param`) from
    /// its gradient `grad` (same length).
    ///
    /// `memory(&mut self.velocity, slot, param.len())` gives this slot's
    /// velocity, zeros the first time: `let v = memory(...)`.
    fn update(&mut self, slot: usize, param: &mut [f64], grad: &[f64]) {
        todo!("Momentum::update: your code here")
    }

    /// Sets `η` (a learning-rate schedule calls this between epochs; given).
    fn set_learning_rate(&mut self, eta: f64) {
        self.learning_rate = eta;
    }
}
