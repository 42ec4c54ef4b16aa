//! Criterion bench for stage 1: one full numerical gradient of the softmax
//! network (784→10) on a fixed batch of 100 training images, naive versus
//! fast. The ratio is the first lesson of the course: the same finite
//! differences, far less work.

use ch4_numerical::{GradientMethod, SoftmaxNet};
use criterion::{Criterion, criterion_group, criterion_main};

fn gradient(c: &mut Criterion) {
    let data = mnist::Mnist::load_from(None).expect("data/mnist");
    let batch: Vec<usize> = (0..100).collect();
    let x = data.train.batch_images::<f64>(&batch);
    let labels = data.train.batch_labels(&batch);
    let net = SoftmaxNet::new(784, 10, 42);

    let mut group = c.benchmark_group("gradient");
    // The naive gradient is 15,700 forward passes of the batch: ten samples, criterion's fewest.
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(batch.len() as u64));
    group.bench_function("ch4-numerical/1 numerical naive, softmax 784→10", |b| {
        b.iter(|| net.gradient(GradientMethod::Naive, &x, &labels))
    });
    group.bench_function("ch4-numerical/2 numerical fast, softmax 784→10", |b| {
        b.iter(|| net.gradient(GradientMethod::Fast, &x, &labels))
    });
    group.finish();
}

criterion_group!(benches, gradient);
criterion_main!(benches);
