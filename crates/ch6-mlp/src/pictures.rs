//! # The numbers behind chapter 6's pictures
//!
//! Stage 4 of the course (chapter 6). Two of the book's experiments that
//! need no MNIST, computed with this stage's own parts: what the hidden
//! layers of a deep network output for random inputs, with each kind of
//! initial weights ([`layer_outputs`], the book's figures 6-10 to 6-14),
//! and the paths the optimizers take down a narrow valley
//! ([`optimizer_path`], figure 6-8). The program draws them
//! (`activations`, `optimizer-paths`); this module only computes.

use ch5_backprop::Activation;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::init::Init;
use crate::engine::optim::OptimizerKind;

// ANCHOR: layer_outputs
/// What `layers` hidden layers of `units` units output for `inputs` random
/// inputs `x ~ N(0, 1)` (`inputs × units`): each layer is `z = h(x·W)` with
/// `W: units × units` drawn by `init` (no bias) and `h` the `activation`,
/// and feeds the next. The book's `weight_init_activation_histogram.py`.
/// Returns every layer's `z`, first layer first.
pub fn layer_outputs(
    init: Init,
    activation: Activation,
    layers: usize,
    units: usize,
    inputs: usize,
    seed: u64,
) -> Vec<DMatrix<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = DMatrix::from_fn(inputs, units, |_, _| StandardNormal.sample(&mut rng));
    let mut outputs = Vec::with_capacity(layers);
    for _ in 0..layers {
        let w: DMatrix<f64> = init.weights(units, units, &mut rng);
        x = activation.layer().forward(&(&x * &w));
        outputs.push(x.clone());
    }
    outputs
}
// ANCHOR_END: layer_outputs

/// How many of `values` fall in each of `bins` equal bins from `lo` to
/// `hi` (the last bin includes `hi`); values outside are not counted.
pub fn histogram(
    values: impl IntoIterator<Item = f64>,
    bins: usize,
    lo: f64,
    hi: f64,
) -> Vec<usize> {
    let mut counts = vec![0; bins];
    let width = (hi - lo) / bins as f64;
    for v in values {
        if (lo..=hi).contains(&v) {
            let bin = (((v - lo) / width) as usize).min(bins - 1);
            counts[bin] += 1;
        }
    }
    counts
}

// ANCHOR: optimizer_path
/// The book's valley `f(x, y) = x²/20 + y²`: √20 ≈ 4.5 times longer (along
/// x) than wide, its minimum at (0, 0).
pub fn valley(p: [f64; 2]) -> f64 {
    p[0] * p[0] / 20.0 + p[1] * p[1]
}

/// `∇f = (x/10, 2y)`: steep across the valley, nearly flat along it.
pub fn valley_gradient(p: [f64; 2]) -> [f64; 2] {
    [p[0] / 10.0, 2.0 * p[1]]
}

/// The points an optimizer of `kind` with learning rate `eta` visits in
/// `steps` steps down the valley from `start`, the start first: the same
/// update rule that trains a network, applied to one parameter matrix of two
/// numbers, `(x, y)`.
pub fn optimizer_path(
    kind: OptimizerKind,
    eta: f64,
    start: [f64; 2],
    steps: usize,
) -> Vec<[f64; 2]> {
    let mut optimizer = kind.build::<f64>(eta);
    let mut p = start;
    let mut path = vec![p];
    for _ in 0..steps {
        optimizer.start_step();
        let grad = valley_gradient(p);
        optimizer.update(0, &mut p, &grad);
        path.push(p);
    }
    path
}

/// The book's four optimizers and learning rates for figure 6-8
/// (`optimizer_compare_naive.py`), 30 steps from (−7, 2).
pub const PATH_LINEUP: [(OptimizerKind, f64); 4] = [
    (OptimizerKind::Sgd, 0.95),
    (OptimizerKind::Momentum, 0.1),
    (OptimizerKind::Adagrad, 1.5),
    (OptimizerKind::Adam, 0.3),
];
// ANCHOR_END: optimizer_path

/// Where figure 6-8's paths start, and how many steps they take.
pub const PATH_START: [f64; 2] = [-7.0, 2.0];
pub const PATH_STEPS: usize = 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_each_value_in_its_bin_and_leaves_out_the_rest() {
        let counts = histogram([0.0, 0.05, 0.1, 0.5, 0.99, 1.0, -0.1, 1.5], 10, 0.0, 1.0);
        assert_eq!(counts, vec![2, 1, 0, 0, 0, 1, 0, 0, 0, 2]);
    }

    fn spread(z: &DMatrix<f64>) -> f64 {
        let mean = z.mean();
        (z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / z.len() as f64).sqrt()
    }

    #[test]
    fn small_weights_squash_sigmoid_outputs_to_one_half_and_xavier_keeps_them_spread() {
        let std = layer_outputs(Init::Std, Activation::Sigmoid, 5, 100, 1000, 1);
        let xavier = layer_outputs(Init::Xavier, Activation::Sigmoid, 5, 100, 1000, 1);
        assert_eq!((std.len(), std[4].shape()), (5, (1000, 100)));
        // σ = 0.01: from layer 2 on the inputs are all about 0.5, so x·W has
        // a spread of about 0.5·0.01·√100 = 0.05, and sigmoid, whose slope
        // at 0 is 1/4, maps it to 0.5 ± 0.0125: every unit says the same.
        let s = spread(&std[4]);
        assert!((std[4].mean() - 0.5).abs() < 0.01 && s < 0.02, "{s}");
        // Xavier: the outputs of the fifth layer still vary.
        assert!(spread(&xavier[4]) > 0.1, "{}", spread(&xavier[4]));
    }

    #[test]
    fn relu_outputs_vanish_with_small_weights_and_keep_their_size_with_he() {
        let std = layer_outputs(Init::Std, Activation::Relu, 5, 100, 1000, 1);
        let he = layer_outputs(Init::He, Activation::Relu, 5, 100, 1000, 1);
        assert!(std[4].max() < 1e-3, "{}", std[4].max());
        let (first, last) = (spread(&he[0]), spread(&he[4]));
        assert!(last > 0.5 * first && last < 2.0 * first, "{first} → {last}");
        // About half of a ReLU's outputs are exactly 0.
        let zeros = he[4].iter().filter(|&&v| v == 0.0).count() as f64 / he[4].len() as f64;
        assert!((0.3..0.7).contains(&zeros), "{zeros}");
    }

    #[test]
    fn every_optimizer_of_figure_6_8_gets_near_the_minimum() {
        for (kind, eta) in PATH_LINEUP {
            let path = optimizer_path(kind, eta, PATH_START, PATH_STEPS);
            assert_eq!(path.len(), PATH_STEPS + 1);
            assert_eq!(path[0], PATH_START);
            let end = valley(path[PATH_STEPS]);
            assert!(
                end < 0.05 * valley(PATH_START),
                "{kind}: f = {end} at the end"
            );
        }
    }

    #[test]
    fn sgd_zigzags_across_the_valley() {
        // η = 0.95: y ← y − 0.95·2y = −0.9·y, so y flips sign every step.
        let path = optimizer_path(OptimizerKind::Sgd, 0.95, PATH_START, 10);
        for pair in path.windows(2) {
            assert!(pair[0][1] * pair[1][1] < 0.0, "{pair:?}");
            assert!((pair[1][1] + 0.9 * pair[0][1]).abs() < 1e-12);
        }
    }
}
