//! # Initial weights: how far apart to start
//!
//! Stage 4 of the course (chapter 6, "weight initialisation"). Weights start
//! random, so that units differ, and small, so that activations neither die
//! nor explode as they pass through the layers. How small depends on the
//! layer's size: each output sums `fan_in` products, so the spread of the
//! weights should shrink as `1/√fan_in`.
//!
//! Biases start at 0 in every scheme.

use clap::ValueEnum;

// ANCHOR: init
/// How to draw the initial weights `W ~ N(0, σ²)` of a layer with `fan_in`
/// inputs and `fan_out` outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Init {
    /// `σ = 0.01` whatever the size: the book's chapters 4 and 5. Fine for
    /// two layers; in deeper networks the signal shrinks layer by layer.
    Std,
    /// Xavier/Glorot: `σ² = 2 / (fan_in + fan_out)`, which keeps the variance
    /// of activations and of gradients about constant through a linear (or
    /// tanh, sigmoid) layer.
    Xavier,
    /// He: `σ² = 2 / fan_in`. ReLU zeroes half its inputs, halving the
    /// variance; twice Xavier's `1/fan_in` makes up for it.
    He,
}

impl Init {
    /// The standard deviation `σ` of a layer's weights.
    pub fn std(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::Std => 0.01,
            Init::Xavier => (2.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::He => (2.0 / fan_in as f64).sqrt(),
        }
    }
}
// ANCHOR_END: init

impl std::fmt::Display for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Init::Std => "std 0.01",
            Init::Xavier => "Xavier",
            Init::He => "He",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense::Dense;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Mean and variance of the weights of a 784 → 100 layer drawn with `init`.
    fn statistics(init: Init) -> (f64, f64) {
        let mut rng = StdRng::seed_from_u64(7);
        let layer = Dense::<f64>::normal(784, 100, init.std(784, 100), &mut rng);
        assert!(layer.b.iter().all(|&b| b == 0.0), "biases start at 0");
        let n = layer.w.len() as f64;
        let mean = layer.w.sum() / n;
        let variance = layer.w.iter().map(|w| (w - mean) * (w - mean)).sum::<f64>() / (n - 1.0);
        (mean, variance)
    }

    #[test]
    fn each_scheme_draws_weights_with_its_variance() {
        // 78,400 draws: the sample variance is within about 0.5% of the true
        // one (its relative spread is √(2/n)), the mean within about 0.004σ.
        for (init, variance) in [
            (Init::Std, 1e-4),
            (Init::Xavier, 2.0 / 884.0),
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
    fn he_is_wider_than_xavier_and_xavier_than_std() {
        assert!(Init::He.std(784, 100) > Init::Xavier.std(784, 100));
        assert!(Init::Xavier.std(784, 100) > Init::Std.std(784, 100));
        assert_eq!(Init::Xavier.std(2, 2), 0.5_f64.sqrt());
        assert_eq!(Init::He.std(8, 1), 0.5);
    }
}
