//! Criterion bench for stage 3: one gradient of the stage 2 network
//! (784→50→10, sigmoid, softmax with cross-entropy) by backpropagation, on
//! the same fixed batch as stage 2's bench (the first 100 training images,
//! weights from seed 42), in the same group `gradient`, so the table sets
//! backprop beside stage 2's naive and fast numerical gradients.
//!
//! `ch5-backprop/backprop` is f64, as stage 2; `ch5-backprop/backprop-f32`
//! is the same code in f32.

use ch5_backprop::{Activation, Network};
use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::RealField;

/// The stage 2 network and batch in `T`: `(network, x: 100 × 784, t: 100 × 10)`.
fn setup<T: RealField + Copy + From<u8>>(
    data: &mnist::Mnist,
) -> (Network<T>, nalgebra::DMatrix<T>, nalgebra::DMatrix<T>) {
    let batch: Vec<usize> = (0..100).collect();
    let network = Network::two_layer(784, 50, 10, Activation::Sigmoid, 0.01, 42);
    (
        network,
        data.train.batch_images(&batch),
        data.train.batch_one_hot(&batch),
    )
}

fn gradient(c: &mut Criterion) {
    let data = mnist::Mnist::load_from(None).expect("data/mnist");
    let mut group = c.benchmark_group("gradient");
    let (mut net, x, t) = setup::<f64>(&data);
    group.bench_function("ch5-backprop/backprop", |b| b.iter(|| net.gradient(&x, &t)));
    let (mut net, x, t) = setup::<f32>(&data);
    group.bench_function("ch5-backprop/backprop-f32", |b| {
        b.iter(|| net.gradient(&x, &t))
    });
    group.finish();
}

criterion_group!(benches, gradient);
criterion_main!(benches);
