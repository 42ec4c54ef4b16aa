//! # The numbers behind chapter 6's pictures
//!
//! Stage 4 of the course (chapter 6). Two of the book's experiments that
//! need no MNIST, computed with this stage's own parts: what the hidden
//! layers of a deep network output for random inputs, with each kind of
//! initial weights ([`layer_outputs`], the book's figures 6-10 to 6-14),
//! and the paths the optimizers take down a narrow valley
//! ([`optimizer_path`], figure 6-8). The program draws them
//! (`activations`, `optimizer-paths`) through the shared command line's
//! pictures; this module only computes: every number of both figures,
//! down to the histograms' bins and the valley's contour lines.

use ch5_backprop::Activation;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::engine::optim::OptimizerKind;
use crate::init::Init;

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

/// Contour lines of the valley, `f = (k/2)²` for `k = 1..=10`: ellipses
/// √20 times wider than tall, each as 91 points around it.
pub fn valley_contours() -> Vec<Vec<(f64, f64)>> {
    (1..=10)
        .map(|k| {
            let c = (k as f64 / 2.0).powi(2);
            (0..=90)
                .map(|s| {
                    let t = std::f64::consts::TAU * s as f64 / 90.0;
                    ((20.0 * c).sqrt() * t.cos(), c.sqrt() * t.sin())
                })
                .collect()
        })
        .collect()
}

/// The book's activation experiment: 5 layers of 100 units, 1,000 inputs,
/// histograms of 30 bins.
pub const ACTIVATION_LAYERS: usize = 5;
pub const ACTIVATION_UNITS: usize = 100;
pub const ACTIVATION_INPUTS: usize = 1000;
pub const ACTIVATION_BINS: usize = 30;

/// One row of the activation figure: an activation with one kind of
/// initial weights, each layer's spread (standard deviation) and histogram
/// from 0 to `hi` (ReLU's exact zeros, about half its outputs, left out).
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationRow {
    /// `sigmoid, Xavier`.
    pub name: String,
    pub spreads: Vec<f64>,
    pub histograms: Vec<Vec<usize>>,
    pub hi: f64,
    /// Outputs per layer (the histograms' 100%).
    pub outputs: usize,
}

/// The figure's six rows: sigmoid and ReLU, each with std 0.01, Xavier and He.
pub fn activation_rows(seed: u64) -> Vec<ActivationRow> {
    let mut rows = Vec::new();
    for (activation, name, hi) in [
        (Activation::Sigmoid, "sigmoid", 1.0),
        (Activation::Relu, "ReLU", 2.0),
    ] {
        for init in [Init::Std, Init::Xavier, Init::He] {
            let outputs = layer_outputs(
                init,
                activation,
                ACTIVATION_LAYERS,
                ACTIVATION_UNITS,
                ACTIVATION_INPUTS,
                seed,
            );
            let shown = |v: &f64| activation == Activation::Sigmoid || *v > 0.0;
            rows.push(ActivationRow {
                name: format!("{name}, {init}"),
                spreads: outputs.iter().map(|z| z.variance().sqrt()).collect(),
                histograms: outputs
                    .iter()
                    .map(|z| histogram(z.iter().copied().filter(shown), ACTIVATION_BINS, 0.0, hi))
                    .collect(),
                hi,
                outputs: ACTIVATION_INPUTS * ACTIVATION_UNITS,
            });
        }
    }
    rows
}

/// What `activations` prints: the experiment, then each row's spreads.
pub fn activation_table(rows: &[ActivationRow]) -> String {
    let layers = ACTIVATION_LAYERS;
    let mut out = format!(
        "{layers} layers of {ACTIVATION_UNITS} units, {ACTIVATION_INPUTS} inputs x ~ N(0, 1), no biases.\n\
         Spread (standard deviation) of each layer's outputs, layers 1 to {layers}:\n"
    );
    for row in rows {
        let spreads: Vec<String> = row.spreads.iter().map(|s| format!("{s:.3}")).collect();
        out += &format!("  {:<22} {}\n", row.name, spreads.join("  "));
    }
    out
}

/// Figure 6-8's paths: each optimizer of [`PATH_LINEUP`] with its learning
/// rate and the points it visits.
pub fn optimizer_paths() -> Vec<(OptimizerKind, f64, Vec<[f64; 2]>)> {
    PATH_LINEUP
        .iter()
        .map(|&(kind, eta)| (kind, eta, optimizer_path(kind, eta, PATH_START, PATH_STEPS)))
        .collect()
}

/// What `optimizer-paths` prints: where each path ends, and its height there.
pub fn paths_table(paths: &[(OptimizerKind, f64, Vec<[f64; 2]>)]) -> String {
    let [x0, y0] = PATH_START;
    let mut out =
        format!("f(x, y) = x²/20 + y² from ({x0}, {y0}), {PATH_STEPS} steps; where each ends:\n");
    for (kind, eta, path) in paths {
        let end = path[path.len() - 1];
        out += &format!(
            "  {:<22} ({:>7.4}, {:>7.4}), f = {:.5}\n",
            format!("{kind} (η = {eta})"),
            end[0],
            end[1],
            valley(end)
        );
    }
    out
}

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
    fn contours_lie_on_the_valley_and_rows_cover_the_figure() {
        let contours = valley_contours();
        assert_eq!(contours.len(), 10);
        for (k, line) in contours.iter().enumerate() {
            let level = ((k + 1) as f64 / 2.0).powi(2);
            assert!(
                line.iter()
                    .all(|&(x, y)| (valley([x, y]) - level).abs() < 1e-9)
            );
        }
        let rows = activation_rows(1);
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].name, "sigmoid, std 0.01");
        assert!(
            rows.iter()
                .all(|r| r.histograms.len() == 5 && r.spreads.len() == 5)
        );
        // Sigmoid outputs all lie in (0, 1): every one is counted.
        let counted: usize = rows[1].histograms[0].iter().sum();
        assert_eq!(counted, rows[1].outputs);
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
