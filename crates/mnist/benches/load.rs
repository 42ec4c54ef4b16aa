//! Criterion bench: loading all 70,000 MNIST images (decompress + parse + check).

use criterion::{Criterion, criterion_group, criterion_main};

fn load(c: &mut Criterion) {
    let dir = mnist::find_data_dir(None).expect("data/mnist");
    let mut group = c.benchmark_group("mnist");
    group.sample_size(10);
    group.bench_function("load_train_and_test", |b| {
        b.iter(|| mnist::Mnist::load(&dir).unwrap())
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
