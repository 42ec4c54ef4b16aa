//! # Batch normalisation: every unit's input, centred and scaled per batch
//!
//! Stage 5 of the course (chapter 6, "Batch Normalization"). A layer placed
//! between an affine layer and its activation. In training it normalises
//! each column (unit) of the batch to mean 0 and variance 1, then lets the
//! network choose its own scale `γ` and shift `β`; at inference it uses
//! running averages of the batch statistics seen in training, so that one
//! image's prediction does not depend on the others beside it.
//!
//! The code is plain, in stage 3's style: nalgebra expressions that allocate,
//! with the column of ones `1: N × 1` spreading a row over the batch (as
//! stage 3's `Affine` spreads `b`). Backward walks the computational graph of
//! the forward pass node by node, from the top; the book derives each line.

use ch5_backprop::Layer;
use nalgebra::{DMatrix, RealField};

// ANCHOR: batch_norm
/// Batch normalisation of `x: N × D` (a batch of `N`, `D` units), unit by unit:
///
/// `μ = (1/N) Σ_n x_n`, `σ² = (1/N) Σ_n (x_n − μ)²`,
/// `x̂ = (x − μ) / √(σ² + ε)`, `y = γ ⊙ x̂ + β` (`μ, σ², γ, β: 1 × D`).
///
/// At inference `μ` and `σ²` are the running averages
/// `running ← momentum · running + (1 − momentum) · batch value`.
pub struct BatchNorm<T: RealField + Copy> {
    /// Scale `γ: 1 × D`, 1 at first.
    pub gamma: DMatrix<T>,
    /// Shift `β: 1 × D`, 0 at first.
    pub beta: DMatrix<T>,
    /// `∂E/∂γ` from the last backward.
    pub grad_gamma: DMatrix<T>,
    /// `∂E/∂β` from the last backward.
    pub grad_beta: DMatrix<T>,
    /// Running mean and (biased) variance `1 × D`, for inference.
    pub running_mean: DMatrix<T>,
    pub running_var: DMatrix<T>,
    /// How much of the running averages each training batch keeps (0.9, the book's).
    pub momentum: T,
    /// Keeps `√(σ² + ε)` away from 0 (10⁻⁷, the book's).
    pub epsilon: T,
    /// What backward needs from the last training forward: `x − μ`, `x̂` and `√(σ² + ε)`.
    xc: DMatrix<T>,
    xn: DMatrix<T>,
    std: DMatrix<T>,
}
// ANCHOR_END: batch_norm

/// The `N × 1` column of ones.
fn ones<T: RealField + Copy>(n: usize) -> DMatrix<T> {
    DMatrix::from_element(n, 1, T::one())
}

impl<T: RealField + Copy> BatchNorm<T> {
    /// A layer for `units` units: `γ = 1`, `β = 0`, running mean 0 and
    /// running variance 1 (so an untrained layer passes its input through).
    pub fn new(units: usize) -> BatchNorm<T> {
        BatchNorm {
            gamma: DMatrix::from_element(1, units, T::one()),
            beta: DMatrix::zeros(1, units),
            grad_gamma: DMatrix::zeros(1, units),
            grad_beta: DMatrix::zeros(1, units),
            running_mean: DMatrix::zeros(1, units),
            running_var: DMatrix::from_element(1, units, T::one()),
            momentum: nalgebra::convert(0.9),
            epsilon: nalgebra::convert(1e-7),
            xc: DMatrix::zeros(0, units),
            xn: DMatrix::zeros(0, units),
            std: DMatrix::zeros(1, units),
        }
    }

    /// Training (`training`: batch statistics, running averages updated) or
    /// inference (running averages) forward of `x: N × D`.
    ///
    /// Training needs `N ≥ 2`: with one sample `x − μ = 0`, every output is
    /// `β` and no gradient reaches the layers below
    /// ([`crate::network::Config::check`] refuses a batch of one).
    pub fn forward(&mut self, x: &DMatrix<T>, training: bool) -> DMatrix<T> {
        assert_eq!(
            x.ncols(),
            self.gamma.ncols(),
            "BatchNorm: x must have D columns"
        );
        if training {
            self.forward_training(x)
        } else {
            self.forward_inference(x)
        }
    }

    // ANCHOR: forward_training
    /// `y = γ ⊙ (x − μ) / √(σ² + ε) + β` with the batch's own `μ` and `σ²`.
    fn forward_training(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        assert!(
            x.nrows() >= 2,
            "BatchNorm: training needs a batch of 2 or more"
        );
        let one = ones::<T>(x.nrows());
        let n: T = nalgebra::convert(x.nrows() as f64);
        let mu = one.transpose() * x / n; // 1 × D
        let xc = x - &one * &mu; // N × D
        let var = one.transpose() * xc.component_mul(&xc) / n; // 1 × D
        let std = var.map(|v| (v + self.epsilon).sqrt()); // 1 × D
        let xn = xc.component_div(&(&one * &std)); // N × D
        let y = xn.component_mul(&(&one * &self.gamma)) + &one * &self.beta;

        let m = self.momentum;
        self.running_mean = &self.running_mean * m + mu * (T::one() - m);
        self.running_var = &self.running_var * m + var * (T::one() - m);
        (self.xc, self.xn, self.std) = (xc, xn, std);
        y
    }
    // ANCHOR_END: forward_training

    // ANCHOR: forward_inference
    /// `y = γ ⊙ (x − running μ) / √(running σ² + ε) + β`: each row on its own.
    fn forward_inference(&self, x: &DMatrix<T>) -> DMatrix<T> {
        let one = ones::<T>(x.nrows());
        let std = self.running_var.map(|v| (v + self.epsilon).sqrt());
        let xn = (x - &one * &self.running_mean).component_div(&(&one * &std));
        xn.component_mul(&(&one * &self.gamma)) + &one * &self.beta
    }
    // ANCHOR_END: forward_inference

    // ANCHOR: backward
    /// From `dy = ∂E/∂Y: N × D`, back through the graph of the last training
    /// forward, node by node from the top: stores `∂E/∂γ` and `∂E/∂β` and
    /// returns `∂E/∂X: N × D`.
    pub fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        let (xc, xn, std) = (&self.xc, &self.xn, &self.std);
        assert_eq!(
            dy.shape(),
            xn.shape(),
            "BatchNorm: dy must match the last training forward"
        );
        let one = ones::<T>(dy.nrows());
        let n: T = nalgebra::convert(dy.nrows() as f64);
        let two: T = nalgebra::convert(2.0);
        // y = γ ⊙ x̂ + β: β and γ reached every row, so their gradients sum the rows.
        self.grad_beta = one.transpose() * dy;
        self.grad_gamma = one.transpose() * xn.component_mul(dy);
        let dxn = dy.component_mul(&(&one * &self.gamma));
        // x̂ = xc ⊙ (1/std): xc's direct share, and std's ∂(1/s)/∂s = −1/s².
        let mut dxc = dxn.component_div(&(&one * std));
        let dstd = -(one.transpose() * dxn.component_mul(xc)).component_div(&std.map(|s| s * s));
        // std = √(σ² + ε), so ∂std/∂σ² = 1 / (2·std).
        let dvar = dstd.component_div(&(std * two));
        // σ² = (1/N) Σ xc²: each xc gains (2/N)·xc ⊙ dvar through the variance.
        dxc += xc.component_mul(&(&one * dvar)) * (two / n);
        // xc = x − μ, μ = (1/N) Σ x: x's direct share, minus the mean of dxc.
        let dmu = one.transpose() * &dxc;
        dxc - &one * dmu / n
    }
    // ANCHOR_END: backward

    /// Number of trainable numbers (`γ` and `β`; the running averages are not trained).
    pub fn parameter_count(&self) -> usize {
        self.gamma.len() + self.beta.len()
    }
}

/// Stage 3's interface, so [`ch5_backprop::gradient_check::check_layer`]
/// checks the layer: `forward` here is the training forward.
impl<T: RealField + Copy> Layer<T> for BatchNorm<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        BatchNorm::forward(self, x, true)
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        BatchNorm::backward(self, dy)
    }

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        visit(&mut self.gamma, &self.grad_gamma);
        visit(&mut self.beta, &self.grad_beta);
    }

    fn parameter_count(&self) -> usize {
        BatchNorm::parameter_count(self)
    }

    fn name(&self) -> String {
        format!("BatchNorm {}", self.gamma.ncols())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::gradient_check::check_layer;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    fn random(rows: usize, cols: usize, mean: f64, std: f64, rng: &mut StdRng) -> DMatrix<f64> {
        let normal = Normal::new(mean, std).unwrap();
        DMatrix::from_fn(rows, cols, |_, _| normal.sample(rng))
    }

    #[test]
    fn gradients_of_gamma_beta_and_input_match_the_numerical_ones_in_f64() {
        let mut rng = StdRng::seed_from_u64(5);
        for n in [2, 3, 7, 16] {
            let mut bn = BatchNorm::<f64>::new(5);
            // γ and β away from 1 and 0, inputs off-centre and not unit-scaled.
            bn.gamma = random(1, 5, 1.0, 0.5, &mut rng);
            bn.beta = random(1, 5, 0.0, 0.5, &mut rng);
            let x = random(n, 5, 3.0, 2.0, &mut rng);
            let g = random(n, 5, 0.0, 1.0, &mut rng);
            let check = check_layer(&mut bn, &x, &g);
            assert_eq!(check.params.len(), 2, "γ and β");
            assert!(check.max() < 1e-7, "batch {n}: {check:?}");
        }
    }

    #[test]
    fn training_forward_gives_each_unit_mean_beta_and_spread_gamma() {
        let mut rng = StdRng::seed_from_u64(6);
        let mut bn = BatchNorm::<f64>::new(3);
        bn.gamma = DMatrix::from_row_slice(1, 3, &[2.0, 0.5, 1.0]);
        bn.beta = DMatrix::from_row_slice(1, 3, &[1.0, -1.0, 0.0]);
        let x = random(50, 3, 10.0, 4.0, &mut rng);
        let y = bn.forward(&x, true);
        for j in 0..3 {
            let column = y.column(j);
            let mean = column.mean();
            let var = column.map(|v| (v - mean) * (v - mean)).mean();
            assert!((mean - bn.beta[j]).abs() < 1e-9, "unit {j}: mean {mean}");
            let expected = bn.gamma[j] * bn.gamma[j];
            assert!(
                (var / expected - 1.0).abs() < 1e-4,
                "unit {j}: variance {var}"
            );
        }
    }

    #[test]
    fn running_averages_follow_the_batches_and_serve_inference() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut bn = BatchNorm::<f64>::new(2);
        for _ in 0..200 {
            bn.forward(&random(64, 2, 5.0, 3.0, &mut rng), true);
        }
        // After 200 batches (0.9²⁰⁰ ≈ 7e-10 of the start left) the running values are
        // averages of batch estimates of mean 5 and biased variance 9·63/64.
        for j in 0..2 {
            assert!(
                (bn.running_mean[j] - 5.0).abs() < 0.3,
                "{}",
                bn.running_mean[j]
            );
            assert!(
                (bn.running_var[j] / 9.0 - 1.0).abs() < 0.15,
                "{}",
                bn.running_var[j]
            );
        }
        // Inference treats one image at a time, alike in any batch.
        let x = random(4, 2, 5.0, 3.0, &mut rng);
        let all = bn.forward(&x, false);
        let one = bn.forward(&x.rows(2, 1).into_owned(), false);
        assert!((all.rows(2, 1) - one).amax() < 1e-15);
        let expected = (x[(0, 0)] - bn.running_mean[0]) / (bn.running_var[0] + 1e-7).sqrt();
        assert!((all[(0, 0)] - expected).abs() < 1e-12);
    }
}
