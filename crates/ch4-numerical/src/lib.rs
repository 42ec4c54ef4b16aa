//! # Stage 1: learning from numerical gradients
//!
//! The first network of the course (chapter 4 of *Deep Learning from
//! Scratch*): one affine layer and a softmax, 784 pixels in, 10 class
//! probabilities out. It learns by gradient descent, and every gradient is
//! measured the way a derivative is defined: nudge a parameter by a tiny `h`
//! and watch the loss change. No calculus is needed yet; stage 3 brings it.
//!
//! Read top to bottom: the network ([`SoftmaxNet`]), [`softmax`],
//! [`cross_entropy`], derivatives by [`numerical_diff`] and
//! [`numerical_gradient`], the network's gradient two ways
//! ([`SoftmaxNet::numerical_gradient_naive`] and
//! [`SoftmaxNet::numerical_gradient_fast`]), then a training step.
//!
//! All of it runs in `f64`: a finite difference divides a tiny change of the
//! loss by a tiny `h`, and `f32`'s seven digits would leave mostly rounding noise.

use nalgebra::{DMatrix, RowDVector};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

// ANCHOR: network
/// Softmax regression: `y = softmax(x·W + b)`.
///
/// Shapes: `x: batch × 784`, `W: 784 × 10`, `b: 1 × 10`, `y: batch × 10`.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxNet {
    /// Weights, `inputs × classes`.
    pub w: DMatrix<f64>,
    /// Biases, `1 × classes`.
    pub b: RowDVector<f64>,
}

impl SoftmaxNet {
    /// Weights drawn from `N(0, 0.01²)` (seeded), biases zero.
    pub fn new(inputs: usize, classes: usize, seed: u64) -> SoftmaxNet {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 0.01).expect("0.01 is a valid standard deviation");
        SoftmaxNet {
            w: DMatrix::from_fn(inputs, classes, |_, _| normal.sample(&mut rng)),
            b: RowDVector::zeros(classes),
        }
    }

    /// Number of trainable parameters: `784·10 + 10 = 7,850`.
    pub fn parameter_count(&self) -> usize {
        self.w.len() + self.b.len()
    }

    /// Class probabilities `y = softmax(x·W + b)`, `batch × 10`.
    pub fn predict(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        softmax(&affine(x, &self.w, &self.b))
    }

    /// Mean cross-entropy of the predictions for the batch `x` with `labels`.
    pub fn loss(&self, x: &DMatrix<f64>, labels: &[u8]) -> f64 {
        cross_entropy(&self.predict(x), labels)
    }

    /// The column of `W` for each class: 784 weights, one per pixel, that
    /// score how much an image looks like that digit (its template).
    pub fn templates(&self) -> Vec<Vec<f64>> {
        self.w
            .column_iter()
            .map(|c| c.iter().copied().collect())
            .collect()
    }
}
// ANCHOR_END: network

// ANCHOR: affine
/// The affine map `a = x·W + b`: every row of `x` (one image) times `W`, plus
/// the bias row `b` added to every row. `x: batch × n`, `W: n × m`, `b: 1 × m`,
/// result `batch × m`.
pub fn affine(x: &DMatrix<f64>, w: &DMatrix<f64>, b: &RowDVector<f64>) -> DMatrix<f64> {
    let mut a = x * w;
    for mut row in a.row_iter_mut() {
        row += b;
    }
    a
}
// ANCHOR_END: affine

// ANCHOR: softmax
/// Softmax of each row: `y_k = exp(a_k − max a) / Σ_j exp(a_j − max a)`.
///
/// Subtracting the row's maximum changes nothing mathematically (it cancels
/// in the ratio) but keeps every `exp` at most 1, so large logits cannot
/// overflow to infinity. `a: batch × classes` → same shape, rows sum to 1.
pub fn softmax(a: &DMatrix<f64>) -> DMatrix<f64> {
    let mut y = a.clone();
    for mut row in y.row_iter_mut() {
        let max = row.max();
        row.apply(|v| *v = (*v - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    y
}
// ANCHOR_END: softmax

// ANCHOR: cross_entropy
/// A tiny constant added inside the logarithm, as the book does, so that a
/// probability that underflowed to 0 gives a large finite loss, not infinity.
pub const DELTA: f64 = 1e-7;

/// Mean cross-entropy `E = −(1/N) Σ_n ln(y[n, t_n] + δ)`: the average surprise
/// at the right answer. `y: N × classes` probabilities, `labels`: N digits.
pub fn cross_entropy(y: &DMatrix<f64>, labels: &[u8]) -> f64 {
    assert_eq!(y.nrows(), labels.len(), "one label per row of y");
    let total: f64 = labels
        .iter()
        .enumerate()
        .map(|(n, &t)| -(y[(n, t as usize)] + DELTA).ln())
        .sum();
    total / labels.len() as f64
}
// ANCHOR_END: cross_entropy

// ANCHOR: numerical_diff
/// The step of every finite difference in this course. Smaller is not better:
/// below about 1e-5 the rounding error of `f64` (≈ 1e-16 · |f| / h) grows
/// faster than the O(h²) truncation error shrinks.
pub const H: f64 = 1e-4;

/// The central difference `f'(x) ≈ (f(x + h) − f(x − h)) / 2h`.
///
/// Its error is O(h²): the `f''` terms of the two Taylor expansions cancel,
/// where the forward difference `(f(x + h) − f(x)) / h` keeps them and is only O(h).
pub fn numerical_diff(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    (f(x + H) - f(x - H)) / (2.0 * H)
}
// ANCHOR_END: numerical_diff

// ANCHOR: numerical_gradient
/// `∂f/∂x[i]` by the central difference: nudge `x[i]` up by `h` and evaluate
/// `f`, nudge it down by `h` and evaluate again, put it back.
pub fn partial_derivative(
    mut f: impl FnMut(&DMatrix<f64>) -> f64,
    x: &mut DMatrix<f64>,
    i: usize,
) -> f64 {
    let original = x[i];
    x[i] = original + H;
    let f_plus = f(x);
    x[i] = original - H;
    let f_minus = f(x);
    x[i] = original;
    (f_plus - f_minus) / (2.0 * H)
}

/// The gradient `∂f/∂x` of a scalar function of a whole matrix: one partial
/// derivative per entry, so `2 · x.len()` evaluations of `f`.
///
/// `f` receives the (temporarily nudged) matrix; the result has `x`'s shape.
pub fn numerical_gradient(
    mut f: impl FnMut(&DMatrix<f64>) -> f64,
    x: &mut DMatrix<f64>,
) -> DMatrix<f64> {
    let mut grad = DMatrix::zeros(x.nrows(), x.ncols());
    for i in 0..x.len() {
        grad[i] = partial_derivative(&mut f, x, i);
    }
    grad
}
// ANCHOR_END: numerical_gradient

/// [`numerical_gradient`] with the entries shared out among the machine's
/// cores. Every nudge is independent of the others, so each thread nudges
/// its own share of entries in its own copy of `x`; the numbers are exactly
/// those of the one-thread version.
pub fn numerical_gradient_parallel(
    f: impl Fn(&DMatrix<f64>) -> f64 + Sync,
    x: &DMatrix<f64>,
) -> DMatrix<f64> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = x.len().div_ceil(threads).max(1);
    let mut grad = DMatrix::zeros(x.nrows(), x.ncols());
    std::thread::scope(|scope| {
        for (t, out) in grad.as_mut_slice().chunks_mut(share).enumerate() {
            let f = &f;
            scope.spawn(move || {
                let mut x = x.clone();
                for (k, g) in out.iter_mut().enumerate() {
                    *g = partial_derivative(f, &mut x, t * share + k);
                }
            });
        }
    });
    grad
}

/// [`numerical_gradient`] of a function of a bias row (`1 × n`): the same
/// nudges, made on a copy of the row as the `1 × n` matrix that function
/// takes, and the gradient handed back as a row.
pub fn numerical_gradient_row(
    mut f: impl FnMut(&RowDVector<f64>) -> f64,
    b: &RowDVector<f64>,
) -> RowDVector<f64> {
    let as_row = |m: &DMatrix<f64>| RowDVector::from_row_slice(m.as_slice());
    let mut b = DMatrix::from_row_slice(1, b.len(), b.as_slice());
    as_row(&numerical_gradient(|b| f(&as_row(b)), &mut b))
}

// ANCHOR: gradient_descent
/// Gradient descent on a function of a vector: `x ← x − η · ∇f(x)`, `steps` times,
/// with the gradient measured numerically. Returns where it ends.
pub fn gradient_descent(
    f: impl Fn(&DMatrix<f64>) -> f64,
    init: DMatrix<f64>,
    learning_rate: f64,
    steps: usize,
) -> DMatrix<f64> {
    let mut x = init;
    for _ in 0..steps {
        let grad = numerical_gradient(&f, &mut x);
        x -= learning_rate * grad;
    }
    x
}
// ANCHOR_END: gradient_descent

// ANCHOR: gradient_field
/// The book's bowl `f(x₀, x₁) = x₀² + x₁²` (any length of `x`: the sum of squares).
pub fn sum_of_squares(x: &DMatrix<f64>) -> f64 {
    x.iter().map(|v| v * v).sum()
}

/// The negative gradient `−∇f(p)` at each point `p` of the plane, measured
/// by [`numerical_gradient`]: the way downhill from `p`, longer where `f`
/// is steeper. Drawn as arrows, the book's figure 4-9.
pub fn downhill(f: impl Fn(&DMatrix<f64>) -> f64, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .iter()
        .map(|&(x0, x1)| {
            let grad = numerical_gradient(&f, &mut DMatrix::from_row_slice(1, 2, &[x0, x1]));
            (-grad[0], -grad[1])
        })
        .collect()
}

/// Every point [`gradient_descent`] visits on a function of the plane, the
/// start first: `steps` single steps of it, each from where the last ended.
pub fn descent_path(
    f: impl Fn(&DMatrix<f64>) -> f64,
    start: (f64, f64),
    learning_rate: f64,
    steps: usize,
) -> Vec<(f64, f64)> {
    let mut x = DMatrix::from_row_slice(1, 2, &[start.0, start.1]);
    let mut path = vec![start];
    for _ in 0..steps {
        x = gradient_descent(&f, x, learning_rate, 1);
        path.push((x[0], x[1]));
    }
    path
}
// ANCHOR_END: gradient_field

/// The gradient of the loss with respect to every parameter: `∂E/∂W`
/// (`784 × 10`) and `∂E/∂b` (`1 × 10`).
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients {
    pub grad_w: DMatrix<f64>,
    pub grad_b: RowDVector<f64>,
}

impl SoftmaxNet {
    // ANCHOR: gradient_naive
    /// The textbook numerical gradient: for each of the 7,850 parameters, nudge
    /// it by `±h` and recompute the loss of the whole batch from scratch.
    /// That is `2 · 7,850 = 15,700` forward passes per gradient; the nudges of
    /// `W` are shared out among the machine's cores.
    pub fn numerical_gradient_naive(&self, x: &DMatrix<f64>, labels: &[u8]) -> Gradients {
        let loss = |w: &DMatrix<f64>, b: &RowDVector<f64>| {
            cross_entropy(&softmax(&affine(x, w, b)), labels)
        };
        Gradients {
            grad_w: numerical_gradient_parallel(|w| loss(w, &self.b), &self.w),
            grad_b: numerical_gradient_row(|b| loss(&self.w, b), &self.b),
        }
    }
    // ANCHOR_END: gradient_naive

    // ANCHOR: gradient_fast
    /// The same finite differences, `(E(θ + h) − E(θ − h)) / 2h` for every
    /// parameter θ, computed with far less work. Still no derivative formula:
    /// each perturbed loss is evaluated, just not from scratch.
    ///
    /// Nudging `W[i, j]` by `±h` changes only logit `j` of each sample `n`, by
    /// `±h · x[n, i]`. So:
    /// - samples whose pixel `x[n, i]` is 0 (most of them: MNIST is mostly
    ///   background) keep their loss exactly, and are skipped;
    /// - for the others, the softmax denominator `S_n = Σ_k exp(a_nk − m_n)`
    ///   changes in one term, so the perturbed loss costs one `exp` and one `ln`
    ///   instead of a 784×10 matrix product.
    ///
    /// `∂E/∂b[j]` is the same with `x[n, i]` replaced by 1.
    pub fn numerical_gradient_fast(&self, x: &DMatrix<f64>, labels: &[u8]) -> Gradients {
        let a = affine(x, &self.w, &self.b);
        let (batch, classes) = a.shape();
        // Per sample: the shift m_n, the terms e_nk = exp(a_nk − m_n), their sum S_n.
        let m: Vec<f64> = (0..batch).map(|n| a.row(n).max()).collect();
        let e = DMatrix::from_fn(batch, classes, |n, k| (a[(n, k)] - m[n]).exp());
        let s: Vec<f64> = (0..batch).map(|n| e.row(n).sum()).collect();

        // Loss of sample n after logit j moved by d (only e_nj and S_n change).
        let loss_moved = |n: usize, j: usize, d: f64| {
            let e_j = (a[(n, j)] + d - m[n]).exp();
            let sum = s[n] - e[(n, j)] + e_j;
            let t = labels[n] as usize;
            let e_t = if t == j { e_j } else { e[(n, t)] };
            -(e_t / sum + DELTA).ln()
        };
        // (E(θ + h) − E(θ − h)) / 2h when θ moves logit j of sample n by `scale[n] · h`.
        let difference = |j: usize, scale: &mut dyn Iterator<Item = (usize, f64)>| {
            let total: f64 = scale
                .map(|(n, xi)| loss_moved(n, j, H * xi) - loss_moved(n, j, -H * xi))
                .sum();
            total / (batch as f64 * 2.0 * H)
        };

        let mut grad_w = DMatrix::zeros(self.w.nrows(), classes);
        for i in 0..self.w.nrows() {
            // The samples where pixel i is ink: the only ones W[i, ·] can affect.
            let ink: Vec<(usize, f64)> = x
                .column(i)
                .iter()
                .copied()
                .enumerate()
                .filter(|p| p.1 != 0.0)
                .collect();
            if ink.is_empty() {
                continue; // E does not depend on W[i, ·] for this batch: the difference is exactly 0
            }
            for j in 0..classes {
                grad_w[(i, j)] = difference(j, &mut ink.iter().copied());
            }
        }
        let grad_b = RowDVector::from_fn(classes, |_, j| {
            difference(j, &mut (0..batch).map(|n| (n, 1.0)))
        });
        Gradients { grad_w, grad_b }
    }
    // ANCHOR_END: gradient_fast
}

/// How to compute the numerical gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradientMethod {
    /// Perturb each parameter and rerun the whole forward pass.
    Naive,
    /// Perturb each parameter and recompute only what it changes.
    Fast,
}

impl GradientMethod {
    /// Both methods, in the order the chapter tells them.
    pub const ALL: [GradientMethod; 2] = [GradientMethod::Naive, GradientMethod::Fast];

    /// The method's name: `naive` or `fast`.
    pub fn name(self) -> &'static str {
        match self {
            GradientMethod::Naive => "naive",
            GradientMethod::Fast => "fast",
        }
    }
}

impl std::fmt::Display for GradientMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for GradientMethod {
    type Err = String;

    /// A method by its [`name`](GradientMethod::name).
    fn from_str(s: &str) -> Result<GradientMethod, String> {
        GradientMethod::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("expected `naive` or `fast`, got `{s}`"))
    }
}

impl SoftmaxNet {
    /// The numerical gradient by either method.
    pub fn gradient(&self, method: GradientMethod, x: &DMatrix<f64>, labels: &[u8]) -> Gradients {
        match method {
            GradientMethod::Naive => self.numerical_gradient_naive(x, labels),
            GradientMethod::Fast => self.numerical_gradient_fast(x, labels),
        }
    }

    // ANCHOR: sgd_step
    /// One step of gradient descent: `W ← W − η·∂E/∂W`, `b ← b − η·∂E/∂b`.
    pub fn update(&mut self, grads: &Gradients, learning_rate: f64) {
        self.w -= learning_rate * &grads.grad_w;
        self.b -= learning_rate * &grads.grad_b;
    }
    // ANCHOR_END: sgd_step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_of_the_classic_example_is_0_848307() {
        let y = DMatrix::from_row_slice(
            4,
            3,
            &[0.1, 0.2, 0.7, 0.8, 0.1, 0.1, 0.3, 0.6, 0.1, 0.1, 0.1, 0.8],
        );
        let loss = cross_entropy(&y, &[2, 0, 1, 0]);
        assert!((loss - 0.848307).abs() < 5e-7, "loss {loss}");
    }

    #[test]
    fn softmax_rows_sum_to_one_and_survive_huge_logits() {
        let a = DMatrix::from_row_slice(2, 3, &[0.3, 2.9, 4.0, 1010.0, 1000.0, 990.0]);
        let y = softmax(&a);
        for row in y.row_iter() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
        // The book's example: softmax([0.3, 2.9, 4.0]) = [0.01821, 0.24519, 0.73659].
        assert!((y[(0, 0)] - 0.018_211).abs() < 1e-5 && (y[(0, 2)] - 0.736_59).abs() < 1e-5);
        // Without the max shift exp(1010) would be inf and the row NaN.
        assert!(y.iter().all(|v| v.is_finite()));
        assert!((y[(1, 0)] - 1.0 / (1.0 + (-10f64).exp() + (-20f64).exp())).abs() < 1e-12);
    }

    #[test]
    fn numerical_diff_has_order_h_squared_error() {
        // f(x) = 0.01x² + 0.1x: f'(5) = 0.2, f'(10) = 0.3 (the book's example).
        let f = |x: f64| 0.01 * x * x + 0.1 * x;
        assert!((numerical_diff(f, 5.0) - 0.2).abs() < 1e-9);
        assert!((numerical_diff(f, 10.0) - 0.3).abs() < 1e-9);
        // For x³ the central difference is off by exactly h² (f''' = 6, error h²·f'''/6).
        let err = numerical_diff(|x| x * x * x, 2.0) - 12.0;
        assert!((err - H * H).abs() < 1e-9, "error {err}");
    }

    #[test]
    fn gradient_of_x0_squared_plus_x1_squared() {
        let f = |x: &DMatrix<f64>| x[0] * x[0] + x[1] * x[1];
        let g = numerical_gradient(f, &mut DMatrix::from_row_slice(1, 2, &[3.0, 4.0]));
        assert!(
            (g[0] - 6.0).abs() < 1e-6 && (g[1] - 8.0).abs() < 1e-6,
            "{g}"
        );
        let g = numerical_gradient(f, &mut DMatrix::from_row_slice(1, 2, &[3.0, 0.0]));
        assert!((g[0] - 6.0).abs() < 1e-6 && g[1].abs() < 1e-6, "{g}");
    }

    #[test]
    fn the_gradient_of_a_row_is_the_gradient_of_the_same_numbers_as_a_matrix() {
        let f = |x: &[f64]| {
            x.iter()
                .enumerate()
                .map(|(i, v)| (i as f64 + 1.0) * v * v)
                .sum::<f64>()
        };
        let b = RowDVector::from_row_slice(&[0.5, -1.0, 2.0]);
        let as_matrix = DMatrix::from_row_slice(1, 3, b.as_slice());
        let by_row = numerical_gradient_row(|b| f(b.as_slice()), &b);
        let by_matrix = numerical_gradient(|m| f(m.as_slice()), &mut as_matrix.clone());
        assert_eq!(by_row.as_slice(), by_matrix.as_slice());
        // ∂/∂x_i of Σ (i + 1)·x_i² is 2(i + 1)·x_i: (1, −4, 12).
        for (g, exact) in by_row.iter().zip([1.0, -4.0, 12.0]) {
            assert!((g - exact).abs() < 1e-6, "{by_row}");
        }
    }

    #[test]
    fn gradient_methods_are_named_and_found_by_name() {
        for method in GradientMethod::ALL {
            assert_eq!(method.name().parse::<GradientMethod>(), Ok(method));
            assert_eq!(method.to_string(), method.name());
        }
        let err = "analytic".parse::<GradientMethod>().unwrap_err();
        assert!(err.contains("naive") && err.contains("analytic"), "{err}");
    }

    #[test]
    fn the_parallel_gradient_equals_the_sequential_one_exactly() {
        let f = |x: &DMatrix<f64>| {
            x.iter()
                .enumerate()
                .map(|(i, v)| (i as f64 + 1.0) * v.sin())
                .sum::<f64>()
        };
        let x = DMatrix::from_fn(7, 5, |r, c| 0.1 * r as f64 - 0.2 * c as f64);
        assert_eq!(
            numerical_gradient_parallel(f, &x),
            numerical_gradient(f, &mut x.clone())
        );
    }

    #[test]
    fn gradient_descent_from_minus_3_4_reaches_the_origin() {
        let f = |x: &DMatrix<f64>| x[0] * x[0] + x[1] * x[1];
        let end = gradient_descent(f, DMatrix::from_row_slice(1, 2, &[-3.0, 4.0]), 0.1, 100);
        // Each step multiplies x by (1 − 2·0.1) = 0.8: 0.8¹⁰⁰ · 4 ≈ 8e-10.
        assert!(end.norm() < 1e-8, "{end}");
    }

    #[test]
    fn every_arrow_of_the_field_points_at_the_origin() {
        let points: Vec<(f64, f64)> = [(-3.0, 4.0), (2.0, 0.5), (0.0, -1.0), (1.5, 1.5)].into();
        for (&(x0, x1), (d0, d1)) in points.iter().zip(downhill(sum_of_squares, &points)) {
            // −∇f = −(2x₀, 2x₁): parallel to −p, pointing back at (0, 0), twice as long.
            assert!(
                (d0 * x1 - d1 * x0).abs() < 1e-6,
                "({x0}, {x1}): ({d0}, {d1})"
            );
            assert!(d0 * x0 + d1 * x1 < 0.0, "({x0}, {x1}) points away");
            assert!((d0.hypot(d1) - 2.0 * x0.hypot(x1)).abs() < 1e-6);
        }
    }

    #[test]
    fn the_descent_path_shrinks_by_0_8_a_step_towards_the_origin() {
        let path = descent_path(sum_of_squares, (-3.0, 4.0), 0.1, 20);
        assert_eq!(path.len(), 21);
        assert_eq!(path[0], (-3.0, 4.0));
        for pair in path.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!((b.0 - 0.8 * a.0).abs() < 1e-6 && (b.1 - 0.8 * a.1).abs() < 1e-6);
        }
        let end = path[20];
        assert!(end.0.hypot(end.1) < 0.06, "{end:?}");
    }

    #[test]
    fn the_templates_are_the_columns_of_w() {
        let net = SoftmaxNet::new(6, 3, 1);
        let templates = net.templates();
        assert_eq!(templates.len(), 3);
        assert_eq!(templates[2][4], net.w[(4, 2)]);
    }

    /// A small batch with realistic sparsity: about 80% zeros, the rest in (0, 1].
    fn sparse_batch(batch: usize, inputs: usize) -> (DMatrix<f64>, Vec<u8>) {
        let x = DMatrix::from_fn(batch, inputs, |n, i| {
            let v = ((n * 31 + i * 17) % 97) as f64 / 96.0;
            if v < 0.8 { 0.0 } else { v }
        });
        let labels = (0..batch).map(|n| (n * 7 % 10) as u8).collect();
        (x, labels)
    }

    #[test]
    fn fast_and_naive_numerical_gradients_agree_to_1e_9() {
        let (x, labels) = sparse_batch(20, 60);
        let mut net = SoftmaxNet::new(60, 10, 3);
        net.b = RowDVector::from_fn(10, |_, j| 0.1 * j as f64 - 0.4);
        let naive = net.numerical_gradient_naive(&x, &labels);
        let fast = net.numerical_gradient_fast(&x, &labels);
        let diff_w = (&naive.grad_w - &fast.grad_w).abs().max();
        let diff_b = (&naive.grad_b - &fast.grad_b).abs().max();
        assert!(
            diff_w < 1e-9 && diff_b < 1e-9,
            "max differences: W {diff_w:e}, b {diff_b:e}"
        );
        // Not trivially zero: the gradient has real magnitude.
        assert!(naive.grad_w.abs().max() > 1e-3 && naive.grad_b.abs().max() > 1e-2);
        // Rows of W for pixels that are 0 in every sample get exactly 0.
        let empty = (0..60).find(|&i| x.column(i).iter().all(|&v| v == 0.0));
        if let Some(i) = empty {
            assert!(fast.grad_w.row(i).iter().all(|&g| g == 0.0));
        }
    }

    #[test]
    fn a_few_steps_of_descent_lower_the_loss() {
        let (x, labels) = sparse_batch(30, 40);
        let mut net = SoftmaxNet::new(40, 10, 1);
        let before = net.loss(&x, &labels);
        for _ in 0..20 {
            let g = net.gradient(GradientMethod::Fast, &x, &labels);
            net.update(&g, 0.5);
        }
        let after = net.loss(&x, &labels);
        assert!(after < before * 0.8, "loss {before} → {after}");
    }

    #[test]
    fn the_network_has_7850_parameters_and_is_seeded() {
        let net = SoftmaxNet::new(784, 10, 42);
        assert_eq!(net.parameter_count(), 7_850);
        assert_eq!(net, SoftmaxNet::new(784, 10, 42));
        assert_ne!(net, SoftmaxNet::new(784, 10, 43));
        let std = (net.w.iter().map(|w| w * w).sum::<f64>() / 7840.0).sqrt();
        assert!((std - 0.01).abs() < 0.001, "std {std}");
    }
}
