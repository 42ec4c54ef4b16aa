//! Stage 2 on real digits: the naive and fast numerical gradients of the
//! two-layer network agree on a small batch of MNIST training images, and a
//! few steps of descent on that batch lower its loss. Uses the repository's
//! `data/mnist/` (no network).

use ch4_two_layer::{GradientMethod, TwoLayerNet};
use nalgebra::DMatrix;

/// The first `n` training images (`n × 784`, pixels in [0, 1]) and their labels.
fn first_images(n: usize) -> (DMatrix<f64>, Vec<u8>) {
    let data = mnist::Mnist::load_from(None).expect("the repository's data/mnist");
    let batch: Vec<usize> = (0..n).collect();
    (
        data.train.batch_images::<f64>(&batch),
        data.train.batch_labels(&batch),
    )
}

#[test]
fn naive_and_fast_agree_to_1e_9_on_ten_mnist_digits() {
    let (x, labels) = first_images(10);
    // Eight hidden units keep the naive gradient quick (12,740 forward passes);
    // larger weights than the N(0, 0.01²) start give a gradient of real size.
    let mut net = TwoLayerNet::new(784, 8, 10, 42);
    net.w1 *= 30.0;
    net.w2 *= 100.0;
    let naive = net.numerical_gradient_naive(&x, &labels);
    let fast = net.numerical_gradient_fast(&x, &labels);
    let diff = naive.max_difference(&fast);
    assert!(diff < 1e-9, "max difference {diff:e}");
    assert!(naive.grad_w1.abs().max() > 1e-3 && naive.grad_w2.abs().max() > 1e-2);
    // The corner pixel is background in every digit: its weights get exactly 0.
    assert!(x.column(0).iter().all(|&p| p == 0.0));
    assert!(fast.grad_w1.row(0).iter().all(|&g| g == 0.0));
}

#[test]
fn descent_on_a_batch_of_digits_lowers_its_loss() {
    let (x, labels) = first_images(50);
    let mut net = TwoLayerNet::new(784, 20, 10, 42);
    let before = net.loss(&x, &labels);
    for _ in 0..30 {
        let grads = net.gradient(GradientMethod::Fast, &x, &labels);
        net.update(&grads, 1.0);
    }
    let after = net.loss(&x, &labels);
    assert!(after < 0.8 * before, "loss {before} → {after}");
    assert!(net.accuracy(&x, &labels) > 0.5);
}
