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
//! the gradient two ways ([`TwoLayerNet::numerical_gradient_naive`] and
//! [`TwoLayerNet::numerical_gradient_fast`]), then a training step.
//!
//! Everything is `f64`, for the reason stage 1 gives: a finite difference
//! divides a tiny change of the loss by a tiny `h`.

use ch4_numerical::{DELTA, H, affine, cross_entropy, numerical_gradient, softmax};
use nalgebra::{DMatrix, DVector, RowDVector};
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
    /// its columns are shared between two threads, each nudging its own copy.
    pub fn numerical_gradient_naive(&self, x: &DMatrix<f64>, labels: &[u8]) -> TwoLayerGradients {
        let (w1, b1, w2, b2) = (&self.w1, &self.b1, &self.w2, &self.b2);
        let loss =
            |w1: &DMatrix<f64>, b1: &RowDVector<f64>, w2: &DMatrix<f64>, b2: &RowDVector<f64>| {
                cross_entropy(&predict(x, w1, b1, w2, b2), labels)
            };
        let columns = in_two_threads(w1.ncols(), |j| {
            numerical_gradient_column(|w1| loss(w1, b1, w2, b2), w1, j)
        });
        let grad_w1 = DMatrix::from_columns(&columns);
        let grad_b1 = numerical_gradient(|b1| loss(w1, &as_row(b1), w2, b2), &mut as_matrix(b1));
        let grad_w2 = numerical_gradient(|w2| loss(w1, b1, w2, b2), &mut w2.clone());
        let grad_b2 = numerical_gradient(|b2| loss(w1, b1, w2, &as_row(b2)), &mut as_matrix(b2));
        TwoLayerGradients {
            grad_w1,
            grad_b1: as_row(&grad_b1),
            grad_w2,
            grad_b2: as_row(&grad_b2),
        }
    }
    // ANCHOR_END: gradient_naive
}

/// Stage 1's [`numerical_gradient`] of `f` with respect to column `j` of `w`
/// only, the other columns held fixed: how two threads share one matrix.
fn numerical_gradient_column(
    f: impl Fn(&DMatrix<f64>) -> f64,
    w: &DMatrix<f64>,
    j: usize,
) -> DVector<f64> {
    let mut nudged = w.clone();
    let grad = numerical_gradient(
        |column| {
            nudged.set_column(j, &column.column(0));
            f(&nudged)
        },
        &mut w.columns(j, 1).into_owned(),
    );
    grad.column(0).into_owned()
}

/// A bias row as the `1 × n` matrix [`numerical_gradient`] nudges.
fn as_matrix(b: &RowDVector<f64>) -> DMatrix<f64> {
    DMatrix::from_row_slice(1, b.len(), b.as_slice())
}

/// A `1 × n` matrix back as a bias row.
fn as_row(b: &DMatrix<f64>) -> RowDVector<f64> {
    RowDVector::from_row_slice(b.as_slice())
}

// ANCHOR: forward_cache
/// Everything one forward pass computed on a batch, kept so that the loss
/// after a nudge can be recomputed from the part that nudge changes.
struct ForwardCache {
    /// `a1 = x·W1 + b1`, `batch × hidden`.
    a1: DMatrix<f64>,
    /// `z1 = sigmoid(a1)`, `batch × hidden`.
    z1: DMatrix<f64>,
    /// `W2` transposed, `10 × hidden`: column `j` is the row of `W2` along
    /// which hidden unit `j` moves the logits.
    w2t: DMatrix<f64>,
    /// `a2 = z1·W2 + b2` transposed, `10 × batch`: column `n` holds sample
    /// `n`'s logits.
    a2: DMatrix<f64>,
    /// Per sample: the shift `m_n = max_k a2[n, k]` of its softmax.
    m: Vec<f64>,
    /// `e[k, n] = exp(a2[n, k] − m_n)`, `10 × batch`.
    e: DMatrix<f64>,
    /// Per sample: the softmax denominator `S_n = Σ_k e[k, n]`.
    s: Vec<f64>,
}

impl ForwardCache {
    fn new(net: &TwoLayerNet, x: &DMatrix<f64>) -> ForwardCache {
        let a1 = affine(x, &net.w1, &net.b1);
        let z1 = sigmoid(&a1);
        let a2 = affine(&z1, &net.w2, &net.b2).transpose();
        let m: Vec<f64> = a2.column_iter().map(|logits| logits.max()).collect();
        let e = DMatrix::from_fn(a2.nrows(), a2.ncols(), |k, n| (a2[(k, n)] - m[n]).exp());
        let s = e.column_iter().map(|e_n| e_n.sum()).collect();
        let w2t = net.w2.transpose();
        ForwardCache {
            a1,
            z1,
            w2t,
            a2,
            m,
            e,
            s,
        }
    }

    /// The loss `−ln(y_t + δ)` of sample `n` (label `t`) when hidden unit `j`'s
    /// input `a1[n, j]` moves by `d`: `z1[n, j]` moves by `dz`, and with it
    /// every logit `k` by `dz · W2[j, k]`. Ten `exp`s instead of a forward pass.
    fn loss_hidden_moved(&self, n: usize, t: usize, j: usize, d: f64) -> f64 {
        let dz = sigmoid_scalar(self.a1[(n, j)] + d) - self.z1[(n, j)];
        // The old maximum still keeps exp from overflowing: dz is tiny.
        let (mut sum, mut e_t) = (0.0, 0.0);
        for (k, (a, w)) in self
            .a2
            .column(n)
            .iter()
            .zip(self.w2t.column(j).iter())
            .enumerate()
        {
            let e = (a + dz * w - self.m[n]).exp();
            sum += e;
            if k == t {
                e_t = e;
            }
        }
        -(e_t / sum + DELTA).ln()
    }

    /// The loss of sample `n` when only its logit `k` moves by `d` (a nudge of
    /// `W2[j, k]` or `b2[k]`): one term of the softmax sum changes, one `exp`.
    fn loss_logit_moved(&self, n: usize, t: usize, k: usize, d: f64) -> f64 {
        let e_k = (self.a2[(k, n)] + d - self.m[n]).exp();
        let sum = self.s[n] - self.e[(k, n)] + e_k;
        let e_t = if t == k { e_k } else { self.e[(t, n)] };
        -(e_t / sum + DELTA).ln()
    }
}
// ANCHOR_END: forward_cache

// ANCHOR: shade_differences
/// For one sample `n`: the loss differences `L_n(+) − L_n(−)` caused by
/// nudging any weight into the hidden layer.
///
/// Nudging `W1[i, j]` by `±h` moves `a1[n, j]` by `±h · x[n, i]` and nothing
/// else. So sample `n`'s difference depends only on `j` and the shade
/// `x[n, i]` of the pixel: it is exactly 0 for background pixels (81% of
/// them), and the same for two pixels of the same shade (the first 100
/// training images have 146 ink pixels each on average, but only 65 distinct
/// shades). Each shade is evaluated once, here.
struct ShadeDifferences {
    /// The distinct shades of this sample's ink, ascending, and 1.0 (for `b1`).
    shades: Vec<f64>,
    /// `differences[s · hidden + j]`: the difference for shade `s`, hidden unit `j`.
    differences: Vec<f64>,
}

impl ShadeDifferences {
    fn new(cache: &ForwardCache, x: &DMatrix<f64>, n: usize, t: usize) -> ShadeDifferences {
        let hidden = cache.a1.ncols();
        // 1.0 is always included: b1[j] is a weight from an input that is always 1.
        let mut shades: Vec<f64> = x.row(n).iter().copied().filter(|&v| v != 0.0).collect();
        shades.push(1.0);
        shades.sort_by(f64::total_cmp);
        shades.dedup();
        let mut differences = Vec::with_capacity(shades.len() * hidden);
        for &shade in &shades {
            for j in 0..hidden {
                differences.push(
                    cache.loss_hidden_moved(n, t, j, H * shade)
                        - cache.loss_hidden_moved(n, t, j, -H * shade),
                );
            }
        }
        ShadeDifferences {
            shades,
            differences,
        }
    }

    /// The differences for every hidden unit when the nudged input has value `shade`.
    fn of(&self, shade: f64) -> &[f64] {
        let s = self
            .shades
            .binary_search_by(|v| v.total_cmp(&shade))
            .expect("every ink shade of the sample was evaluated");
        let hidden = self.differences.len() / self.shades.len();
        &self.differences[s * hidden..(s + 1) * hidden]
    }
}
// ANCHOR_END: shade_differences

impl TwoLayerNet {
    // ANCHOR: gradient_fast
    /// The same finite differences, `(E(θ + h) − E(θ − h)) / 2h` for every
    /// parameter θ, with far less work. Still no derivative formula: every
    /// perturbed loss is evaluated, just not from scratch, and not twice.
    ///
    /// `E = (1/N) Σ_n L_n`, so each difference is a sum over samples of
    /// `L_n(θ + h) − L_n(θ − h)`, and a nudge changes little of sample `n`:
    /// - `W1[i, j]` or `b1[j]`: only hidden unit `j`, by an amount set by the
    ///   pixel's shade ([`ShadeDifferences`]); background pixels change nothing;
    /// - `W2[j, k]` or `b2[k]`: only logit `k`.
    ///
    /// The samples are shared between two threads (the first layer is most of the work).
    pub fn numerical_gradient_fast(&self, x: &DMatrix<f64>, labels: &[u8]) -> TwoLayerGradients {
        let cache = ForwardCache::new(self, x);
        let (batch, inputs) = x.shape();
        let (hidden, outputs) = self.w2.shape();
        let scale = 1.0 / (batch as f64 * 2.0 * H);

        // First layer: per sample, each shade's difference, then summed into
        // every weight from a pixel of that shade.
        let per_sample = in_two_threads(batch, |n| {
            ShadeDifferences::new(&cache, x, n, labels[n] as usize)
        });
        let mut grad_w1 = DMatrix::zeros(inputs, hidden);
        let mut grad_b1 = RowDVector::zeros(hidden);
        for (n, sample) in per_sample.iter().enumerate() {
            for i in 0..inputs {
                let shade = x[(n, i)];
                if shade != 0.0 {
                    for (j, d) in sample.of(shade).iter().enumerate() {
                        grad_w1[(i, j)] += d;
                    }
                }
            }
            grad_b1 += RowDVector::from_row_slice(sample.of(1.0));
        }
        grad_w1 *= scale;
        grad_b1 *= scale;

        // Second layer: W2[j, k] moves logit k of sample n by ±h·z1[n, j]; b2[k] by ±h.
        let output_difference = |k: usize, z: &dyn Fn(usize) -> f64| {
            let total: f64 = (0..batch)
                .map(|n| {
                    let t = labels[n] as usize;
                    cache.loss_logit_moved(n, t, k, H * z(n))
                        - cache.loss_logit_moved(n, t, k, -H * z(n))
                })
                .sum();
            total * scale
        };
        let grad_w2 = DMatrix::from_fn(hidden, outputs, |j, k| {
            output_difference(k, &|n| cache.z1[(n, j)])
        });
        let grad_b2 = RowDVector::from_fn(outputs, |_, k| output_difference(k, &|_| 1.0));

        TwoLayerGradients {
            grad_w1,
            grad_b1,
            grad_w2,
            grad_b2,
        }
    }
    // ANCHOR_END: gradient_fast

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

/// `f(0), …, f(count − 1)`, the first half computed on a second thread (the
/// machines this course targets have two cores or more).
fn in_two_threads<T: Send>(count: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let half = count / 2;
    std::thread::scope(|s| {
        let first = s.spawn(|| (0..half).map(&f).collect::<Vec<T>>());
        let second: Vec<T> = (half..count).map(&f).collect();
        let mut all = first.join().expect("gradient thread panicked");
        all.extend(second);
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small batch with realistic sparsity: about 80% zeros, the rest in
    /// (0, 1] on five shades that repeat within an image (as MNIST's do: most
    /// ink is 253–255), so the fast gradient's sharing of shades is exercised.
    fn sparse_batch(batch: usize, inputs: usize) -> (DMatrix<f64>, Vec<u8>) {
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
    fn small_net(inputs: usize, hidden: usize) -> TwoLayerNet {
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
    fn fast_and_naive_numerical_gradients_agree_to_1e_9() {
        let (mut x, labels) = sparse_batch(12, 30);
        x.column_mut(5).fill(0.0); // a pixel that is background in every sample
        let net = small_net(30, 6);
        let naive = net.numerical_gradient_naive(&x, &labels);
        let fast = net.numerical_gradient_fast(&x, &labels);
        let diff = naive.max_difference(&fast);
        assert!(diff < 1e-9, "max difference {diff:e}");
        // Not trivially zero: every part of the gradient has real magnitude.
        for (name, g) in [
            ("W1", naive.grad_w1.abs().max()),
            ("b1", naive.grad_b1.abs().max()),
            ("W2", naive.grad_w2.abs().max()),
            ("b2", naive.grad_b2.abs().max()),
        ] {
            assert!(g > 1e-3, "∂E/∂{name} is only {g:e}");
        }
        // The row of W1 for a pixel that is 0 in every sample gets exactly 0.
        assert!(fast.grad_w1.row(5).iter().all(|&g| g == 0.0));
        assert!(naive.grad_w1.row(5).iter().all(|&g| g == 0.0));
        // Some image does repeat a shade, so sharing shades was tested.
        let repeats = |n: usize| {
            let ink: Vec<f64> = x.row(n).iter().copied().filter(|&v| v != 0.0).collect();
            ink.iter()
                .any(|v| ink.iter().filter(|&w| w == v).count() > 1)
        };
        assert!((0..12).any(repeats));
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
