//! Exercise `softmax_with_loss_backward` (stage 3, chapter "Stage 3:
//! backpropagation"). Check it with
//! `cargo xtask exercise softmax_with_loss_backward`.

use ch5_backprop::Loss;
use nalgebra::DMatrix;

/// Softmax and mean cross-entropy in one layer: `y = softmax(a)`,
/// `E = −(1/N) Σ_n Σ_i t[n, i] ln y[n, i]`, with scores `a: N × k` and
/// one-hot targets `t: N × k`. Forward is written and keeps `y` and `t`.
pub struct SoftmaxWithLoss {
    /// The probabilities of the last forward, `N × k`.
    pub y: DMatrix<f64>,
    /// The targets of the last forward, `N × k`.
    pub t: DMatrix<f64>,
}

impl SoftmaxWithLoss {
    pub fn new() -> SoftmaxWithLoss {
        SoftmaxWithLoss {
            y: DMatrix::zeros(0, 0),
            t: DMatrix::zeros(0, 0),
        }
    }
}

impl Default for SoftmaxWithLoss {
    fn default() -> SoftmaxWithLoss {
        SoftmaxWithLoss::new()
    }
}

impl Loss<f64> for SoftmaxWithLoss {
    fn forward(&mut self, a: &DMatrix<f64>, t: &DMatrix<f64>) -> f64 {
        self.y = ch5_backprop::softmax(a);
        self.t = t.clone();
        ch5_backprop::cross_entropy(a, t)
    }

    /// `∂E/∂a` (`N × k`) for the last forward. The chapter derives it:
    /// fusing softmax and cross-entropy makes it a one-liner. Remember that
    /// `E` is a mean over the `N` rows.
    fn backward(&mut self) -> DMatrix<f64> {
        todo!("SoftmaxWithLoss::backward: your code here")
    }

    fn name(&self) -> String {
        "SoftmaxWithLoss".into()
    }
}
