//! # Stage 2: a hidden layer, and why numerical gradients do not scale
//!
//! The second network of the course (chapter 4 of *Deep Learning from
//! Scratch*, `TwoLayerNet`): 784 pixels in, a hidden layer of sigmoid units,
//! 10 class probabilities out. It still learns from numerical gradients, as
//! stage 1 (`ch4-numerical`) did, and reuses its [`softmax`],
//! [`cross_entropy`] and [`numerical_gradient`]. What changes is the bill:
//! 39,760 parameters instead of 7,850, each nudged twice, and every nudge
//! reruns a forward pass five times as expensive. Stage 3 (`ch5-backprop`)
//! pays it off with backpropagation.
//!
//! Read top to bottom: the network ([`TwoLayerNet`]), [`sigmoid`], the loss,
//! the textbook gradient ([`TwoLayerNet::numerical_gradient_naive`]), then a
//! training step. The same gradient computed with far less work
//! ([`TwoLayerNet::numerical_gradient_fast`], what makes a training run of a
//! few hundred steps practical) is an aside, in `src/fast.rs`.
//!
//! Everything is `f64`, for the reason stage 1 gives: a finite difference
//! divides a tiny change of the loss by a tiny `h`.

mod fast;

use ch4_numerical::{
    affine, cross_entropy, numerical_gradient, numerical_gradient_parallel, numerical_gradient_row,
    softmax,
};
use nalgebra::{DMatrix, RowDVector};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

pub use ch4_numerical::GradientMethod;

// ANCHOR: network
/// The book's `TwoLayerNet`:
///
/// ```text
/// a1 = x·W1 + b1    x: batch × 784, W1: 784 × hidden, b1: 1 × hidden
/// z1 = sigmoid(a1)  batch × hidden
/// a2 = z1·W2 + b2   W2: hidden × 10, b2: 1 × 10
/// y  = softmax(a2)  batch × 10
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TwoLayerNet {
    /// First-layer weights, `inputs × hidden`.
    pub w1: DMatrix<f64>,
    /// First-layer biases, `1 × hidden`.
    pub b1: RowDVector<f64>,
    /// Second-layer weights, `hidden × outputs`.
    pub w2: DMatrix<f64>,
    /// Second-layer biases, `1 × outputs`.
    pub b2: RowDVector<f64>,
}

impl TwoLayerNet {
    /// Weights drawn from `N(0, 0.01²)` (seeded; `W1` first, then `W2`, from
    /// one generator), biases zero, as the book's `weight_init_std=0.01`.
    pub fn new(inputs: usize, hidden: usize, outputs: usize, seed: u64) -> TwoLayerNet {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 0.01).expect("0.01 is a valid standard deviation");
        let w1 = DMatrix::from_fn(inputs, hidden, |_, _| normal.sample(&mut rng));
        let w2 = DMatrix::from_fn(hidden, outputs, |_, _| normal.sample(&mut rng));
        TwoLayerNet {
            w1,
            b1: RowDVector::zeros(hidden),
            w2,
            b2: RowDVector::zeros(outputs),
        }
    }

    /// Number of trainable parameters: `784·50 + 50 + 50·10 + 10 = 39,760`
    /// for the book's network.
    pub fn parameter_count(&self) -> usize {
        self.w1.len() + self.b1.len() + self.w2.len() + self.b2.len()
    }

    /// Class probabilities `y = softmax(sigmoid(x·W1 + b1)·W2 + b2)`, `batch × 10`.
    pub fn predict(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        predict(x, &self.w1, &self.b1, &self.w2, &self.b2)
    }

    /// Mean cross-entropy of the predictions for the batch `x` with `labels`.
    pub fn loss(&self, x: &DMatrix<f64>, labels: &[u8]) -> f64 {
        cross_entropy(&self.predict(x), labels)
    }

    /// Fraction of the batch `x` whose most probable class is the label.
    pub fn accuracy(&self, x: &DMatrix<f64>, labels: &[u8]) -> f64 {
        mnist::accuracy(&self.predict(x), labels)
    }
}

/// The forward pass on explicit parameters, so a numerical gradient can hand
/// in one nudged matrix and the other three unchanged.
fn predict(
    x: &DMatrix<f64>,
    w1: &DMatrix<f64>,
    b1: &RowDVector<f64>,
    w2: &DMatrix<f64>,
    b2: &RowDVector<f64>,
) -> DMatrix<f64> {
    let z1 = sigmoid(&affine(x, w1, b1));
    softmax(&affine(&z1, w2, b2))
}
// ANCHOR_END: network

// ANCHOR: sigmoid
/// The logistic function `σ(a) = 1 / (1 + e^(−a))` of each entry: squashes
/// any number into `(0, 1)`, smoothly, so a small nudge of `a` always makes a
/// small change of `σ(a)` (a step function would give no gradient at all).
pub fn sigmoid(a: &DMatrix<f64>) -> DMatrix<f64> {
    a.map(sigmoid_scalar)
}

/// `σ(a) = 1 / (1 + e^(−a))` of one number.
pub fn sigmoid_scalar(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}
// ANCHOR_END: sigmoid

/// The gradient of the loss with respect to every parameter, each with its
/// parameter's shape: `∂E/∂W1` (`784 × hidden`), `∂E/∂b1` (`1 × hidden`),
/// `∂E/∂W2` (`hidden × 10`), `∂E/∂b2` (`1 × 10`).
#[derive(Clone, Debug, PartialEq)]
pub struct TwoLayerGradients {
    pub grad_w1: DMatrix<f64>,
    pub grad_b1: RowDVector<f64>,
    pub grad_w2: DMatrix<f64>,
    pub grad_b2: RowDVector<f64>,
}

impl TwoLayerGradients {
    /// The largest absolute difference between two gradients, entry by entry.
    pub fn max_difference(&self, other: &TwoLayerGradients) -> f64 {
        [
            (&self.grad_w1 - &other.grad_w1).abs().max(),
            (&self.grad_b1 - &other.grad_b1).abs().max(),
            (&self.grad_w2 - &other.grad_w2).abs().max(),
            (&self.grad_b2 - &other.grad_b2).abs().max(),
        ]
        .into_iter()
        .fold(0.0, f64::max)
    }
}

impl TwoLayerNet {
    // ANCHOR: gradient_naive
    /// The textbook numerical gradient, stage 1's [`numerical_gradient`]
    /// applied to each parameter matrix in turn: nudge one entry by `±h`,
    /// rerun the whole forward pass on the batch, restore the entry.
    ///
    /// For the book's network that is `2 · 39,760 = 79,520` forward passes,
    /// each dominated by the `(100 × 784)·(784 × 50)` product: about 8 MFLOP,
    /// so some 630 GFLOP per gradient. `W1` holds 39,200 of the parameters, so
    /// its nudges are shared out among the machine's cores.
    pub fn numerical_gradient_naive(&self, x: &DMatrix<f64>, labels: &[u8]) -> TwoLayerGradients {
        let (w1, b1, w2, b2) = (&self.w1, &self.b1, &self.w2, &self.b2);
        let loss =
            |w1: &DMatrix<f64>, b1: &RowDVector<f64>, w2: &DMatrix<f64>, b2: &RowDVector<f64>| {
                cross_entropy(&predict(x, w1, b1, w2, b2), labels)
            };
        TwoLayerGradients {
            grad_w1: numerical_gradient_parallel(|w1| loss(w1, b1, w2, b2), w1),
            grad_b1: numerical_gradient_row(|b1| loss(w1, b1, w2, b2), b1),
            grad_w2: numerical_gradient(|w2| loss(w1, b1, w2, b2), &mut w2.clone()),
            grad_b2: numerical_gradient_row(|b2| loss(w1, b1, w2, b2), b2),
        }
    }
    // ANCHOR_END: gradient_naive

    /// The numerical gradient by either method.
    pub fn gradient(
        &self,
        method: GradientMethod,
        x: &DMatrix<f64>,
        labels: &[u8],
    ) -> TwoLayerGradients {
        match method {
            GradientMethod::Naive => self.numerical_gradient_naive(x, labels),
            GradientMethod::Fast => self.numerical_gradient_fast(x, labels),
        }
    }

    // ANCHOR: sgd_step
    /// One step of gradient descent on every parameter: `θ ← θ − η·∂E/∂θ`.
    pub fn update(&mut self, grads: &TwoLayerGradients, learning_rate: f64) {
        self.w1 -= learning_rate * &grads.grad_w1;
        self.b1 -= learning_rate * &grads.grad_b1;
        self.w2 -= learning_rate * &grads.grad_w2;
        self.b2 -= learning_rate * &grads.grad_b2;
    }
    // ANCHOR_END: sgd_step
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch4_numerical::DELTA;

    /// A small batch with realistic sparsity: about 80% zeros, the rest in
    /// (0, 1] on five shades that repeat within an image (as MNIST's do: most
    /// ink is 253–255), so the fast gradient's sharing of shades is exercised.
    pub(crate) fn sparse_batch(batch: usize, inputs: usize) -> (DMatrix<f64>, Vec<u8>) {
        let x = DMatrix::from_fn(batch, inputs, |n, i| {
            let v = ((n * 31 + i * 17) % 97) as f64 / 96.0;
            if v < 0.8 {
                0.0
            } else {
                (v * 20.0).round() / 20.0
            }
        });
        let labels = (0..batch).map(|n| (n * 7 % 10) as u8).collect();
        (x, labels)
    }

    /// A small network whose weights are large enough that the hidden units
    /// leave sigmoid's linear middle and the output is far from uniform: a
    /// freshly initialised net (weights ~0.01) would test little.
    pub(crate) fn small_net(inputs: usize, hidden: usize) -> TwoLayerNet {
        let mut net = TwoLayerNet::new(inputs, hidden, 10, 3);
        net.w1 *= 100.0;
        net.w2 *= 150.0;
        net.b1 = RowDVector::from_fn(hidden, |_, j| 0.3 * j as f64 - 1.0);
        net.b2 = RowDVector::from_fn(10, |_, k| 0.1 * k as f64 - 0.4);
        net
    }

    #[test]
    fn sigmoid_is_one_half_at_zero_and_saturates_without_nan() {
        let a = DMatrix::from_row_slice(1, 5, &[0.0, 2.0, -2.0, 800.0, -800.0]);
        let z = sigmoid(&a);
        assert_eq!(z[0], 0.5);
        assert!((z[1] - 0.880_797_077_977_882_3).abs() < 1e-15);
        assert!((z[1] + z[2] - 1.0).abs() < 1e-15, "σ(−a) = 1 − σ(a)");
        assert_eq!((z[3], z[4]), (1.0, 0.0));
    }

    #[test]
    fn shapes_and_parameter_count_of_the_books_network() {
        let net = TwoLayerNet::new(784, 50, 10, 42);
        assert_eq!(net.w1.shape(), (784, 50));
        assert_eq!(net.b1.shape(), (1, 50));
        assert_eq!(net.w2.shape(), (50, 10));
        assert_eq!(net.b2.shape(), (1, 10));
        assert_eq!(net.parameter_count(), 39_760);
        assert!(net.b1.iter().chain(net.b2.iter()).all(|&b| b == 0.0));
        let std = (net.w1.iter().map(|w| w * w).sum::<f64>() / net.w1.len() as f64).sqrt();
        assert!((std - 0.01).abs() < 0.0005, "std {std}");
        assert_eq!(net, TwoLayerNet::new(784, 50, 10, 42));
        assert_ne!(net, TwoLayerNet::new(784, 50, 10, 43));

        let (x, labels) = sparse_batch(7, 784);
        let y = net.predict(&x);
        assert_eq!(y.shape(), (7, 10));
        for row in y.row_iter() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
        // Tiny weights: every class about equally likely, loss about ln 10.
        assert!((net.loss(&x, &labels) - 10f64.ln()).abs() < 0.01);
        let g = net.numerical_gradient_fast(&x, &labels);
        assert_eq!(
            (
                g.grad_w1.shape(),
                g.grad_b1.shape(),
                g.grad_w2.shape(),
                g.grad_b2.shape()
            ),
            ((784, 50), (1, 50), (50, 10), (1, 10))
        );
    }

    #[test]
    fn the_numerical_gradient_matches_a_derivative_checked_by_hand() {
        // One sample, one input, one hidden unit, two classes:
        // E = −ln(softmax(σ(x·w1 + b1)·W2 + b2)_t + δ). Check ∂E/∂w1 by the chain rule.
        let x = DMatrix::from_element(1, 1, 0.7);
        let net = TwoLayerNet {
            w1: DMatrix::from_element(1, 1, 0.4),
            b1: RowDVector::from_element(1, -0.1),
            w2: DMatrix::from_row_slice(1, 2, &[1.5, -0.5]),
            b2: RowDVector::from_row_slice(&[0.2, 0.0]),
        };
        let z = sigmoid_scalar(0.7 * 0.4 - 0.1);
        let y = softmax(&DMatrix::from_row_slice(1, 2, &[1.5 * z + 0.2, -0.5 * z]));
        // ∂E/∂a2 = −(∂y_t/∂a2)/(y_t + δ), with ∂y_0/∂a2 = y_0·(1 − y_0, −y_1).
        let (y0, y1) = (y[0], y[1]);
        let factor = -1.0 / (y0 + DELTA);
        let d_a2 = [factor * y0 * (1.0 - y0), factor * (-y0 * y1)];
        let d_z = d_a2[0] * 1.5 + d_a2[1] * (-0.5);
        let d_w1 = d_z * z * (1.0 - z) * 0.7;
        for g in [
            net.numerical_gradient_naive(&x, &[0]),
            net.numerical_gradient_fast(&x, &[0]),
        ] {
            assert!(
                (g.grad_w1[0] - d_w1).abs() < 1e-8,
                "{} vs {d_w1}",
                g.grad_w1[0]
            );
        }
    }

    #[test]
    fn a_short_training_run_lowers_the_loss() {
        let (x, labels) = sparse_batch(40, 50);
        let mut net = TwoLayerNet::new(50, 10, 10, 1);
        let before = net.loss(&x, &labels);
        for _ in 0..200 {
            let g = net.gradient(GradientMethod::Fast, &x, &labels);
            net.update(&g, 5.0);
        }
        let after = net.loss(&x, &labels);
        assert!(after < before * 0.8, "loss {before} → {after}");
    }
}
