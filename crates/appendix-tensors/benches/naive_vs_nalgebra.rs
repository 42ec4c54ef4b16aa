//! Criterion bench of Appendix A: the naive loops against nalgebra, on the
//! shapes of the two-layer network of stage 2 (batch 100, 784 → 50).
//!
//! `cargo bench -p appendix-tensors`

use appendix_tensors::*;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let x = example_matrix(100, 784, 1);
    let y = example_matrix(100, 784, 2);
    let w = example_matrix(784, 50, 3);
    let mut group = c.benchmark_group("appendix");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("relu 100x784 naive", |b| {
        b.iter(|| relu_naive(black_box(&x)))
    });
    group.bench_function("relu 100x784 nalgebra", |b| {
        b.iter(|| relu_nalgebra(black_box(&x)))
    });
    group.bench_function("add 100x784 naive", |b| {
        b.iter(|| add_naive(black_box(&x), black_box(&y)))
    });
    group.bench_function("add 100x784 nalgebra", |b| {
        b.iter(|| add_nalgebra(black_box(&x), black_box(&y)))
    });
    group.bench_function("matmul (100x784)(784x50) naive", |b| {
        b.iter(|| matmul_naive(black_box(&x), black_box(&w)))
    });
    group.bench_function("matmul (100x784)(784x50) nalgebra", |b| {
        b.iter(|| matmul_nalgebra(black_box(&x), black_box(&w)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
