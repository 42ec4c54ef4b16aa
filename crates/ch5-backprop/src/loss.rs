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
    fn backward(&mut self) -> &DMatrix<T>;

    /// A short description, e.g. `SoftmaxWithLoss`.
    fn name(&self) -> String;
}
// ANCHOR_END: loss

fn fit<T: RealField + Copy>(buffer: &mut DMatrix<T>, rows: usize, cols: usize) {
    if buffer.shape() != (rows, cols) {
        *buffer = DMatrix::zeros(rows, cols);
    }
}

// ANCHOR: softmax_with_loss
/// Softmax and cross-entropy in one layer.
///
/// Forward, row by row (`a: N × k` scores, `t: N × k` targets whose rows sum
/// to 1, e.g. one-hot):
/// - `y[n, i] = exp(a[n, i]) / Σ_j exp(a[n, j])` (softmax);
/// - `E = −(1/N) Σ_n Σ_i t[n, i] ln y[n, i]` (mean cross-entropy).
///
/// The logarithm is taken of the softmax in closed form,
/// `ln y[n, i] = a[n, i] − m − ln Σ_j exp(a[n, j] − m)` with `m` the row's
/// maximum (log-sum-exp), so it never sees 0 and needs no small δ inside
/// `ln`, unlike the book's `log(y + 1e-7)`; `backward` below is then the
/// exact gradient of the loss computed here.
///
/// Backward: with `s = Σ_j exp a_j`, `∂ ln y_i/∂a_j = [i = j] − y_j`, so
/// `∂E/∂a_j = −(1/N) Σ_i t_i ([i = j] − y_j) = (y_j − t_j)/N`, using `Σ_i t_i = 1`:
/// `dA = (y − t)/N`. Fusing the two layers is what makes it this simple.
pub struct SoftmaxWithLoss<T: RealField + Copy> {
    y: DMatrix<T>,
    t: DMatrix<T>,
    dx: DMatrix<T>,
}

impl<T: RealField + Copy> SoftmaxWithLoss<T> {
    /// A fresh loss layer; the first forward sizes its buffers.
    pub fn new() -> SoftmaxWithLoss<T> {
        SoftmaxWithLoss {
            y: DMatrix::zeros(0, 0),
            t: DMatrix::zeros(0, 0),
            dx: DMatrix::zeros(0, 0),
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

impl<T: RealField + Copy> Loss<T> for SoftmaxWithLoss<T> {
    fn forward(&mut self, a: &DMatrix<T>, t: &DMatrix<T>) -> T {
        assert_eq!(
            a.shape(),
            t.shape(),
            "SoftmaxWithLoss: scores and targets must have the same shape"
        );
        let (n, k) = a.shape();
        fit(&mut self.y, n, k);
        fit(&mut self.t, n, k);
        self.t.copy_from(t);
        let mut total = T::zero();
        for row in 0..n {
            let mut top = 0;
            for i in 1..k {
                if a[(row, i)] > a[(row, top)] {
                    top = i;
                }
            }
            let max = a[(row, top)];
            // Σ_j exp(a_j − max) = 1 + (the others): ln_1p keeps ln of it
            // exact even when the other terms are tiny (a confident, right
            // answer has a loss of 1e-10, not 0).
            let mut others = T::zero();
            for i in 0..k {
                let e = (a[(row, i)] - max).exp();
                self.y[(row, i)] = e;
                if i != top {
                    others += e;
                }
            }
            let log_sum = others.ln_1p();
            let sum = T::one() + others;
            for i in 0..k {
                self.y[(row, i)] /= sum;
                // t · ln y, with ln y = a − max − ln Σ exp(a − max)
                total -= t[(row, i)] * (a[(row, i)] - max - log_sum);
            }
        }
        total / nalgebra::convert(n as f64)
    }

    fn backward(&mut self) -> &DMatrix<T> {
        let (n, k) = self.y.shape();
        fit(&mut self.dx, n, k);
        let batch: T = nalgebra::convert(n as f64);
        let pairs = self.y.as_slice().iter().zip(self.t.as_slice());
        for (dx, (&y, &t)) in self.dx.as_mut_slice().iter_mut().zip(pairs) {
            *dx = (y - t) / batch;
        }
        &self.dx
    }

    fn name(&self) -> String {
        "SoftmaxWithLoss".into()
    }
}
// ANCHOR_END: softmax_with_loss

// ANCHOR: mean_squared_error
/// Mean squared error over every entry: `E = (1/m) Σ (y − y*)²`, with
/// `y, y*: N × k` and `m = N·k` the number of entries.
///
/// Backward: `∂E/∂y = 2(y − y*)/m`, each entry's own square differentiated.
/// This is the layer tutorial's `mse` and `mse_prime`.
pub struct MeanSquaredError<T: RealField + Copy> {
    diff: DMatrix<T>,
    dx: DMatrix<T>,
}

impl<T: RealField + Copy> MeanSquaredError<T> {
    /// A fresh loss layer; the first forward sizes its buffers.
    pub fn new() -> MeanSquaredError<T> {
        MeanSquaredError {
            diff: DMatrix::zeros(0, 0),
            dx: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: RealField + Copy> Default for MeanSquaredError<T> {
    fn default() -> MeanSquaredError<T> {
        MeanSquaredError::new()
    }
}

impl<T: RealField + Copy> Loss<T> for MeanSquaredError<T> {
    fn forward(&mut self, y: &DMatrix<T>, target: &DMatrix<T>) -> T {
        assert_eq!(
            y.shape(),
            target.shape(),
            "MeanSquaredError: output and target must have the same shape"
        );
        fit(&mut self.diff, y.nrows(), y.ncols());
        let mut total = T::zero();
        let pairs = y.as_slice().iter().zip(target.as_slice());
        for (d, (&y, &target)) in self.diff.as_mut_slice().iter_mut().zip(pairs) {
            *d = y - target;
            total += *d * *d;
        }
        total / nalgebra::convert(y.len() as f64)
    }

    fn backward(&mut self) -> &DMatrix<T> {
        fit(&mut self.dx, self.diff.nrows(), self.diff.ncols());
        let scale: T = nalgebra::convert(2.0 / self.diff.len() as f64);
        for (dx, &d) in self.dx.as_mut_slice().iter_mut().zip(self.diff.as_slice()) {
            *dx = scale * d;
        }
        &self.dx
    }

    fn name(&self) -> String {
        "MeanSquaredError".into()
    }
}
// ANCHOR_END: mean_squared_error

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
    fn mean_squared_error_by_hand() {
        let mut loss = MeanSquaredError::new();
        let y = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        let t = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 3.0, 5.0]);
        // ((0)² + 2² + 0² + (−1)²) / 4
        assert_eq!(loss.forward(&y, &t), 1.25);
        // 2(y − t)/4
        assert_eq!(
            loss.backward(),
            &DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 0.0, -0.5])
        );
    }
}
