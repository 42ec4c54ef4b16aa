//! Criterion bench for stage 3: per-sample SGD (the layer tutorial's loop)
//! on the 784-100-50-10 tanh network with mean squared error, learning rate
//! 0.1, so stage 4's mini-batch epoch can be compared with it, image for
//! image.
//!
//! A whole epoch of 60,000 images takes tens of seconds, and criterion
//! wants at least 10 samples, so one iteration is a sixth of an epoch:
//! the next 10,000 training images in order (throughput 10,000 images, so
//! the tables compare per image). The network keeps training from sample to
//! sample; the work per image does not depend on the weights. f64 as the
//! tutorial's numpy, and the same in f32; group `cpu-time` repeats the f64
//! case timed by the CPU time of the benchmarking thread (less inflated than
//! the wall clock by other programs on a shared machine).

use std::time::Duration;

use ch5_backprop::{Network, Sgd};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use nalgebra::RealField;
use train_cli::cpu_timed;

/// Images per iteration: a sixth of the 60,000.
const IMAGES: usize = 10_000;

/// Per-sample SGD on the `IMAGES` training images from `*next` on (wrapping
/// round), which moves on by as many.
fn epoch<T: RealField + Copy + From<u8>>(
    network: &mut Network<T>,
    train: &mnist::Dataset,
    sgd: &Sgd<T>,
    next: &mut usize,
) -> T {
    let mut total = T::zero();
    let first = *next;
    *next = (first + IMAGES) % train.len();
    for i in (first..first + IMAGES).map(|i| i % train.len()) {
        let (x, t) = (train.batch_images(&[i]), train.batch_one_hot(&[i]));
        total += network.gradient(&x, &t);
        sgd.update(network);
    }
    total
}

fn per_sample_epoch(c: &mut Criterion) {
    let data = mnist::Mnist::load_from(None).expect("data/mnist");
    let sizes = [784, 100, 50, 10];
    let mut net64 = Network::<f64>::tanh_mlp(&sizes, 42);
    let sgd64 = Sgd::new(0.1);
    let mut net32 = Network::<f32>::tanh_mlp(&sizes, 42);
    let sgd32 = Sgd::new(0.1f32);

    let mut group = c.benchmark_group("epoch");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.throughput(criterion::Throughput::Elements(IMAGES as u64));
    let (mut next64, mut next32) = (0, 0);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    group.bench_function("ch5-backprop/per-sample SGD f64, 784-100-50-10 tanh", |b| {
        b.iter(|| epoch(&mut net64, &data.train, &sgd64, &mut next64))
    });
    group.bench_function("ch5-backprop/per-sample SGD f32, 784-100-50-10 tanh", |b| {
        b.iter(|| epoch(&mut net32, &data.train, &sgd32, &mut next32))
    });
    group.finish();

    let mut group = c.benchmark_group("cpu-time");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.throughput(criterion::Throughput::Elements(IMAGES as u64));
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    group.bench_function(
        "epoch/ch5-backprop/per-sample SGD f64, 784-100-50-10 tanh",
        |b| {
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    std::hint::black_box(epoch(&mut net64, &data.train, &sgd64, &mut next64));
                })
            })
        },
    );
    group.finish();
}

criterion_group!(benches, per_sample_epoch);
criterion_main!(benches);
