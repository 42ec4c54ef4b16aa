//! Exercise `affine_backward` (stage 3, chapter "Stage 3: backpropagation").
//! Check it with `cargo xtask exercise affine_backward`.
//!
//! The fully connected layer `Y = X·W + 1·b`, as stage 3's `Affine`: forward
//! is written; you write backward.

use ch5_backprop::Layer;
use nalgebra::DMatrix;

/// `Y = X·W + 1·b`, with `x: N × n_in`, `W: n_in × n_out`, `b: 1 × n_out`,
/// `1: N × 1` (all ones), `y: N × n_out`.
pub struct Affine {
    pub w: DMatrix<f64>,
    pub b: DMatrix<f64>,
    /// `∂E/∂W` (`n_in × n_out`), set by backward.
    pub grad_w: DMatrix<f64>,
    /// `∂E/∂b` (`1 × n_out`), set by backward.
    pub grad_b: DMatrix<f64>,
    /// The input of the last forward (`N × n_in`).
    pub x: DMatrix<f64>,
}

impl Affine {
    /// A layer with weights `w: n_in × n_out` and bias `b: 1 × n_out`.
    pub fn from_parameters(w: DMatrix<f64>, b: DMatrix<f64>) -> Affine {
        let (n_in, n_out) = w.shape();
        Affine {
            grad_w: DMatrix::zeros(n_in, n_out),
            grad_b: DMatrix::zeros(1, n_out),
            x: DMatrix::zeros(0, n_in),
            w,
            b,
        }
    }
}

impl Layer<f64> for Affine {
    fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
        self.x = x.clone();
        let ones = DMatrix::from_element(x.nrows(), 1, 1.0);
        x * &self.w + ones * &self.b
    }

    /// From `dy = ∂E/∂Y` (`N × n_out`): store `self.grad_w = ∂E/∂W` and
    /// `self.grad_b = ∂E/∂b`, and return `∂E/∂X` (`N × n_in`).
    ///
    /// Each `Y[n, j] = Σ_i X[n, i] W[i, j] + b[j]`. Work out which products
    /// of `dy`, `self.x`, `self.w` (and their `.transpose()`) have the shapes
    /// above; `b` reached every row of `Y`, so its gradient gathers all rows of `dy`.
    /// `dy` comes from a mean loss: it already holds the `1/N`.
    fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
        todo!("Affine::backward: your code here")
    }

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<f64>, &DMatrix<f64>)) {
        visit(&mut self.w, &self.grad_w);
        visit(&mut self.b, &self.grad_b);
    }

    fn parameter_count(&self) -> usize {
        self.w.len() + self.b.len()
    }

    fn name(&self) -> String {
        format!("Affine {}→{}", self.w.nrows(), self.w.ncols())
    }
}
