//! # Layers that run forwards and backwards
//!
//! Stage 3 of the course (chapter 5 of the book): the textbook. A network is
//! a chain of layers. Each layer maps its input `X` to an output `Y`
//! (forward) and, given how the loss changes with its output, `∂E/∂Y`,
//! tells how the loss changes with its input, `∂E/∂X` (backward), by the
//! chain rule. Layers with parameters also store `∂E/∂W` and `∂E/∂b` on the
//! way.
//!
//! The code is the chapter's formulas as nalgebra expressions: it allocates
//! freely and has no special paths. A batch of one sample is simply `N = 1`.
//! Stage 4 (`ch6-mlp`) engineers the same layers for speed, and is checked
//! against these.
//!
//! Every layer is generic over the scalar `T` (f32 or f64): the gradient
//! checks run in f64.

use nalgebra::{DMatrix, RealField};
use rand::Rng;
use rand::RngExt;
use rand_distr::{Distribution, Normal};

// ANCHOR: layer
/// One step of a network that runs both ways.
///
/// Shapes: a batch of `N` samples is a matrix with one sample per row, so
/// `x: N × n_in` and `y: N × n_out`. One sample is simply `N = 1`.
pub trait Layer<T: RealField + Copy> {
    /// `x: N × n_in` → `y: N × n_out`. Keeps whatever `backward` will need.
    fn forward(&mut self, x: &DMatrix<T>) -> DMatrix<T>;

    /// `dy = ∂E/∂Y: N × n_out` → `∂E/∂X: N × n_in`, for the input of the
    /// last `forward`. Stores the gradients of the layer's parameters.
    fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T>;

    /// Calls `visit(parameter, gradient)` for each parameter matrix of the
    /// layer (`W` then `b`), for optimizers and gradient checks. Activations
    /// have none.
    fn for_each_param(&mut self, _visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {}

    /// Number of trainable numbers in the layer.
    fn parameter_count(&self) -> usize {
        0
    }

    /// A short description, e.g. `Affine 784→50` or `ReLU`.
    fn name(&self) -> String;
}
// ANCHOR_END: layer

// ANCHOR: affine
/// The fully connected layer `Y = X·W + 1·b`: every row of `X·W` gets `b`.
///
/// Shapes: `x: N × n_in`, `W: n_in × n_out`, `b: 1 × n_out`, `1: N × 1`
/// (all ones), `y: N × n_out`.
///
/// Backward, from `dY = ∂E/∂Y` (`N × n_out`). Each `Y[n, j] = Σ_i X[n, i] W[i, j] + b[j]`, so
/// - `∂E/∂X[n, i] = Σ_j dY[n, j] W[i, j]`, that is `dX = dY · Wᵀ` (`N × n_in`);
/// - `∂E/∂W[i, j] = Σ_n X[n, i] dY[n, j]`, that is `dW = Xᵀ · dY` (`n_in × n_out`):
///   the sum over the batch happens inside the product;
/// - `∂E/∂b[j] = Σ_n dY[n, j]`, that is `db = 1ᵀ · dY` (`1 × n_out`):
///   `b` reached every row, so its gradient sums the rows of `dY`.
pub struct Affine<T: RealField + Copy> {
    /// Weights `W: n_in × n_out`.
    pub w: DMatrix<T>,
    /// Bias `b: 1 × n_out`.
    pub b: DMatrix<T>,
    /// `∂E/∂W` from the last backward.
    pub grad_w: DMatrix<T>,
    /// `∂E/∂b` from the last backward.
    pub grad_b: DMatrix<T>,
    /// The input of the last forward (`N × n_in`): `dW = Xᵀ · dY` needs it.
    x: DMatrix<T>,
}
// ANCHOR_END: affine

/// The `N × 1` column of ones that spreads `b` over the rows.
fn ones<T: RealField + Copy>(n: usize) -> DMatrix<T> {
    DMatrix::from_element(n, 1, T::one())
}

impl<T: RealField + Copy> Layer<T> for Affine<T> {
    // ANCHOR: affine_forward
    fn forward(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        self.x = x.clone();
        x * &self.w + ones(x.nrows()) * &self.b
    }
    // ANCHOR_END: affine_forward

    // ANCHOR: affine_backward
    fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        self.grad_w = self.x.transpose() * dy;
        self.grad_b = ones(dy.nrows()).transpose() * dy;
        dy * self.w.transpose()
    }
    // ANCHOR_END: affine_backward

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
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

impl<T: RealField + Copy> Affine<T> {
    /// A layer with the given weights `w: n_in × n_out` and bias `b: 1 × n_out`.
    pub fn from_parameters(w: DMatrix<T>, b: DMatrix<T>) -> Affine<T> {
        assert_eq!(b.shape(), (1, w.ncols()), "b must be 1 × n_out");
        let (n_in, n_out) = w.shape();
        Affine {
            grad_w: DMatrix::zeros(n_in, n_out),
            grad_b: DMatrix::zeros(1, n_out),
            x: DMatrix::zeros(0, n_in),
            w,
            b,
        }
    }

    /// `W ~ N(0, std²)` entry by entry, `b = 0`: the book's
    /// `weight_init_std * np.random.randn(n_in, n_out)`.
    pub fn normal(n_in: usize, n_out: usize, std: f64, rng: &mut impl Rng) -> Affine<T> {
        let normal = Normal::new(0.0, std).expect("std must be finite and non-negative");
        // Drawn in f64 and converted, so f32 and f64 networks start from the same numbers.
        let w = DMatrix::from_fn(n_in, n_out, |_, _| nalgebra::convert(normal.sample(rng)));
        Affine::from_parameters(w, DMatrix::zeros(1, n_out))
    }

    /// `W` and `b` uniform in `[−0.5, 0.5)`: the layer tutorial's
    /// `np.random.rand(n_in, n_out) − 0.5`.
    pub fn uniform(n_in: usize, n_out: usize, rng: &mut impl Rng) -> Affine<T> {
        let mut draw = |_, _| nalgebra::convert(rng.random::<f64>() - 0.5);
        let w = DMatrix::from_fn(n_in, n_out, &mut draw);
        let b = DMatrix::from_fn(1, n_out, &mut draw);
        Affine::from_parameters(w, b)
    }
}

// ANCHOR: sigmoid
/// The logistic function, entry by entry: `y = σ(x) = 1 / (1 + e^(−x))`.
///
/// Backward: `σ'(x) = e^(−x) / (1 + e^(−x))² = σ(x)(1 − σ(x)) = y(1 − y)`,
/// so `dX = dY ⊙ y ⊙ (1 − y)` (`⊙`: entry by entry). The output is all
/// backward needs. Shapes: any, `x`, `y`, `dY`, `dX` all alike.
pub struct Sigmoid<T: RealField + Copy> {
    y: DMatrix<T>,
}

impl<T: RealField + Copy> Layer<T> for Sigmoid<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        self.y = x.map(|x| T::one() / (T::one() + (-x).exp()));
        self.y.clone()
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        dy.zip_map(&self.y, |dy, y| dy * y * (T::one() - y))
    }

    fn name(&self) -> String {
        "Sigmoid".into()
    }
}
// ANCHOR_END: sigmoid

// ANCHOR: relu
/// The rectified linear unit, entry by entry: `y = max(0, x)`.
///
/// Backward: the slope is 1 where `x > 0` and 0 elsewhere, so
/// `dX = dY ⊙ [x > 0]`: the gradient passes where the input passed and stops
/// where it was cut.
pub struct Relu<T: RealField + Copy> {
    x: DMatrix<T>,
}

impl<T: RealField + Copy> Layer<T> for Relu<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        self.x = x.clone();
        x.map(|x| if x > T::zero() { x } else { T::zero() })
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        dy.zip_map(&self.x, |dy, x| if x > T::zero() { dy } else { T::zero() })
    }

    fn name(&self) -> String {
        "ReLU".into()
    }
}
// ANCHOR_END: relu

// ANCHOR: tanh
/// The hyperbolic tangent, entry by entry: `y = tanh x`.
///
/// Backward: `tanh' x = 1 − tanh² x = 1 − y²`, so `dX = dY ⊙ (1 − y²)`.
pub struct Tanh<T: RealField + Copy> {
    y: DMatrix<T>,
}

impl<T: RealField + Copy> Layer<T> for Tanh<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        self.y = x.map(|x| x.tanh());
        self.y.clone()
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        dy.zip_map(&self.y, |dy, y| dy * (T::one() - y * y))
    }

    fn name(&self) -> String {
        "Tanh".into()
    }
}
// ANCHOR_END: tanh

impl<T: RealField + Copy> Sigmoid<T> {
    /// A fresh layer.
    pub fn new() -> Sigmoid<T> {
        Sigmoid {
            y: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: RealField + Copy> Default for Sigmoid<T> {
    fn default() -> Sigmoid<T> {
        Sigmoid::new()
    }
}

impl<T: RealField + Copy> Relu<T> {
    /// A fresh layer.
    pub fn new() -> Relu<T> {
        Relu {
            x: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: RealField + Copy> Default for Relu<T> {
    fn default() -> Relu<T> {
        Relu::new()
    }
}

impl<T: RealField + Copy> Tanh<T> {
    /// A fresh layer.
    pub fn new() -> Tanh<T> {
        Tanh {
            y: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: RealField + Copy> Default for Tanh<T> {
    fn default() -> Tanh<T> {
        Tanh::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn affine_forward_and_backward_by_hand() {
        // x = [1 2], W = [[1 2 3], [4 5 6]], b = [0.5 0 −1]
        let w = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = DMatrix::from_row_slice(1, 3, &[0.5, 0.0, -1.0]);
        let mut layer = Affine::from_parameters(w, b);
        let x = DMatrix::from_row_slice(1, 2, &[1.0, 2.0]);
        assert_eq!(layer.forward(&x).as_slice(), &[9.5, 12.0, 14.0]);
        let dy = DMatrix::from_row_slice(1, 3, &[1.0, 0.0, -1.0]);
        // dX = dY·Wᵀ = [1·1 − 3, 1·4 − 6]
        assert_eq!(layer.backward(&dy).as_slice(), &[-2.0, -2.0]);
        // dW = xᵀ·dY
        assert_eq!(
            layer.grad_w,
            DMatrix::from_row_slice(2, 3, &[1.0, 0.0, -1.0, 2.0, 0.0, -2.0])
        );
        assert_eq!(layer.grad_b, dy);
    }

    #[test]
    fn affine_batch_rows_equal_single_samples() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut layer = Affine::<f64>::normal(9, 7, 1.0, &mut rng);
        let x = DMatrix::from_fn(8, 9, |r, c| ((r * 9 + c) as f64).sin());
        let batch = layer.forward(&x);
        for n in 0..8 {
            let one = layer.forward(&x.rows(n, 1).into_owned());
            assert!((batch.row(n) - one.row(0)).amax() < 1e-12);
        }
    }

    #[test]
    fn activations_by_hand() {
        let x = DMatrix::from_row_slice(1, 3, &[-1.0, 0.0, 2.0]);
        let dy = DMatrix::from_row_slice(1, 3, &[1.0, 1.0, 1.0]);
        let mut relu = Relu::new();
        assert_eq!(relu.forward(&x).as_slice(), &[0.0, 0.0, 2.0]);
        assert_eq!(relu.backward(&dy).as_slice(), &[0.0, 0.0, 1.0]);
        let mut sigmoid = Sigmoid::new();
        assert_eq!(sigmoid.forward(&x)[1], 0.5);
        assert_eq!(sigmoid.backward(&dy)[1], 0.25);
        let mut tanh = Tanh::new();
        assert_eq!(tanh.forward(&x)[1], 0.0);
        assert_eq!(tanh.backward(&dy)[1], 1.0);
        assert!((tanh.forward(&x)[2] - 2.0f64.tanh()).abs() < 1e-15);
    }

    #[test]
    fn initialisations_have_the_asked_statistics() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let normal = Affine::<f64>::normal(200, 100, 0.01, &mut rng);
        let n = normal.w.len() as f64;
        let mean = normal.w.sum() / n;
        let std = (normal.w.map(|v| (v - mean) * (v - mean)).sum() / n).sqrt();
        assert!(
            mean.abs() < 1e-3 && (std - 0.01).abs() < 2e-4,
            "mean {mean}, std {std}"
        );
        assert_eq!(normal.b, DMatrix::zeros(1, 100));
        let uniform = Affine::<f32>::uniform(200, 100, &mut rng);
        assert!(
            uniform
                .w
                .iter()
                .chain(uniform.b.iter())
                .all(|v| (-0.5..0.5).contains(v))
        );
        assert!(uniform.w.max() > 0.49 && uniform.w.min() < -0.49);
    }

    #[test]
    fn f32_and_f64_layers_start_from_the_same_weights() {
        let a = Affine::<f64>::normal(5, 4, 0.1, &mut rand::rngs::StdRng::seed_from_u64(9));
        let b = Affine::<f32>::normal(5, 4, 0.1, &mut rand::rngs::StdRng::seed_from_u64(9));
        assert!(a.w.iter().zip(b.w.iter()).all(|(&a, &b)| a as f32 == b));
    }

    #[test]
    fn any_batch_size_in_any_order() {
        let mut layer = Affine::<f64>::normal(3, 2, 1.0, &mut rand::rngs::StdRng::seed_from_u64(2));
        for batch in [4, 1, 7, 4] {
            let x = DMatrix::from_element(batch, 3, 0.5);
            assert_eq!(layer.forward(&x).shape(), (batch, 2));
            assert_eq!(
                layer
                    .backward(&DMatrix::from_element(batch, 2, 1.0))
                    .shape(),
                (batch, 3)
            );
            assert_eq!(layer.grad_b[0], batch as f64);
        }
    }
}
