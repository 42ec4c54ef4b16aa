//! # Gradient checks: is backward right?
//!
//! Stage 3 of the course (chapter 5, "gradient check"). Backpropagation is
//! fast but easy to get subtly wrong; the numerical gradient of stage 2 is
//! slow but hard to get wrong. So every analytic gradient of this crate is
//! compared with central differences, in f64:
//! `∂E/∂p_i ≈ (E(p + h·e_i) − E(p − h·e_i)) / 2h`.
//!
//! [`check_layer`] checks one layer on its own, with the loss
//! `E = Σ G ⊙ Y` for a fixed random `G`, so that `∂E/∂Y = G`: any upstream
//! gradient can be tested. [`check_network`] checks a whole network's
//! parameter gradients against its own loss.

use nalgebra::DMatrix;

use crate::layer::Layer;
use crate::network::Network;

/// The step of the central differences, as in stage 1 and 2 (`h = 1e-4`):
/// in f64 the truncation error (≈ h²/6 · E''') and the rounding error
/// (≈ 1e-16 · |E| / h) are then both far below the gradients checked here.
pub const H: f64 = 1e-4;

// ANCHOR: relative_error
/// How far an analytic gradient `a` is from a numerical one `n`, relative to
/// their size: `max_i |a_i − n_i| / max_i max(|a_i|, |n_i|)` (0 when both are 0).
///
/// The denominator is the largest entry of the gradient, not each entry's own
/// size: an entry that should be 0 (a pixel that is 0 in every image, a ReLU
/// that is off) would otherwise turn rounding noise of 1e-12 into a relative
/// error of 1.
pub fn relative_error(analytic: &DMatrix<f64>, numerical: &DMatrix<f64>) -> f64 {
    assert_eq!(
        analytic.shape(),
        numerical.shape(),
        "gradients must have the same shape"
    );
    let scale = analytic
        .iter()
        .chain(numerical.iter())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return 0.0;
    }
    let diff = analytic
        .iter()
        .zip(numerical.iter())
        .fold(0.0_f64, |m, (a, n)| m.max((a - n).abs()));
    diff / scale
}
// ANCHOR_END: relative_error

// ANCHOR: numerical_gradient
/// The numerical gradient of a loss with respect to a `rows × cols`
/// parameter, by central differences. `loss_nudged(i, d)` must return the
/// loss with entry `i` (column-major) of the parameter moved by `d`, and put
/// the entry back afterwards.
pub fn numerical_gradient(
    rows: usize,
    cols: usize,
    mut loss_nudged: impl FnMut(usize, f64) -> f64,
) -> DMatrix<f64> {
    let mut grad = DMatrix::zeros(rows, cols);
    for i in 0..rows * cols {
        grad[i] = (loss_nudged(i, H) - loss_nudged(i, -H)) / (2.0 * H);
    }
    grad
}
// ANCHOR_END: numerical_gradient

/// The result of [`check_layer`]: relative errors of `∂E/∂X` and of each
/// parameter's gradient (in the order of `for_each_param`: `W`, then `b`).
#[derive(Clone, Debug)]
pub struct LayerCheck {
    pub dx: f64,
    pub params: Vec<f64>,
}

impl LayerCheck {
    /// The largest of all the errors.
    pub fn max(&self) -> f64 {
        self.params.iter().fold(self.dx, |m, &e| m.max(e))
    }
}

/// `Σ G ⊙ Y`.
fn weighted_sum(g: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    g.iter().zip(y.iter()).map(|(g, y)| g * y).sum()
}

// ANCHOR: check_layer
/// Checks a layer's backward at input `x: N × n_in` with upstream gradient
/// `g: N × n_out`, using `E = Σ G ⊙ Y` (so `∂E/∂Y = G`).
pub fn check_layer(layer: &mut dyn Layer<f64>, x: &DMatrix<f64>, g: &DMatrix<f64>) -> LayerCheck {
    // Analytic: one forward, one backward.
    layer.forward(x);
    let dx = layer.backward(g).clone();
    let mut grads = Vec::new();
    layer.for_each_param(&mut |_, grad| grads.push(grad.clone()));

    // Numerical with respect to the input.
    let mut x_nudged = x.clone();
    let dx_numerical = numerical_gradient(x.nrows(), x.ncols(), |i, d| {
        x_nudged[i] = x[i] + d;
        let e = weighted_sum(g, layer.forward(&x_nudged));
        x_nudged[i] = x[i];
        e
    });

    // Numerical with respect to each parameter, nudged in place.
    let mut params = Vec::new();
    for (k, analytic) in grads.iter().enumerate() {
        let numerical = numerical_gradient(analytic.nrows(), analytic.ncols(), |i, d| {
            let original = nudge_param(layer, k, i, d);
            let e = weighted_sum(g, layer.forward(x));
            set_param(layer, k, i, original);
            e
        });
        params.push(relative_error(analytic, &numerical));
    }
    LayerCheck {
        dx: relative_error(&dx, &dx_numerical),
        params,
    }
}
// ANCHOR_END: check_layer

/// Adds `d` to entry `i` of the layer's `k`-th parameter; returns the old value.
fn nudge_param(layer: &mut dyn Layer<f64>, k: usize, i: usize, d: f64) -> f64 {
    let mut original = f64::NAN;
    let mut index = 0;
    layer.for_each_param(&mut |p, _| {
        if index == k {
            original = p[i];
            p[i] += d;
        }
        index += 1;
    });
    original
}

/// Sets entry `i` of the layer's `k`-th parameter to `value`.
fn set_param(layer: &mut dyn Layer<f64>, k: usize, i: usize, value: f64) {
    let mut index = 0;
    layer.for_each_param(&mut |p, _| {
        if index == k {
            p[i] = value;
        }
        index += 1;
    });
}

// ANCHOR: check_network
/// Checks every parameter gradient of `network` at inputs `x` and targets
/// `t`: the relative error of each, in the order of `for_each_param`
/// (`W1, b1, W2, b2, …`).
pub fn check_network(network: &mut Network<f64>, x: &DMatrix<f64>, t: &DMatrix<f64>) -> Vec<f64> {
    let analytic = parameter_gradients(network, x, t);
    let mut errors = Vec::new();
    for (k, analytic) in analytic.iter().enumerate() {
        let numerical = numerical_gradient(analytic.nrows(), analytic.ncols(), |i, d| {
            let (layer, j) = locate(network, k);
            let original = nudge_param(layer, j, i, d);
            let e = network.loss(x, t);
            let (layer, j) = locate(network, k);
            set_param(layer, j, i, original);
            e
        });
        errors.push(relative_error(analytic, &numerical));
    }
    errors
}
// ANCHOR_END: check_network

/// The gradients of all parameters (`W1, b1, W2, b2, …`) by backpropagation, copied out.
pub fn parameter_gradients(
    network: &mut Network<f64>,
    x: &DMatrix<f64>,
    t: &DMatrix<f64>,
) -> Vec<DMatrix<f64>> {
    network.gradient(x, t);
    let mut grads = Vec::new();
    network.for_each_param(&mut |_, grad| grads.push(grad.clone()));
    grads
}

/// The layer holding the network's `k`-th parameter, and its index there.
fn locate(network: &mut Network<f64>, mut k: usize) -> (&mut dyn Layer<f64>, usize) {
    for layer in network.layers.iter_mut() {
        let mut count = 0;
        layer.for_each_param(&mut |_, _| count += 1);
        if k < count {
            return (layer.as_mut(), k);
        }
        k -= count;
    }
    panic!("the network has fewer parameters than asked for");
}
