//! # Dropout: training a different thinned network at every step
//!
//! Stage 5 of the course (chapter 6, "Dropout"). In training every unit of
//! the layer's input is dropped (set to 0) with probability `ratio`, a fresh
//! random choice for every sample of every batch, so no unit can rely on
//! any particular other one being there. At inference every unit is kept.
//!
//! **Convention: inverted dropout.** The units kept in training are scaled by
//! `1/(1 − ratio)`, so each output has the same expected value in training
//! as at inference, and inference is the plain network, untouched. The book
//! (Saitoh, `Dropout` in `common/layers.py`) scales the other way: it keeps
//! training unscaled and multiplies by `1 − ratio` at inference. Both give the
//! same expected activations and train the same networks up to that factor;
//! inverted dropout is what PyTorch and Keras do, and here it means
//! evaluation and a saved model need to know nothing about dropout.
//!
//! The mask comes from the layer's own seeded random stream, so the same
//! `--seed` drops the same units.

use ch5_backprop::Layer;
use nalgebra::{DMatrix, RealField};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

// ANCHOR: dropout
/// Inverted dropout of `x: N × D`. Training: `y = x ⊙ m` with
/// `m = [u ≥ ratio] / (1 − ratio)` entry by entry, `u ~ U[0, 1)` fresh each
/// forward; backward `dX = dY ⊙ m`, the gradient passes where the unit did.
/// Inference: `y = x`.
pub struct Dropout<T: RealField + Copy> {
    /// The probability of dropping a unit, in `[0, 1)`.
    pub ratio: f64,
    rng: StdRng,
    /// The mask of the last training forward: `0` or `1/(1 − ratio)`.
    mask: DMatrix<T>,
}

impl<T: RealField + Copy> Dropout<T> {
    /// A layer dropping with probability `ratio`, its masks drawn from `seed`.
    pub fn new(ratio: f64, seed: u64) -> Dropout<T> {
        assert!(
            (0.0..1.0).contains(&ratio),
            "dropout ratio must lie in [0, 1)"
        );
        Dropout {
            ratio,
            rng: StdRng::seed_from_u64(seed),
            mask: DMatrix::zeros(0, 0),
        }
    }

    /// Training (a fresh mask) or inference (the identity) forward.
    pub fn forward(&mut self, x: &DMatrix<T>, training: bool) -> DMatrix<T> {
        if !training {
            return x.clone();
        }
        let keep: T = nalgebra::convert(1.0 / (1.0 - self.ratio));
        let (rng, ratio) = (&mut self.rng, self.ratio);
        self.mask = DMatrix::from_fn(x.nrows(), x.ncols(), |_, _| {
            if rng.random::<f64>() >= ratio {
                keep
            } else {
                T::zero()
            }
        });
        x.component_mul(&self.mask)
    }

    /// `dX = dY ⊙ m`, the mask of the last training forward.
    pub fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        assert_eq!(
            dy.shape(),
            self.mask.shape(),
            "Dropout: dy must match the last training forward"
        );
        dy.component_mul(&self.mask)
    }
}
// ANCHOR_END: dropout

/// Stage 3's interface: `forward` here is the training forward (a fresh mask).
impl<T: RealField + Copy> Layer<T> for Dropout<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        Dropout::forward(self, x, true)
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        Dropout::backward(self, dy)
    }

    fn name(&self) -> String {
        format!("Dropout {}", self.ratio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::gradient_check::{numerical_gradient, relative_error};
    use rand_distr::{Distribution, Normal};

    fn random(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 1.0).unwrap();
        DMatrix::from_fn(rows, cols, |_, _| normal.sample(&mut rng))
    }

    #[test]
    fn the_gradient_through_the_mask_matches_the_numerical_one_in_f64() {
        for (n, d, ratio) in [(3, 4, 0.5), (8, 5, 0.2), (1, 6, 0.0)] {
            let (x, g) = (random(n, d, 1), random(n, d, 2));
            // E = Σ G ⊙ dropout(x), each evaluation with the same mask (a fresh
            // layer from the same seed), so E is a function of x alone.
            let loss = |x: &DMatrix<f64>| Dropout::new(ratio, 9).forward(x, true).dot(&g);
            let mut layer = Dropout::new(ratio, 9);
            layer.forward(&x, true);
            let dx = layer.backward(&g);
            let numerical = numerical_gradient(n, d, |i, h| {
                let mut nudged = x.clone();
                nudged[i] += h;
                loss(&nudged)
            });
            let error = relative_error(&dx, &numerical);
            assert!(error < 1e-9, "{n}×{d}, ratio {ratio}: {error}");
        }
    }

    #[test]
    fn training_drops_about_ratio_and_keeps_the_expected_value() {
        let mut layer = Dropout::<f64>::new(0.3, 4);
        let x = DMatrix::from_element(200, 100, 1.0);
        let y = layer.forward(&x, true);
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        // 20,000 draws: the fraction is within 0.01 of 0.3 (its spread is 0.0032).
        assert!((dropped - 0.3).abs() < 0.01, "dropped {dropped}");
        assert!((y.mean() - 1.0).abs() < 0.02, "mean {}", y.mean());
        // the kept units are scaled by 1/(1 − 0.3)
        assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-12));
        // inference passes everything, unscaled
        assert_eq!(layer.forward(&x, false), x);
    }

    #[test]
    fn the_same_seed_drops_the_same_units_and_a_new_step_new_ones() {
        let x = random(10, 10, 3);
        let (mut a, mut b) = (Dropout::<f64>::new(0.5, 7), Dropout::<f64>::new(0.5, 7));
        let first = a.forward(&x, true);
        assert_eq!(first, b.forward(&x, true));
        assert_ne!(
            first,
            a.forward(&x, true),
            "each forward draws a fresh mask"
        );
    }
}
