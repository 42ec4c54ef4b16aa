//! Criterion bench for stage 3: one gradient of the stage 2 network
//! (784→50→10, sigmoid, softmax with cross-entropy) by backpropagation, on
//! the same fixed batch as stage 2's bench (the first 100 training images,
//! weights from seed 42), in the same group `gradient`, so the table sets
//! backprop beside stage 2's naive and fast numerical gradients.
//!
//! `ch5-backprop/backprop f64, …` is f64, as stage 2; `… f32, …` is the
//! same code in f32. Group `cpu-time` repeats both timed by the CPU
//! time of the benchmarking thread, which other programs on a shared machine
//! inflate less than the wall clock.

use ch5_backprop::{Activation, Network};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use nalgebra::{DMatrix, RealField};
use train_cli::cpu_timed;

/// The stage 2 network and batch in `T`: `(network, x: 100 × 784, t: 100 × 10)`.
fn setup<T: RealField + Copy + From<u8>>(
    data: &mnist::Mnist,
) -> (Network<T>, DMatrix<T>, DMatrix<T>) {
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
    let (mut net64, x64, t64) = setup::<f64>(&data);
    let (mut net32, x32, t32) = setup::<f32>(&data);

    let mut group = c.benchmark_group("gradient");
    group.throughput(criterion::Throughput::Elements(x64.nrows() as u64));
    group.bench_function("ch5-backprop/backprop f64, 784-50-10 sigmoid", |b| {
        b.iter(|| net64.gradient(&x64, &t64))
    });
    group.bench_function("ch5-backprop/backprop f32, 784-50-10 sigmoid", |b| {
        b.iter(|| net32.gradient(&x32, &t32))
    });
    group.finish();

    // The kernel updates a thread's CPU time at scheduler ticks, so every
    // sample must run many gradients: flat sampling, 20 samples.
    let mut group = c.benchmark_group("cpu-time");
    group.sample_size(20).sampling_mode(SamplingMode::Flat);
    group.bench_function(
        "gradient/ch5-backprop/backprop f64, 784-50-10 sigmoid",
        |b| {
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    std::hint::black_box(net64.gradient(&x64, &t64));
                })
            })
        },
    );
    group.bench_function(
        "gradient/ch5-backprop/backprop f32, 784-50-10 sigmoid",
        |b| {
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    std::hint::black_box(net32.gradient(&x32, &t32));
                })
            })
        },
    );
    group.finish();
}

criterion_group!(benches, gradient);
criterion_main!(benches);
