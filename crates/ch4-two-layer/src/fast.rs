//! # Stage 2, an aside: the fast numerical gradient
//!
//! The chapter's main line is the naive numerical gradient of `lib.rs`, which
//! reruns the forward pass 79,520 times per step; this file holds the
//! shortcut that makes a training run of a few hundred steps practical. It
//! computes the very same central differences,
//! `(E(θ + h) − E(θ − h)) / 2h` for every parameter θ, with stage 1's `h`,
//! and still uses no derivative formula. It only avoids recomputing what a
//! nudge cannot change:
//!
//! - `E = (1/N) Σ_n L_n`, so each difference is a sum over samples of
//!   `L_n(θ + h) − L_n(θ − h)`, and one nudge changes little of one sample;
//! - `W2[j, k]` or `b2[k]` moves only logit `k` of the sample: one `exp`
//!   ([`ForwardCache::loss_logit_moved`]);
//! - `W1[i, j]` or `b1[j]` moves only hidden unit `j`'s input, by `±h · x[n, i]`,
//!   and through it the ten logits: ten `exp`s instead of a forward pass
//!   ([`ForwardCache::loss_hidden_moved`]);
//! - that change depends on the pixel `i` only through its shade `x[n, i]`:
//!   background pixels (0) change nothing, and pixels of one shade share one
//!   evaluation ([`ShadeDifferences`]).
//!
//! The tests below check it against the naive gradient to `1e-9`.

use ch4_numerical::{DELTA, H, affine};
use nalgebra::{DMatrix, RowDVector};

use crate::{TwoLayerGradients, TwoLayerNet, sigmoid, sigmoid_scalar};

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

    // ANCHOR: loss_hidden_moved
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
    // ANCHOR_END: loss_hidden_moved

    /// The loss of sample `n` when only its logit `k` moves by `d` (a nudge of
    /// `W2[j, k]` or `b2[k]`): one term of the softmax sum changes, one `exp`.
    fn loss_logit_moved(&self, n: usize, t: usize, k: usize, d: f64) -> f64 {
        let e_k = (self.a2[(k, n)] + d - self.m[n]).exp();
        let sum = self.s[n] - self.e[(k, n)] + e_k;
        let e_t = if t == k { e_k } else { self.e[(t, n)] };
        -(e_t / sum + DELTA).ln()
    }
}

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

impl TwoLayerNet {
    /// The same finite differences as [`TwoLayerNet::numerical_gradient_naive`],
    /// `(E(θ + h) − E(θ − h)) / 2h` for every parameter θ, with far less work.
    /// Still no derivative formula: every perturbed loss is evaluated, just
    /// not from scratch, and not twice.
    ///
    /// `E = (1/N) Σ_n L_n`, so each difference is a sum over samples of
    /// `L_n(θ + h) − L_n(θ − h)`, and a nudge changes little of sample `n`:
    /// - `W1[i, j]` or `b1[j]`: only hidden unit `j`, by an amount set by the
    ///   pixel's shade (`ShadeDifferences`, below); background pixels change nothing;
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
    use crate::tests::{small_net, sparse_batch};

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
}
