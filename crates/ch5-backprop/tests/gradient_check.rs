//! Gradient checks, the heart of chapter 5: every layer's backward and every
//! network's gradient agree with central differences in f64 (relative error
//! below 1e-6), on random shapes and values.

use ch5_backprop::gradient_check::{check_layer, check_network};
use ch5_backprop::{
    Activation, Affine, Layer, Loss, MeanSquaredError, Network, Relu, Sigmoid, SoftmaxWithLoss,
    Tanh,
};
use nalgebra::DMatrix;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const TOLERANCE: f64 = 1e-6;

/// A `rows × cols` matrix of numbers uniform in `[−2, 2)`.
fn random(rows: usize, cols: usize, rng: &mut StdRng) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-2.0..2.0))
}

/// Like [`random`] but at least 0.01 away from 0, so that no ReLU input sits
/// on the kink within the finite-difference step.
fn random_off_zero(rows: usize, cols: usize, rng: &mut StdRng) -> DMatrix<f64> {
    random(rows, cols, rng).map(|v| {
        if v.abs() < 0.01 {
            v.signum() * 0.01 + v
        } else {
            v
        }
    })
}

/// Random one-hot targets, `rows × classes`.
fn one_hot(rows: usize, classes: usize, rng: &mut StdRng) -> DMatrix<f64> {
    let mut t = DMatrix::zeros(rows, classes);
    for n in 0..rows {
        t[(n, rng.random_range(0..classes))] = 1.0;
    }
    t
}

fn assert_layer_ok(layer: &mut dyn Layer<f64>, x: &DMatrix<f64>, g: &DMatrix<f64>) {
    let check = check_layer(layer, x, g);
    assert!(
        check.max() < TOLERANCE,
        "{}: x {:?}, relative errors {:?}",
        layer.name(),
        x.shape(),
        check
    );
}

/// `∂E/∂y` of a loss layer against central differences over `y`.
fn loss_error(loss: &mut dyn Loss<f64>, y: &DMatrix<f64>, t: &DMatrix<f64>) -> f64 {
    loss.forward(y, t);
    let analytic = loss.backward().clone();
    let mut nudged = y.clone();
    let numerical =
        ch5_backprop::gradient_check::numerical_gradient(y.nrows(), y.ncols(), |i, d| {
            nudged[i] = y[i] + d;
            let e = loss.forward(&nudged, t);
            nudged[i] = y[i];
            e
        });
    ch5_backprop::gradient_check::relative_error(&analytic, &numerical)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn affine_backward_matches_numerical(batch in 1..10usize, n_in in 1..10usize, n_out in 1..10usize, seed: u64) {
        // Sizes on both sides of 5, where nalgebra switches from its own
        // loops to matrixmultiply (and Affine from gemm_tr to a transposed view).
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layer = Affine::from_parameters(random(n_in, n_out, &mut rng), random(1, n_out, &mut rng));
        assert_layer_ok(&mut layer, &random(batch, n_in, &mut rng), &random(batch, n_out, &mut rng));
    }

    #[test]
    fn activations_backward_matches_numerical(batch in 1..6usize, n in 1..9usize, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random_off_zero(batch, n, &mut rng);
        let g = random(batch, n, &mut rng);
        assert_layer_ok(&mut Sigmoid::new(), &x, &g);
        assert_layer_ok(&mut Relu::new(), &x, &g);
        assert_layer_ok(&mut Tanh::new(), &x, &g);
    }

    #[test]
    fn losses_backward_match_numerical(batch in 1..6usize, k in 1..8usize, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let y = random(batch, k, &mut rng);
        let e = loss_error(&mut SoftmaxWithLoss::new(), &(y.clone() * 3.0), &one_hot(batch, k, &mut rng));
        prop_assert!(e < TOLERANCE, "SoftmaxWithLoss: {e:e}");
        let e = loss_error(&mut MeanSquaredError::new(), &y, &random(batch, k, &mut rng));
        prop_assert!(e < TOLERANCE, "MeanSquaredError: {e:e}");
    }

    #[test]
    fn small_networks_gradients_match_numerical(batch in 1..9usize, n_in in 1..9usize, hidden in 1..9usize, k in 2..9usize, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random(batch, n_in, &mut rng);
        let t = one_hot(batch, k, &mut rng);
        for activation in [Activation::Sigmoid, Activation::Tanh, Activation::Relu] {
            // Weights in [−1, 1): large enough that the gradients are not
            // tiny, small enough that the softmax rarely saturates (where
            // the loss falls like exp(−c·θ), the central difference's own
            // error grows like (c·h)²/6).
            let first = Affine::from_parameters(random(n_in, hidden, &mut rng) * 0.5, random(1, hidden, &mut rng) * 0.5);
            // A ReLU input within the steps (±2h) of its kink would make the
            // numerical gradient wrong, not the analytic one: skip such draws.
            let pre_activation = &x * &first.w + DMatrix::from_fn(batch, hidden, |_, j| first.b[j]);
            prop_assume!(activation != Activation::Relu || pre_activation.iter().all(|v| v.abs() > 1e-2));
            let second = Affine::from_parameters(random(hidden, k, &mut rng) * 0.5, random(1, k, &mut rng) * 0.5);
            let mut net = Network::<f64>::new(
                vec![Box::new(first), activation.layer(), Box::new(second)],
                Box::new(SoftmaxWithLoss::new()),
            );
            let errors = check_network(&mut net, &x, &t);
            prop_assert!(errors.iter().all(|&e| e < TOLERANCE), "{activation:?}: {errors:?}");
        }
        let mut mlp = Network::<f64>::tanh_mlp(&[n_in, hidden, hidden, k], seed);
        let errors = check_network(&mut mlp, &x, &random(batch, k, &mut rng));
        prop_assert!(errors.iter().all(|&e| e < TOLERANCE), "tanh MLP: {errors:?}");
    }
}

#[test]
fn larger_layers_through_matrixmultiply() {
    let mut rng = StdRng::seed_from_u64(11);
    for (batch, n_in, n_out) in [(20, 30, 12), (1, 40, 9), (64, 17, 33)] {
        let mut layer =
            Affine::from_parameters(random(n_in, n_out, &mut rng), random(1, n_out, &mut rng));
        assert_layer_ok(
            &mut layer,
            &random(batch, n_in, &mut rng),
            &random(batch, n_out, &mut rng),
        );
    }
}

#[test]
fn one_sample_and_a_batch_give_consistent_gradients() {
    // The gradient of a batch (mean loss) is the mean of the per-sample gradients.
    let mut rng = StdRng::seed_from_u64(7);
    let x = random(4, 5, &mut rng);
    let t = one_hot(4, 3, &mut rng);
    let mut net = Network::<f64>::two_layer(5, 4, 3, Activation::Tanh, 0.5, 7);
    let batch = ch5_backprop::gradient_check::parameter_gradients(&mut net, &x, &t);
    let mut mean: Vec<DMatrix<f64>> = batch.iter().map(|g| g * 0.0).collect();
    for n in 0..4 {
        let one = ch5_backprop::gradient_check::parameter_gradients(
            &mut net,
            &x.rows(n, 1).into_owned(),
            &t.rows(n, 1).into_owned(),
        );
        for (m, g) in mean.iter_mut().zip(&one) {
            *m += g / 4.0;
        }
    }
    for (b, m) in batch.iter().zip(&mean) {
        assert!((b - m).amax() < 1e-14, "batch {b} vs mean of samples {m}");
    }
}

/// A sigmoid whose backward forgets the `(1 − y)` factor: `dX = dY ⊙ y`.
struct WrongSigmoid {
    inner: Sigmoid<f64>,
    y: DMatrix<f64>,
}

impl Layer<f64> for WrongSigmoid {
    fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
        self.y = self.inner.forward(x);
        self.y.clone()
    }
    fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
        dy.component_mul(&self.y)
    }
    fn name(&self) -> String {
        "WrongSigmoid".into()
    }
}

#[test]
fn the_check_catches_a_wrong_backward() {
    let mut rng = StdRng::seed_from_u64(5);
    let x = random(3, 4, &mut rng);
    let mut wrong = WrongSigmoid {
        inner: Sigmoid::new(),
        y: DMatrix::zeros(0, 0),
    };
    let check = check_layer(&mut wrong, &x, &random(3, 4, &mut rng));
    assert!(check.dx > 0.1, "{check:?}");
    // And inside a network, through the parameters below it.
    let first = Affine::from_parameters(random(4, 5, &mut rng), random(1, 5, &mut rng));
    let second = Affine::from_parameters(random(5, 3, &mut rng), random(1, 3, &mut rng));
    let mut net = Network::new(
        vec![Box::new(first), Box::new(wrong), Box::new(second)],
        Box::new(SoftmaxWithLoss::new()),
    );
    let errors = check_network(&mut net, &x, &one_hot(3, 3, &mut rng));
    assert!(errors[0] > 0.01 && errors[1] > 0.01, "{errors:?}");
    assert!(errors[2] < TOLERANCE && errors[3] < TOLERANCE, "{errors:?}");
}
