//! Criterion bench for stage 2: one full numerical gradient of the two-layer
//! network (784→50→10, 39,760 parameters) on a fixed batch (the first 100
//! training images, weights from seed 42), naive versus fast. It sits in the
//! same group as stage 1's (`gradient`), so `cargo xtask bench` can set the
//! stages side by side.
//!
//! How the naive gradient is benched: in full, every one of its 79,520
//! forward passes, nothing scaled. Being the costliest thing the course
//! measures, it gets criterion's smallest sample count (10) and flat sampling
//! (one gradient per sample): eleven gradients in all with the warm-up.

use std::time::Duration;

use ch4_two_layer::{GradientMethod, TwoLayerNet};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

fn gradient(c: &mut Criterion) {
    let data = mnist::Mnist::load_from(None).expect("data/mnist");
    let batch: Vec<usize> = (0..100).collect();
    let x = data.train.batch_images::<f64>(&batch);
    let labels = data.train.batch_labels(&batch);
    let net = TwoLayerNet::new(784, 50, 10, 42);

    let mut group = c.benchmark_group("gradient");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(batch.len() as u64));
    group.bench_function("ch4-two-layer/2 numerical fast, 784-50-10 sigmoid", |b| {
        b.iter(|| net.gradient(GradientMethod::Fast, &x, &labels))
    });
    // One iteration per sample; criterion warns that the samples cannot fit
    // the (short) target time and runs them anyway.
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    group.bench_function("ch4-two-layer/1 numerical naive, 784-50-10 sigmoid", |b| {
        b.iter(|| net.gradient(GradientMethod::Naive, &x, &labels))
    });
    group.finish();
}

criterion_group!(benches, gradient);
criterion_main!(benches);
