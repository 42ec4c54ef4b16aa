//! # ReLU in place, and softmax with cross-entropy fused
//!
//! Stage 3's `Relu` and `SoftmaxWithLoss`, engineered for the engine: ReLU
//! and its backward run in place on kept buffers at the CPU's full vector
//! width, and softmax with cross-entropy is one pass over the rows of the
//! scores, its gradient `(y − t)/N` another. Every network of stages 4 to 7
//! ends in these.

use nalgebra::{DMatrix, RealField};

use crate::engine::dense::resize_buffer;
use crate::engine::simd::vectorized;

// ANCHOR: relu
/// ReLU in place: `y ← max(y, 0)` entry by entry, at full vector width.
pub fn relu<T: RealField + Copy>(y: &mut DMatrix<T>) {
    vectorized(|| {
        for v in y.as_mut_slice() {
            *v = v.max(T::zero());
        }
    });
}

/// ReLU's backward in place, from its output `y`: `dx ← dx ⊙ [y > 0]`
/// (`y > 0` exactly where the input was). Written as a product with 1 or 0
/// rather than as an `if` that skips a store: every number is stored, in
/// whole vectors, instead of eight at a time through a mask.
pub fn relu_backward<T: RealField + Copy>(dx: &mut DMatrix<T>, y: &DMatrix<T>) {
    assert_eq!(
        dx.shape(),
        y.shape(),
        "relu_backward: dx and y differ in shape"
    );
    vectorized(|| {
        for (d, &y) in dx.as_mut_slice().iter_mut().zip(y.as_slice()) {
            *d *= if y > T::zero() { T::one() } else { T::zero() };
        }
    });
}
// ANCHOR_END: relu

// ANCHOR: softmax_cross_entropy
/// Stage 3's `SoftmaxWithLoss` forward in one pass over the rows of
/// `scores: N × k`: the probabilities `y = softmax(a)` into the kept buffer
/// `y`, and the mean cross-entropy `−(1/N) Σ t ⊙ ln y` from the scores by
/// log-sum-exp, `ln y_i = a_i − m − ln(1 + Σ_{j ≠ top} exp(a_j − m))`.
pub fn softmax_cross_entropy<T: RealField + Copy>(
    scores: &DMatrix<T>,
    t: &DMatrix<T>,
    y: &mut DMatrix<T>,
) -> T {
    assert_eq!(
        scores.shape(),
        t.shape(),
        "scores and targets differ in shape"
    );
    let (n, k) = scores.shape();
    resize_buffer(y, n, k);
    let mut total = T::zero();
    for row in 0..n {
        let a = |i| scores[(row, i)];
        let top = (1..k).fold(0, |top, i| if a(i) > a(top) { i } else { top });
        let max = a(top);
        let mut others = T::zero();
        for i in 0..k {
            let e = (a(i) - max).exp();
            y[(row, i)] = e;
            if i != top {
                others += e;
            }
        }
        let (log_sum, sum) = (others.ln_1p(), T::one() + others);
        for i in 0..k {
            y[(row, i)] /= sum;
            total -= t[(row, i)] * (a(i) - max - log_sum);
        }
    }
    total / nalgebra::convert(n as f64)
}
// ANCHOR_END: softmax_cross_entropy

// ANCHOR: scores_gradient
/// The gradient of the mean cross-entropy with respect to the scores, from
/// softmax's probabilities `y` and the one-hot targets `t` (both `N × k`):
/// `∂L/∂a = (y − t)/N`, into the kept buffer `d`.
pub fn scores_gradient<T: RealField + Copy>(y: &DMatrix<T>, t: &DMatrix<T>, d: &mut DMatrix<T>) {
    let (batch, k) = y.shape();
    resize_buffer(d, batch, k);
    let n: T = nalgebra::convert(batch as f64);
    let pairs = y.iter().zip(t.iter());
    vectorized(|| {
        for (d, (&y, &t)) in d.iter_mut().zip(pairs) {
            *d = (y - t) / n;
        }
    });
}
// ANCHOR_END: scores_gradient
