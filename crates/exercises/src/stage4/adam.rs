//! Exercise `adam` (stage 4, chapter "Stage 4: mini-batches, initialisation,
//! optimizers"). Check it with `cargo xtask exercise adam`.

use ch6_mlp::Optimizer;
use ch6_mlp::engine::optim::memory;

/// Adam. At step `t = 1, 2, …`, entry by entry:
/// `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g⊙g`,
/// `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`, then `W ← W − η·m̂ / (√v̂ + ε)`,
/// with `β₁ = 0.9`, `β₂ = 0.999`, `ε = 10⁻⁸`, and `m = v = 0` at first.
pub struct Adam {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// The step number `t`: 0 before the first step.
    pub t: i32,
    /// One `m` per parameter matrix (`slot`).
    pub m: Vec<Vec<f64>>,
    /// One `v` per parameter matrix (`slot`).
    pub v: Vec<Vec<f64>>,
}

impl Adam {
    pub fn new(learning_rate: f64) -> Adam {
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
}

impl Optimizer<f64> for Adam {
    /// Called once per training step, before the updates of all its
    /// parameter matrices: count the step here.
    fn start_step(&mut self) {
        todo!("Adam::start_step: your code here")
    }

    /// Updates parameter matrix number `slot` from its gradient `grad`.
    /// `memory(&mut self.m, slot, param.len())` gives this slot's `m`
    /// (zeros the first time), and the same for `v`. `f64::powi` gives `βᵗ`.
    fn update(&mut self, slot: usize, param: &mut [f64], grad: &[f64]) {
        todo!("Adam::update: your code here")
    }

    /// Sets `η` (a learning-rate schedule calls this between epochs; given).
    fn set_learning_rate(&mut self, eta: f64) {
        self.learning_rate = eta;
    }
}
