//! # Initial weights: how far apart to start
//!
//! Stage 4 of the course (chapter 6, "weight initialisation"). Weights start
//! random, so that units differ, and small, so that activations neither die
//! nor explode as they pass through the layers. How small depends on the
//! layer's size: each output sums `fan_in` products, so the spread of the
//! weights should shrink as `1/√fan_in`.
//!
//! Biases start at 0 in every scheme.

use nalgebra::{DMatrix, RealField};
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

// ANCHOR: init
/// How to draw the initial weights `W: fan_in × fan_out` of a layer with
/// `fan_in` inputs and `fan_out` outputs: `W ~ N(0, σ²)`, or uniform with
/// the same `σ²`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// `σ = 0.01` whatever the size: the book's chapters 4 and 5. Fine for
    /// two layers; in deeper networks the signal shrinks layer by layer.
    Std,
    /// Xavier/Glorot: `σ² = 2 / (fan_in + fan_out)`, which keeps the variance
    /// of activations and of gradients about constant through a linear (or
    /// tanh, sigmoid) layer.
    Xavier,
    /// Xavier/Glorot's variance from a uniform draw: `W ~ U(−a, a)` with
    /// `a = √(6 / (fan_in + fan_out))`, since `U(−a, a)` has variance `a²/3`.
    /// Keras's default (`glorot_uniform`).
    XavierUniform,
    /// He: `σ² = 2 / fan_in`. ReLU zeroes half its inputs, halving the
    /// variance; twice Xavier's `1/fan_in` makes up for it.
    He,
}

impl Init {
    pub const ALL: [Init; 4] = [Init::Std, Init::Xavier, Init::XavierUniform, Init::He];

    /// The name on the command line and in files: `std`, `xavier`, `xavier-uniform`, `he`.
    pub fn name(self) -> &'static str {
        match self {
            Init::Std => "std",
            Init::Xavier => "xavier",
            Init::XavierUniform => "xavier-uniform",
            Init::He => "he",
        }
    }

    /// The standard deviation `σ` of a layer's weights.
    pub fn std(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::Std => 0.01,
            Init::Xavier | Init::XavierUniform => (2.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::He => (2.0 / fan_in as f64).sqrt(),
        }
    }

    /// Fresh weights `W: fan_in × fan_out` with standard deviation
    /// [`Init::std`], drawn from `rng` in f64 and converted, so that an f32
    /// and an f64 network from the same seed start alike.
    pub fn weights<T: RealField + Copy>(
        self,
        fan_in: usize,
        fan_out: usize,
        rng: &mut impl Rng,
    ) -> DMatrix<T> {
        let std = self.std(fan_in, fan_out);
        match self {
            Init::XavierUniform => {
                let a = 3f64.sqrt() * std;
                let uniform = Uniform::new_inclusive(-a, a).expect("a finite, non-negative bound");
                draw(fan_in, fan_out, uniform, rng)
            }
            Init::Std | Init::Xavier | Init::He => {
                let normal = Normal::new(0.0, std).expect("a finite, non-negative std");
                draw(fan_in, fan_out, normal, rng)
            }
        }
    }
}
// ANCHOR_END: init

/// A `rows × cols` matrix of draws from `distribution`, converted to `T`.
fn draw<T: RealField + Copy>(
    rows: usize,
    cols: usize,
    distribution: impl Distribution<f64>,
    rng: &mut impl Rng,
) -> DMatrix<T> {
    DMatrix::from_fn(rows, cols, |_, _| {
        nalgebra::convert(distribution.sample(rng))
    })
}

impl std::fmt::Display for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Init::Std => "std 0.01",
            Init::Xavier => "Xavier",
            Init::XavierUniform => "Xavier (uniform)",
            Init::He => "He",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Mean and variance of the weights of a 784 → 100 layer drawn with `init`.
    fn statistics(init: Init) -> (f64, f64) {
        let mut rng = StdRng::seed_from_u64(7);
        let w: DMatrix<f64> = init.weights(784, 100, &mut rng);
        assert_eq!(w.shape(), (784, 100));
        let n = w.len() as f64;
        let mean = w.sum() / n;
        let variance = w.iter().map(|w| (w - mean) * (w - mean)).sum::<f64>() / (n - 1.0);
        (mean, variance)
    }

    #[test]
    fn each_scheme_draws_weights_with_its_variance() {
        // 78,400 draws: the sample variance is within about 0.5% of the true
        // one (its relative spread is √(2/n)), the mean within about 0.004σ.
        for (init, variance) in [
            (Init::Std, 1e-4),
            (Init::Xavier, 2.0 / 884.0),
            (Init::XavierUniform, 2.0 / 884.0),
            (Init::He, 2.0 / 784.0),
        ] {
            let (m, v) = statistics(init);
            assert!(
                (v / variance - 1.0).abs() < 0.02,
                "{init}: variance {v}, expected {variance}"
            );
            assert!(m.abs() < 0.02 * variance.sqrt(), "{init}: mean {m}");
        }
    }

    #[test]
    fn xavier_uniform_stays_inside_its_bounds_and_fills_them() {
        let mut rng = StdRng::seed_from_u64(8);
        let w: DMatrix<f64> = Init::XavierUniform.weights(784, 100, &mut rng);
        let a = (6.0 / 884.0f64).sqrt();
        assert!(w.iter().all(|v| v.abs() <= a), "a draw outside ±{a}");
        // A normal draw with the same σ = a/√3 would put 8% of the numbers beyond ±a.
        assert!(w.max() > 0.99 * a && w.min() < -0.99 * a);
    }

    #[test]
    fn he_is_wider_than_xavier_and_xavier_than_std() {
        assert!(Init::He.std(784, 100) > Init::Xavier.std(784, 100));
        assert!(Init::Xavier.std(784, 100) > Init::Std.std(784, 100));
        assert_eq!(Init::Xavier.std(2, 2), 0.5_f64.sqrt());
        assert_eq!(Init::He.std(8, 1), 0.5);
    }
}
