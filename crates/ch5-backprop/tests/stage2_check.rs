//! The chapter's promise: backpropagation through the layers gives the
//! gradient of the stage 2 network (784-50-10, sigmoid, softmax with
//! cross-entropy) that stage 2 (`ch4-two-layer`) finds numerically.
//!
//! One detail decides the last digit. Stage 2's loss is the book's
//! `−ln(y_t + δ)` with `δ = 1e-7` inside the logarithm; this crate's
//! `SoftmaxWithLoss` computes `−ln y_t` exactly (from the scores, so it needs
//! no δ) and its backward `(y − t)/N` is that loss's exact gradient. The two
//! losses' gradients differ by the factor `y_t / (y_t + δ)`, that is by
//! `δ / y_t ≈ 1e-6` relative when the untrained network gives every class
//! about 0.1. So the check runs the stage 2 network's layers with the
//! book's loss and that loss's exact backward ([`BookSoftmaxWithLoss`]), and
//! a second test measures the δ effect on `SoftmaxWithLoss` itself.

use ch4_two_layer::TwoLayerNet;
use ch5_backprop::by_hand::two_layer_gradient;
use ch5_backprop::gradient_check::{parameter_gradients, relative_error};
use ch5_backprop::{Activation, Affine, Layer, Loss, Network, Sigmoid, SoftmaxWithLoss};
use nalgebra::{DMatrix, RowDVector};

/// The δ of the book's cross-entropy, as stage 1 and 2 use it.
const DELTA: f64 = ch4_numerical::DELTA;

/// The book's loss layer: softmax, then `E = −(1/N) Σ_n ln(y[n, t_n] + δ)`.
///
/// Backward, exactly: `∂ ln(y_t + δ)/∂a_j = y_t ([t = j] − y_j) / (y_t + δ)`,
/// so `∂E/∂a_j = r (y_j − t_j) / N` with `r = y_t / (y_t + δ)` per row:
/// the book's `(y − t)/N` with each row scaled by `r`, which is 1 − 1e-6 here.
struct BookSoftmaxWithLoss {
    inner: SoftmaxWithLoss<f64>,
    t: DMatrix<f64>,
}

impl Loss<f64> for BookSoftmaxWithLoss {
    fn forward(&mut self, a: &DMatrix<f64>, t: &DMatrix<f64>) -> f64 {
        self.inner.forward(a, t);
        self.t = t.clone();
        let y = self.inner.probabilities();
        let total: f64 = (0..y.nrows())
            .map(|n| -(y.row(n).dot(&t.row(n)) + DELTA).ln())
            .sum();
        total / y.nrows() as f64
    }

    fn backward(&mut self) -> DMatrix<f64> {
        let y = self.inner.probabilities();
        let batch = y.nrows() as f64;
        let mut dx = y - &self.t;
        for n in 0..y.nrows() {
            let y_t = y.row(n).dot(&self.t.row(n));
            let r = y_t / (y_t + DELTA);
            dx.row_mut(n).apply(|d| *d *= r / batch);
        }
        dx
    }

    fn name(&self) -> String {
        "BookSoftmaxWithLoss".into()
    }
}

fn as_matrix(row: &RowDVector<f64>) -> DMatrix<f64> {
    DMatrix::from_row_slice(1, row.len(), row.as_slice())
}

/// Stage 2's network as layers with the very same parameters, ending in `loss`.
fn as_layers(net: &TwoLayerNet, loss: Box<dyn Loss<f64>>) -> Network<f64> {
    let layers: Vec<Box<dyn Layer<f64>>> = vec![
        Box::new(Affine::from_parameters(net.w1.clone(), as_matrix(&net.b1))),
        Box::new(Sigmoid::new()),
        Box::new(Affine::from_parameters(net.w2.clone(), as_matrix(&net.b2))),
    ];
    Network::new(layers, loss)
}

/// The first `n` training images: `(x: n × 784, labels, t: n × 10)`.
fn first_images(n: usize) -> (DMatrix<f64>, Vec<u8>, DMatrix<f64>) {
    static DATA: std::sync::OnceLock<mnist::Mnist> = std::sync::OnceLock::new();
    let data = DATA.get_or_init(|| mnist::Mnist::load_from(None).expect("data/mnist"));
    let batch: Vec<usize> = (0..n).collect();
    (
        data.train.batch_images(&batch),
        data.train.batch_labels(&batch),
        data.train.batch_one_hot(&batch),
    )
}

/// Stage 2's gradient as `[W1, b1, W2, b2]`.
fn stage2_gradient(g: ch4_two_layer::TwoLayerGradients) -> [DMatrix<f64>; 4] {
    [
        g.grad_w1,
        as_matrix(&g.grad_b1),
        g.grad_w2,
        as_matrix(&g.grad_b2),
    ]
}

fn book_loss() -> Box<dyn Loss<f64>> {
    Box::new(BookSoftmaxWithLoss {
        inner: SoftmaxWithLoss::new(),
        t: DMatrix::zeros(0, 0),
    })
}

#[test]
fn both_stages_start_from_the_same_weights() {
    let stage2 = TwoLayerNet::new(784, 50, 10, 42);
    let mut net = Network::<f64>::two_layer(784, 50, 10, Activation::Sigmoid, 0.01, 42);
    let mut params = Vec::new();
    net.for_each_param(&mut |p, _| params.push(p.clone()));
    assert_eq!(params[0], stage2.w1);
    assert_eq!(params[1], as_matrix(&stage2.b1));
    assert_eq!(params[2], stage2.w2);
    assert_eq!(params[3], as_matrix(&stage2.b2));
}

// ANCHOR: stage2_check
#[test]
fn backprop_equals_stage_2s_numerical_gradient() {
    // Stage 2's fast numerical gradient: the same finite differences as its
    // naive loop over all 39,760 parameters (stage 2's tests hold the two
    // within 1e-9 of each other), in a fraction of a second.
    let (x, labels, t) = first_images(100);
    let stage2 = TwoLayerNet::new(784, 50, 10, 42);
    let numerical = stage2_gradient(stage2.numerical_gradient_fast(&x, &labels));
    let analytic = parameter_gradients(&mut as_layers(&stage2, book_loss()), &x, &t);
    for (name, (a, n)) in ["W1", "b1", "W2", "b2"]
        .iter()
        .zip(analytic.iter().zip(&numerical))
    {
        let error = relative_error(a, n);
        eprintln!("batch 100, fast: {name} max relative error {error:e}");
        assert!(error < 1e-6, "{name}: max relative error {error:e}");
    }
}
// ANCHOR_END: stage2_check

#[test]
fn softmax_with_loss_differs_from_stage_2_only_by_the_books_delta() {
    // This crate's exact loss against stage 2's δ-loss: the relative
    // difference is δ / y_t, about 1e-7 / 0.1 = 1e-6, for every parameter.
    let (x, labels, t) = first_images(100);
    let stage2 = TwoLayerNet::new(784, 50, 10, 42);
    let numerical = stage2_gradient(stage2.numerical_gradient_fast(&x, &labels));
    let mut exact = as_layers(&stage2, Box::new(SoftmaxWithLoss::new()));
    let analytic = parameter_gradients(&mut exact, &x, &t);
    // The spread of δ / (y_t + δ) over the batch bounds the difference.
    let y = stage2.predict(&x);
    let factors: Vec<f64> = labels
        .iter()
        .enumerate()
        .map(|(n, &l)| DELTA / (y[(n, l as usize)] + DELTA))
        .collect();
    let lowest = factors.iter().cloned().fold(f64::INFINITY, f64::min);
    let highest = factors.iter().cloned().fold(0.0, f64::max);
    for (name, (a, n)) in ["W1", "b1", "W2", "b2"]
        .iter()
        .zip(analytic.iter().zip(&numerical))
    {
        let error = relative_error(a, n);
        eprintln!(
            "SoftmaxWithLoss vs δ-loss: {name} {error:e} (δ/y_t from {lowest:e} to {highest:e})"
        );
        assert!(
            error > 0.5 * lowest && error < 1.5 * highest,
            "{name}: {error:e}, δ/y_t from {lowest:e} to {highest:e}"
        );
    }
}

// ANCHOR: by_hand_check
#[test]
fn the_backward_pass_by_hand_is_stage_2s_gradient() {
    // The handful of matrix lines of `by_hand`, against the layers (the same
    // gradient, to rounding) and against stage 2's numerical gradient (the
    // same but for the book's δ, as the test above measures).
    let (x, labels, t) = first_images(100);
    let stage2 = TwoLayerNet::new(784, 50, 10, 42);
    let (b1, b2) = (as_matrix(&stage2.b1), as_matrix(&stage2.b2));
    let g = two_layer_gradient(&x, &t, (&stage2.w1, &b1), (&stage2.w2, &b2));
    let by_hand = [g.w1, g.b1, g.w2, g.b2];
    let mut layers = as_layers(&stage2, Box::new(SoftmaxWithLoss::new()));
    let backprop = parameter_gradients(&mut layers, &x, &t);
    let numerical = stage2_gradient(stage2.numerical_gradient_fast(&x, &labels));
    for (k, name) in ["W1", "b1", "W2", "b2"].iter().enumerate() {
        let vs_layers = relative_error(&by_hand[k], &backprop[k]);
        let vs_stage2 = relative_error(&by_hand[k], &numerical[k]);
        eprintln!("by hand: {name} {vs_layers:e} from the layers, {vs_stage2:e} from stage 2");
        assert!(vs_layers < 1e-12, "{name}: {vs_layers:e} from the layers");
        assert!(vs_stage2 < 1e-5, "{name}: {vs_stage2:e} from stage 2");
    }
}
// ANCHOR_END: by_hand_check
