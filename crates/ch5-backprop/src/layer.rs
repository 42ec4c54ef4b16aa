//! # Layers that run forwards and backwards
//!
//! Stage 3 of the course (chapter 5 of the book). A network is a chain of
//! layers. Each layer maps its input `X` to an output `Y` (forward) and, given
//! how the loss changes with its output, `∂E/∂Y`, tells how the loss changes
//! with its input, `∂E/∂X` (backward), by the chain rule. Layers with
//! parameters also store `∂E/∂W` and `∂E/∂b` on the way.
//!
//! Every layer here is generic over the scalar `T` (f32 or f64): the gradient
//! checks run them in f64, the fast training of stage 4 (`ch6-mlp`) in f32.
//! Each layer owns its output and gradient buffers and only reallocates them
//! when the batch size changes, so a training step allocates nothing of its
//! own (`matrixmultiply`, behind nalgebra's `gemm`, takes one packing buffer
//! per matrix product; `tests/allocations.rs` counts).

use nalgebra::{DMatrix, DMatrixView, Dyn, RealField};
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
    fn forward(&mut self, x: &DMatrix<T>) -> &DMatrix<T>;

    /// `dy = ∂E/∂Y: N × n_out` → `∂E/∂X: N × n_in`, for the input of the
    /// last `forward`. Stores the gradients of the layer's parameters.
    fn backward(&mut self, dy: &DMatrix<T>) -> &DMatrix<T>;

    /// Only the parameter gradients of `backward`. The network calls this on
    /// its first layer, whose `∂E/∂X` (the gradient with respect to the
    /// pixels) nobody needs; `Affine` skips a whole matrix product here.
    fn backward_params(&mut self, dy: &DMatrix<T>) {
        self.backward(dy);
    }

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

/// Makes `buffer` an `rows × cols` matrix, allocating only when its shape
/// changes (e.g. from training batches to a test chunk), never in the steady state.
fn fit<T: RealField + Copy>(buffer: &mut DMatrix<T>, rows: usize, cols: usize) {
    if buffer.shape() != (rows, cols) {
        *buffer = DMatrix::zeros(rows, cols);
    }
}

/// Products with a dimension this small take nalgebra's own loops instead of
/// `matrixmultiply`, and those loops misread a strided view such as
/// [`transposed`] as the left factor (an out-of-bounds read in nalgebra
/// 0.35). For such shapes `Affine` uses `gemm_tr`, which is slow only for
/// large matrices.
const SMALL: usize = 5;

/// `mᵀ` without copying: the same numbers read with rows and columns swapped.
///
/// nalgebra stores matrices column by column; a view with swapped strides is
/// the transpose, and `gemm` on it runs at full speed, where `tr_mul` and
/// `gemm_tr` are about ten times slower (measured in PERFORMANCE.md).
pub fn transposed<T: RealField + Copy>(m: &DMatrix<T>) -> DMatrixView<'_, T, Dyn, Dyn> {
    DMatrixView::from_slice_with_strides(m.as_slice(), m.ncols(), m.nrows(), m.nrows(), 1)
}

/// `Σ_i a_i b_i`, kept in eight running sums: one running sum must add its
/// terms one after the other, eight independent ones let the compiler use
/// SIMD registers (for one sample, where there is no matrix product to call).
fn dot<T: RealField + Copy>(a: &[T], b: &[T]) -> T {
    let mut sums = [T::zero(); 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: T = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .fold(T::zero(), |s, (&a, &b)| s + a * b);
    for (a, b) in a8.zip(b8) {
        for k in 0..8 {
            sums[k] += a[k] * b[k];
        }
    }
    sums.iter().fold(tail, |s, &v| s + v)
}

// ANCHOR: affine
/// The fully connected layer `Y = X·W + b`.
///
/// Shapes: `x: N × n_in`, `W: n_in × n_out`, `b: 1 × n_out` (added to every
/// row), `y: N × n_out`.
///
/// Backward, from `dY = ∂E/∂Y` (`N × n_out`). Each `Y[n, j] = Σ_i X[n, i] W[i, j] + b[j]`, so
/// - `∂E/∂X[n, i] = Σ_j dY[n, j] W[i, j]`, that is `dX = dY · Wᵀ` (`N × n_in`);
/// - `∂E/∂W[i, j] = Σ_n X[n, i] dY[n, j]`, that is `dW = Xᵀ · dY` (`n_in × n_out`):
///   the sum over the batch happens inside the product;
/// - `∂E/∂b[j] = Σ_n dY[n, j]`: `b` reached every row, so its gradient sums
///   the rows of `dY` (`1 × n_out`).
///
/// The same layer serves a batch and one sample (`N = 1`). For one sample
/// the products are written as dot products and `axpy` loops, because
/// nalgebra's `gemm` has no fast path for a single row.
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
    y: DMatrix<T>,
    dx: DMatrix<T>,
}
// ANCHOR_END: affine

impl<T: RealField + Copy> Affine<T> {
    /// A layer with the given weights `w: n_in × n_out` and bias `b: 1 × n_out`.
    pub fn from_parameters(w: DMatrix<T>, b: DMatrix<T>) -> Affine<T> {
        assert_eq!(b.shape(), (1, w.ncols()), "b must be 1 × n_out");
        let (n_in, n_out) = w.shape();
        Affine {
            grad_w: DMatrix::zeros(n_in, n_out),
            grad_b: DMatrix::zeros(1, n_out),
            x: DMatrix::zeros(0, n_in),
            y: DMatrix::zeros(0, n_out),
            dx: DMatrix::zeros(0, n_in),
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

impl<T: RealField + Copy> Layer<T> for Affine<T> {
    // ANCHOR: affine_forward
    fn forward(&mut self, x: &DMatrix<T>) -> &DMatrix<T> {
        let (batch, n_in) = x.shape();
        assert_eq!(n_in, self.w.nrows(), "Affine: x must have n_in columns");
        fit(&mut self.x, batch, n_in);
        self.x.copy_from(x);
        fit(&mut self.y, batch, self.w.ncols());
        if batch == 1 {
            // One sample: y_j = b_j + x · W[:, j], one dot product per output.
            for (j, w_j) in self.w.as_slice().chunks_exact(n_in).enumerate() {
                self.y[j] = self.b[j] + dot(x.as_slice(), w_j);
            }
        } else {
            // y = b in every row, then y += x·W in place.
            for (j, mut column) in self.y.column_iter_mut().enumerate() {
                column.fill(self.b[j]);
            }
            self.y.gemm(T::one(), x, &self.w, T::one());
        }
        &self.y
    }
    // ANCHOR_END: affine_forward

    // ANCHOR: affine_backward
    fn backward(&mut self, dy: &DMatrix<T>) -> &DMatrix<T> {
        self.backward_params(dy);
        let (batch, n_in) = (dy.nrows(), self.w.nrows());
        fit(&mut self.dx, batch, n_in);
        if batch == 1 {
            // dx = Σ_j dy_j · W[:, j]
            let dx = self.dx.as_mut_slice();
            dx.fill(T::zero());
            for (&dy_j, w_j) in dy
                .as_slice()
                .iter()
                .zip(self.w.as_slice().chunks_exact(n_in))
            {
                for (dx, &w) in dx.iter_mut().zip(w_j) {
                    *dx += dy_j * w;
                }
            }
        } else {
            // dX = dY · Wᵀ
            self.dx.gemm(T::one(), dy, &transposed(&self.w), T::zero());
        }
        &self.dx
    }

    fn backward_params(&mut self, dy: &DMatrix<T>) {
        assert_eq!(
            dy.shape(),
            self.y.shape(),
            "Affine: dy must match the last output"
        );
        let n_in = self.w.nrows();
        if dy.nrows() == 1 {
            // dW[:, j] = xᵀ · dy_j
            let columns = self.grad_w.as_mut_slice().chunks_exact_mut(n_in);
            for (&dy_j, grad_w_j) in dy.as_slice().iter().zip(columns) {
                for (g, &x) in grad_w_j.iter_mut().zip(self.x.as_slice()) {
                    *g = x * dy_j;
                }
            }
        } else if n_in.min(dy.ncols()).min(dy.nrows()) > SMALL {
            // dW = Xᵀ · dY, on a transposed view of the stored input.
            self.grad_w
                .gemm(T::one(), &transposed(&self.x), dy, T::zero());
        } else {
            // The same product for tiny shapes (see SMALL).
            self.grad_w.gemm_tr(T::one(), &self.x, dy, T::zero());
        }
        // db = Σ_rows dY
        for (j, column) in dy.column_iter().enumerate() {
            self.grad_b[j] = column.sum();
        }
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

// ANCHOR: sigmoid
/// The logistic function, entry by entry: `y = σ(x) = 1 / (1 + e^(−x))`.
///
/// Backward: `σ'(x) = e^(−x) / (1 + e^(−x))² = σ(x)(1 − σ(x)) = y(1 − y)`,
/// so `dX = dY ⊙ y ⊙ (1 − y)` (`⊙`: entry by entry). The output is all
/// backward needs. Shapes: any, `x`, `y`, `dY`, `dX` all alike.
pub struct Sigmoid<T: RealField + Copy> {
    y: DMatrix<T>,
    dx: DMatrix<T>,
}

impl<T: RealField + Copy> Layer<T> for Sigmoid<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> &DMatrix<T> {
        fit(&mut self.y, x.nrows(), x.ncols());
        for (y, &x) in self.y.as_mut_slice().iter_mut().zip(x.as_slice()) {
            *y = T::one() / (T::one() + (-x).exp());
        }
        &self.y
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> &DMatrix<T> {
        fit(&mut self.dx, dy.nrows(), dy.ncols());
        let outputs = self.y.as_slice().iter().zip(dy.as_slice());
        for (dx, (&y, &dy)) in self.dx.as_mut_slice().iter_mut().zip(outputs) {
            *dx = dy * y * (T::one() - y);
        }
        &self.dx
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
/// where it was cut. `y > 0` exactly where `x > 0`, so the output serves as the mask.
pub struct Relu<T: RealField + Copy> {
    y: DMatrix<T>,
    dx: DMatrix<T>,
}

impl<T: RealField + Copy> Layer<T> for Relu<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> &DMatrix<T> {
        fit(&mut self.y, x.nrows(), x.ncols());
        for (y, &x) in self.y.as_mut_slice().iter_mut().zip(x.as_slice()) {
            *y = if x > T::zero() { x } else { T::zero() };
        }
        &self.y
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> &DMatrix<T> {
        fit(&mut self.dx, dy.nrows(), dy.ncols());
        let outputs = self.y.as_slice().iter().zip(dy.as_slice());
        for (dx, (&y, &dy)) in self.dx.as_mut_slice().iter_mut().zip(outputs) {
            *dx = if y > T::zero() { dy } else { T::zero() };
        }
        &self.dx
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
    dx: DMatrix<T>,
}

impl<T: RealField + Copy> Layer<T> for Tanh<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> &DMatrix<T> {
        fit(&mut self.y, x.nrows(), x.ncols());
        for (y, &x) in self.y.as_mut_slice().iter_mut().zip(x.as_slice()) {
            *y = x.tanh();
        }
        &self.y
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> &DMatrix<T> {
        fit(&mut self.dx, dy.nrows(), dy.ncols());
        let outputs = self.y.as_slice().iter().zip(dy.as_slice());
        for (dx, (&y, &dy)) in self.dx.as_mut_slice().iter_mut().zip(outputs) {
            *dx = dy * (T::one() - y * y);
        }
        &self.dx
    }

    fn name(&self) -> String {
        "Tanh".into()
    }
}
// ANCHOR_END: tanh

impl<T: RealField + Copy> Sigmoid<T> {
    /// A fresh layer; the first forward sizes its buffers.
    pub fn new() -> Sigmoid<T> {
        Sigmoid {
            y: DMatrix::zeros(0, 0),
            dx: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: RealField + Copy> Default for Sigmoid<T> {
    fn default() -> Sigmoid<T> {
        Sigmoid::new()
    }
}

impl<T: RealField + Copy> Relu<T> {
    /// A fresh layer; the first forward sizes its buffers.
    pub fn new() -> Relu<T> {
        Relu {
            y: DMatrix::zeros(0, 0),
            dx: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: RealField + Copy> Default for Relu<T> {
    fn default() -> Relu<T> {
        Relu::new()
    }
}

impl<T: RealField + Copy> Tanh<T> {
    /// A fresh layer; the first forward sizes its buffers.
    pub fn new() -> Tanh<T> {
        Tanh {
            y: DMatrix::zeros(0, 0),
            dx: DMatrix::zeros(0, 0),
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
        let batch = layer.forward(&x).clone();
        for n in 0..8 {
            let one = layer.forward(&x.rows(n, 1).into_owned()).clone();
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
    fn buffers_are_resized_when_the_batch_changes() {
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
