//! Exercise `batch_norm_backward` (stage 5, chapter "Stage 5: batch
//! normalisation, weight decay, dropout, and honest search", section "The
//! backward pass, on the computational graph"). Check it with
//! `cargo xtask exercise batch_norm_backward`.
//!
//! Batch normalisation in training, as stage 5's `BatchNorm`: the forward
//! is written; you write backward.

use ch5_backprop::Layer;
use nalgebra::DMatrix;

/// Batch normalisation of `x: N × D` (a batch of `N`, `D` units), unit by unit:
///
/// `μ = (1/N) Σ_n x_n`, `xc = x − μ`, `σ² = (1/N) Σ_n xc_n²`,
/// `std = √(σ² + ε)`, `x̂ = xc / std`, `y = γ ⊙ x̂ + β`
/// (`μ, σ², std, γ, β: 1 × D`, spread over the rows by the column of ones `1: N × 1`).
pub struct BatchNorm {
    /// Scale `γ: 1 × D`.
    pub gamma: DMatrix<f64>,
    /// Shift `β: 1 × D`.
    pub beta: DMatrix<f64>,
    /// `∂E/∂γ` (`1 × D`), set by backward.
    pub grad_gamma: DMatrix<f64>,
    /// `∂E/∂β` (`1 × D`), set by backward.
    pub grad_beta: DMatrix<f64>,
    /// Keeps `std` away from 0: 10⁻⁷.
    pub epsilon: f64,
    /// From the last forward: `xc = x − μ` (`N × D`), `x̂` (`N × D`), `std` (`1 × D`).
    pub xc: DMatrix<f64>,
    pub xn: DMatrix<f64>,
    pub std: DMatrix<f64>,
}

/// The `N × 1` column of ones.
pub fn ones(n: usize) -> DMatrix<f64> {
    DMatrix::from_element(n, 1, 1.0)
}

impl BatchNorm {
    /// A layer with scale `gamma: 1 × D` and shift `beta: 1 × D`.
    pub fn from_parameters(gamma: DMatrix<f64>, beta: DMatrix<f64>) -> BatchNorm {
        let d = gamma.ncols();
        BatchNorm {
            grad_gamma: DMatrix::zeros(1, d),
            grad_beta: DMatrix::zeros(1, d),
            epsilon: 1e-7,
            xc: DMatrix::zeros(0, d),
            xn: DMatrix::zeros(0, d),
            std: DMatrix::zeros(1, d),
            gamma,
            beta,
        }
    }
}

impl Layer<f64> for BatchNorm {
    /// The training forward, with the batch's own `μ` and `σ²` (`N ≥ 2`).
    fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let one = ones(x.nrows());
        let n = x.nrows() as f64;
        let mu = one.transpose() * x / n; // 1 × D
        let xc = x - &one * &mu; // N × D
        let var = one.transpose() * xc.component_mul(&xc) / n; // 1 × D
        let std = var.map(|v| (v + self.epsilon).sqrt()); // 1 × D
        let xn = xc.component_div(&(&one * &std)); // N × D
        let y = xn.component_mul(&(&one * &self.gamma)) + &one * &self.beta;
        (self.xc, self.xn, self.std) = (xc, xn, std);
        y
    }

    /// From `dy = ∂E/∂Y: N × D`: store `self.grad_gamma = ∂E/∂γ` and
    /// `self.grad_beta = ∂E/∂β` (both `1 × D`), and return `∂E/∂X: N × D`.
    ///
    /// Walk the forward's graph backwards, one node at a time, using
    /// `self.xc`, `self.xn`, `self.std`: `y = γ ⊙ x̂ + β` gives `∂E/∂γ`, `∂E/∂β`
    /// and `∂E/∂x̂`; `x̂ = xc / std` gives a share of `∂E/∂xc` and `∂E/∂std`;
    /// `std = √(σ² + ε)` gives `∂E/∂σ²`; `σ² = (1/N) Σ xc²` gives `xc` a second
    /// share; `xc = x − μ` and `μ = (1/N) Σ x` give `∂E/∂x`. A parameter of
    /// `1 × D` used on every row gathers the rows: `one.transpose() * m`.
    /// Hints: `component_mul`, `component_div`, `&one * &row` spreads a row.
    fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
        todo!("BatchNorm::backward: your code here")
    }

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<f64>, &DMatrix<f64>)) {
        visit(&mut self.gamma, &self.grad_gamma);
        visit(&mut self.beta, &self.grad_beta);
    }

    fn parameter_count(&self) -> usize {
        self.gamma.len() + self.beta.len()
    }

    fn name(&self) -> String {
        format!("BatchNorm {}", self.gamma.ncols())
    }
}
