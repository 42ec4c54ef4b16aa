//! # Loss layers: where backward starts
//!
//! Stage 3 of the course (chapter 5). The last layer of a network compares
//! its output `y` with the target `t` and gives one number, the loss `E`.
//! Backward starts here: a loss layer's backward needs no `dY` from above,
//! because `∂E/∂E = 1`; it returns `∂E/∂y` for the layers below.
//!
//! Generic over the scalar `T` like the layers (f64 for gradient checks, f32
//! for fast training).

use nalgebra::{DMatrix, RealField};

// ANCHOR: loss
/// The end of a network: output and target in, one number out.
pub trait Loss<T: RealField + Copy> {
    /// `y: N × k` (the last layer's output), `t: N × k` (targets) → the loss `E`.
    /// Keeps what `backward` needs.
    fn forward(&mut self, y: &DMatrix<T>, t: &DMatrix<T>) -> T;

    /// `∂E/∂y` (`N × k`) for the last `forward`.
    fn backward(&mut self) -> DMatrix<T>;

    /// A short description, e.g. `SoftmaxWithLoss`.
    fn name(&self) -> String;
}
// ANCHOR_END: loss

/// The batch size `N` as a scalar, to divide by.
fn count<T: RealField + Copy>(n: usize) -> T {
    nalgebra::convert(n as f64)
}

// ANCHOR: softmax
/// Row by row, `y[n, i] = exp(a[n, i] − m) / Σ_j exp(a[n, j] − m)`, with `m`
/// the row's largest score (`a: N × k`). Subtracting `m` changes nothing
/// mathematically and keeps `exp` from overflowing.
pub fn softmax<T: RealField + Copy>(a: &DMatrix<T>) -> DMatrix<T> {
    let mut y = a.clone();
    for mut row in y.row_iter_mut() {
        let m = row.max();
        row.apply(|v| *v = (*v - m).exp());
        let sum = row.sum();
        row /= sum;
    }
    y
}

/// Row by row, `ln Σ_j exp(a[n, j]) = m + ln(1 + Σ_{j ≠ top} exp(a[n, j] − m))`
/// (log-sum-exp, `m = a[n, top]` the largest): an `N × 1` column. `ln_1p`
/// keeps the tiny sum of a confident row exact (its loss is 1e-10, not 0).
pub fn log_sum_exp<T: RealField + Copy>(a: &DMatrix<T>) -> DMatrix<T> {
    DMatrix::from_fn(a.nrows(), 1, |n, _| {
        let row = a.row(n);
        let top = row.transpose().argmax().0;
        let m = row[top];
        let others = (0..row.len())
            .filter(|&j| j != top)
            .fold(T::zero(), |s, j| s + (row[j] - m).exp());
        m + others.ln_1p()
    })
}

/// The mean cross-entropy of `softmax(a)` against targets `t` (both `N × k`):
/// `E = −(1/N) Σ_n Σ_i t[n, i] ln y[n, i]`, with `ln y[n, i] = a[n, i] − ln Σ_j exp(a[n, j])`
/// taken from the scores, so `ln` never sees a 0 and needs no small δ inside
/// (unlike the book's `log(y + 1e-7)`).
pub fn cross_entropy<T: RealField + Copy>(a: &DMatrix<T>, t: &DMatrix<T>) -> T {
    let lse = log_sum_exp(a);
    let ln_y = DMatrix::from_fn(a.nrows(), a.ncols(), |n, i| a[(n, i)] - lse[n]);
    -t.dot(&ln_y) / count(a.nrows())
}
// ANCHOR_END: softmax

// ANCHOR: softmax_with_loss
/// Softmax and cross-entropy in one layer: `y = softmax(a)`, `E = cross_entropy(a, t)`.
///
/// Backward: with `s = Σ_j exp a_j`, `∂ ln y_i/∂a_j = [i = j] − y_j`, so
/// `∂E/∂a_j = −(1/N) Σ_i t_i ([i = j] − y_j) = (y_j − t_j)/N`, using `Σ_i t_i = 1`
/// (rows of `t` sum to 1, e.g. one-hot): `dA = (y − t)/N`. Fusing the two
/// layers is what makes it this simple.
pub struct SoftmaxWithLoss<T: RealField + Copy> {
    y: DMatrix<T>,
    t: DMatrix<T>,
}

impl<T: RealField + Copy> Loss<T> for SoftmaxWithLoss<T> {
    fn forward(&mut self, a: &DMatrix<T>, t: &DMatrix<T>) -> T {
        assert_eq!(a.shape(), t.shape(), "scores and targets differ in shape");
        self.y = softmax(a);
        self.t = t.clone();
        cross_entropy(a, t)
    }

    fn backward(&mut self) -> DMatrix<T> {
        (&self.y - &self.t) / count::<T>(self.y.nrows())
    }

    fn name(&self) -> String {
        "SoftmaxWithLoss".into()
    }
}
// ANCHOR_END: softmax_with_loss

impl<T: RealField + Copy> SoftmaxWithLoss<T> {
    /// A fresh loss layer.
    pub fn new() -> SoftmaxWithLoss<T> {
        SoftmaxWithLoss {
            y: DMatrix::zeros(0, 0),
            t: DMatrix::zeros(0, 0),
        }
    }

    /// The softmax probabilities `y: N × k` of the last forward.
    pub fn probabilities(&self) -> &DMatrix<T> {
        &self.y
    }
}

impl<T: RealField + Copy> Default for SoftmaxWithLoss<T> {
    fn default() -> SoftmaxWithLoss<T> {
        SoftmaxWithLoss::new()
    }
}

// ANCHOR: mean_squared_error
/// Mean squared error over every entry: `E = (1/m) Σ (y − y*)²`, with
/// `y, y*: N × k` and `m = N·k` the number of entries.
///
/// Backward: `∂E/∂y = 2(y − y*)/m`, each entry's own square differentiated.
/// This is the layer tutorial's `mse` and `mse_prime`.
pub struct MeanSquaredError<T: RealField + Copy> {
    diff: DMatrix<T>,
}

impl<T: RealField + Copy> Loss<T> for MeanSquaredError<T> {
    fn forward(&mut self, y: &DMatrix<T>, target: &DMatrix<T>) -> T {
        assert_eq!(
            y.shape(),
            target.shape(),
            "output and target differ in shape"
        );
        self.diff = y - target;
        self.diff.norm_squared() / count(y.len())
    }

    fn backward(&mut self) -> DMatrix<T> {
        &self.diff * (count::<T>(2) / count(self.diff.len()))
    }

    fn name(&self) -> String {
        "MeanSquaredError".into()
    }
}
// ANCHOR_END: mean_squared_error

impl<T: RealField + Copy> MeanSquaredError<T> {
    /// A fresh loss layer.
    pub fn new() -> MeanSquaredError<T> {
        MeanSquaredError {
            diff: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: RealField + Copy> Default for MeanSquaredError<T> {
    fn default() -> MeanSquaredError<T> {
        MeanSquaredError::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_with_loss_by_hand() {
        // Equal scores: y = 1/k everywhere and E = ln k.
        let mut loss = SoftmaxWithLoss::new();
        let a = DMatrix::from_element(2, 4, 3.0);
        let t = DMatrix::from_row_slice(2, 4, &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        assert!((loss.forward(&a, &t) - 4.0f64.ln()).abs() < 1e-15);
        assert!(
            loss.probabilities()
                .iter()
                .all(|&y| (y - 0.25).abs() < 1e-15)
        );
        // (y − t)/N
        let d = loss.backward();
        assert!((d[(0, 0)] - (0.25 - 1.0) / 2.0).abs() < 1e-15);
        assert!((d[(1, 1)] - 0.25 / 2.0).abs() < 1e-15);
    }

    #[test]
    fn softmax_with_loss_survives_huge_scores() {
        // ln of a probability that underflows to 0 stays finite: no δ needed.
        let mut loss = SoftmaxWithLoss::<f64>::new();
        let a = DMatrix::from_row_slice(1, 2, &[1000.0, -1000.0]);
        let t = DMatrix::from_row_slice(1, 2, &[0.0, 1.0]);
        assert_eq!(loss.forward(&a, &t), 2000.0);
        assert_eq!(loss.backward().as_slice(), &[1.0, -1.0]);

        // In f32, which stage 4 trains in, softmax([100, −100]) is already exactly
        // [1, 0]: ln 0 would be −∞. From the logits by log-sum-exp, the loss is the exact 200.
        let mut loss = SoftmaxWithLoss::<f32>::new();
        let logits = DMatrix::from_row_slice(1, 2, &[100.0, -100.0]);
        let wrong = DMatrix::from_row_slice(1, 2, &[0.0, 1.0]);
        assert_eq!(loss.forward(&logits, &wrong), 200.0);
        assert_eq!(loss.backward().as_slice(), &[1.0, -1.0]);
    }

    #[test]
    fn softmax_of_huge_scores_stays_finite() {
        let p = softmax(&DMatrix::from_row_slice(1, 3, &[1000.0, 1000.0, -1000.0]));
        assert_eq!(p.as_slice(), &[0.5, 0.5, 0.0]);
    }

    #[test]
    fn mean_squared_error_by_hand() {
        let mut loss = MeanSquaredError::new();
        let y = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        let t = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 3.0, 5.0]);
        // ((0)² + 2² + 0² + (−1)²) / 4
        assert_eq!(loss.forward(&y, &t), 1.25);
        // 2(y − t)/4
        assert_eq!(
            loss.backward(),
            DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 0.0, -0.5])
        );
    }
}
