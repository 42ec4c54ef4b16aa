//! # Gradient checks: is backward right?
//!
//! Stage 3 of the course (chapter 5, "gradient check"). Backpropagation is
//! fast but easy to get subtly wrong; the numerical gradient of stage 2 is
//! slow but hard to get wrong. So every analytic gradient of this crate is
//! compared with a numerical one, in f64.
//!
//! Stage 2's central difference `(E(p + h) − E(p − h)) / 2h` is off by about
//! `h²/6 · E'''`. That is small, but these checks run on thousands of random
//! little networks, some with a saturated softmax where `E` falls like
//! `exp(−c·p)` and that error grows like `(c·h)²/6`. So the checks here use
//! the next central difference up (Richardson's extrapolation of two steps),
//! whose error is of order `h⁴`:
//! `∂E/∂p ≈ [8(E(p + h) − E(p − h)) − (E(p + 2h) − E(p − 2h))] / 12h`.
//! The comparison with stage 2's own numerical gradient is in the tests.
//!
//! [`check_layer`] checks one layer on its own, with the loss
//! `E = Σ G ⊙ Y` for a fixed random `G`, so that `∂E/∂Y = G`: any upstream
//! gradient can be tested. [`check_network`] checks a whole network's
//! parameter gradients against its own loss.

use nalgebra::DMatrix;

use crate::layer::Layer;
use crate::network::Network;

/// The step of the differences. In f64 the truncation error (≈ h⁴/30 · E⁽⁵⁾)
/// and the rounding error (≈ 1e-16 · |E| / h) are then both about 1e-13,
/// far below the gradients checked here.
pub const H: f64 = 1e-3;

// ANCHOR: relative_error
/// How far analytic gradients are from numerical ones, relative to their
/// size: for each pair `(a, n)`, `max_i |a_i − n_i| / s`, where `s` is the
/// largest entry of all the gradients given (`|a_i|` or `|n_i|`).
///
/// Why one scale `s` for all, not each entry's own size: an entry that
/// should be 0 (a pixel that is 0 in every image, a ReLU that is off) or
/// that is tiny (behind a weight near 0) would otherwise turn the rounding
/// noise of the numerical gradient, about 1e-13 here, into a large
/// relative error. A wrong backward still shows: its error is as large as
/// the gradient it gets wrong.
pub fn relative_errors(pairs: &[(&DMatrix<f64>, &DMatrix<f64>)]) -> Vec<f64> {
    let largest = |m: &DMatrix<f64>| m.iter().fold(0.0_f64, |s, v| s.max(v.abs()));
    let scale = pairs
        .iter()
        .fold(0.0_f64, |s, (a, n)| s.max(largest(a)).max(largest(n)));
    pairs
        .iter()
        .map(|(a, n)| {
            assert_eq!(a.shape(), n.shape(), "gradients must have the same shape");
            let diff = largest(&(*a - *n));
            if diff == 0.0 { 0.0 } else { diff / scale }
        })
        .collect()
}

/// [`relative_errors`] of one gradient: `max_i |a_i − n_i| / max_i max(|a_i|, |n_i|)`.
pub fn relative_error(analytic: &DMatrix<f64>, numerical: &DMatrix<f64>) -> f64 {
    relative_errors(&[(analytic, numerical)])[0]
}
// ANCHOR_END: relative_error

// ANCHOR: numerical_gradient
/// The numerical gradient of a loss with respect to a `rows × cols`
/// parameter, by fourth-order central differences. `loss_nudged(i, d)` must
/// return the loss with entry `i` (column-major) of the parameter moved by
/// `d`, and put the entry back afterwards.
pub fn numerical_gradient(
    rows: usize,
    cols: usize,
    mut loss_nudged: impl FnMut(usize, f64) -> f64,
) -> DMatrix<f64> {
    let mut grad = DMatrix::zeros(rows, cols);
    for i in 0..rows * cols {
        let near = loss_nudged(i, H) - loss_nudged(i, -H);
        let far = loss_nudged(i, 2.0 * H) - loss_nudged(i, -2.0 * H);
        grad[i] = (8.0 * near - far) / (12.0 * H);
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
    let mut analytic = vec![layer.backward(g)];
    layer.for_each_param(&mut |_, grad| analytic.push(grad.clone()));

    // Numerical with respect to the input...
    let mut x_nudged = x.clone();
    let mut numerical = vec![numerical_gradient(x.nrows(), x.ncols(), |i, d| {
        x_nudged[i] = x[i] + d;
        let e = weighted_sum(g, &layer.forward(&x_nudged));
        x_nudged[i] = x[i];
        e
    })];
    // ...and to each parameter, nudged in place.
    for (k, grad) in analytic.iter().skip(1).enumerate() {
        numerical.push(numerical_gradient(grad.nrows(), grad.ncols(), |i, d| {
            let original = nudge_param(layer, k, i, d);
            let e = weighted_sum(g, &layer.forward(x));
            set_param(layer, k, i, original);
            e
        }));
    }
    let pairs: Vec<_> = analytic.iter().zip(&numerical).collect();
    let errors = relative_errors(&pairs);
    LayerCheck {
        dx: errors[0],
        params: errors[1..].to_vec(),
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
    let mut numerical = Vec::new();
    for (k, grad) in analytic.iter().enumerate() {
        numerical.push(numerical_gradient(grad.nrows(), grad.ncols(), |i, d| {
            let (layer, j) = locate(network, k);
            let original = nudge_param(layer, j, i, d);
            let e = network.loss(x, t);
            let (layer, j) = locate(network, k);
            set_param(layer, j, i, original);
            e
        }));
    }
    let pairs: Vec<_> = analytic.iter().zip(&numerical).collect();
    relative_errors(&pairs)
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
