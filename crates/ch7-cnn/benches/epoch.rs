//! # Stage 6 benches: SimpleConvNet's training against its matrix products
//!
//! Stage 6 of the course (chapter 7). `cargo bench -p ch7-cnn` times, on
//! the real MNIST data, in f32, [`STEPS`] training steps of SimpleConvNet
//! (the book's recipe: Adam, batch 100; a tenth of an epoch, so one epoch
//! is ten times the time), images per second as criterion's throughput:
//! - group `epoch` (beside stage 4's epochs, so the ladder compares the cost
//!   per image): the training steps on one thread and on two;
//! - group `gemm`: only the matrix products those steps make, same shapes,
//!   same count, same transpositions, same threads, each timed right after
//!   its steps. `epoch ÷ gemm` is the
//!   cost of everything else: im2col, pooling, ReLU, softmax, Adam, batches;
//! - group `cnn-parts`: the pieces of that rest on their own, for the same
//!   steps: im2col, max pooling forward and backward, col2im (which the
//!   first layer does not need, shown for its cost).

use std::hint::black_box;
use std::time::Duration;

use ch6_mlp::engine::dense::{Kernel, Operand, matmul};
use ch6_mlp::engine::train_step;
use ch7_cnn::im2col::{col2im, im2col};
use ch7_cnn::layout::Shape;
use ch7_cnn::train::Config;
use ch7_cnn::{Architecture, MaxPooling, SimpleConvNet};
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main, measurement::WallTime,
};
use mnist::{BatchSampler, Mnist};
use nalgebra::DMatrix;

/// Training steps per iteration: 60 batches of 100, a tenth of an epoch.
const STEPS: usize = 60;
const BATCH: usize = 100;

/// A piece of work to time.
type Work = Box<dyn FnMut()>;

fn slow_group<'a>(c: &'a mut Criterion, name: &str, seconds: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(seconds))
        .throughput(criterion::Throughput::Elements((STEPS * BATCH) as u64));
    group
}

/// [`STEPS`] training steps of the book's recipe from seed 42, on `threads`. Each call trains on.
fn training(mnist: &Mnist, threads: usize) -> Work {
    let train = mnist.train.clone();
    let config = Config {
        threads,
        ..Config::book(1)
    };
    let mut net = SimpleConvNet::<f32>::new(config.architecture, config.init, 42, threads).unwrap();
    let mut optimizer = config.optimizer();
    // The shuffles of a run from seed 42 (the engine's loop draws them from seed + 1).
    let mut batches = BatchSampler::new(train.len(), 43);
    Box::new(move || {
        for batch in batches.epoch(BATCH).iter().take(STEPS) {
            black_box(train_step(&mut net, &train, batch, optimizer.as_mut()));
        }
    })
}

/// One matrix product of a training step: `out (m × n) = a · b`, with `a`
/// or `b` read transposed, accumulating into `out` or not.
struct Product {
    out: DMatrix<f32>,
    a: DMatrix<f32>,
    a_transposed: bool,
    b: DMatrix<f32>,
    b_transposed: bool,
    accumulate: bool,
}

fn fill(r: usize, c: usize) -> DMatrix<f32> {
    DMatrix::from_fn(r, c, |i, j| ((i * 7 + j * 3) % 11) as f32 * 0.01)
}

/// `out (m × n) (+)= a · b` with `a: m × k` and `b: k × n` as stored
/// (`a_t`/`b_t`: stored transposed and read so).
fn product(m: usize, k: usize, n: usize, a_t: bool, b_t: bool, accumulate: bool) -> Product {
    Product {
        out: fill(m, n),
        a: if a_t { fill(k, m) } else { fill(m, k) },
        a_transposed: a_t,
        b: if b_t { fill(n, k) } else { fill(k, n) },
        b_transposed: b_t,
        accumulate,
    }
}

/// The products of one SimpleConvNet training step, as the layers make them.
fn step_products(a: &Architecture) -> Vec<Product> {
    let (oh, ow) = a.window().output(a.input).unwrap();
    let rows = oh * ow * BATCH; // im2col's rows
    let patch = a.input.channels * a.filter_size * a.filter_size;
    let flat = a.pooled().unwrap().len();
    vec![
        // convolution: Y = col · W, then dW = colᵀ · dY (no dX for the first layer)
        product(rows, patch, a.filters, false, false, true),
        product(patch, rows, a.filters, true, false, false),
        // Affine 4320 → 100: forward, dW = Xᵀ·dY, dX = dY·Wᵀ
        product(BATCH, flat, a.hidden, false, false, true),
        product(flat, BATCH, a.hidden, true, false, false),
        product(BATCH, a.hidden, flat, false, true, false),
        // Affine 100 → 10
        product(BATCH, a.hidden, a.classes, false, false, true),
        product(a.hidden, BATCH, a.classes, true, false, false),
        product(BATCH, a.classes, a.hidden, false, true, false),
    ]
}

fn operand(m: &DMatrix<f32>, transposed: bool) -> Operand<'_, f32> {
    if transposed {
        Operand::transposed(m)
    } else {
        Operand::of(m)
    }
}

/// The matrix products of [`STEPS`] training steps, on `threads`.
fn products(threads: usize) -> Work {
    let mut products = step_products(&Architecture::SIMPLE);
    let kernel = Kernel::Engine { threads };
    Box::new(move || {
        for _ in 0..STEPS {
            for p in products.iter_mut() {
                let (a, b) = (operand(&p.a, p.a_transposed), operand(&p.b, p.b_transposed));
                matmul(&mut p.out, a, b, p.accumulate, kernel);
            }
        }
    })
}

/// im2col of [`STEPS`] batches of 100 digits, 5×5 windows.
fn im2col_steps(mnist: &Mnist) -> Work {
    let a = Architecture::SIMPLE;
    let x: DMatrix<f32> = mnist.train.batch_images(&(0..BATCH).collect::<Vec<_>>());
    let positions = a.window().output(a.input).unwrap();
    let mut col = DMatrix::zeros(0, 0);
    Box::new(move || {
        for _ in 0..STEPS {
            im2col(&x, a.input, &a.window(), positions, &mut col);
            black_box(&col);
        }
    })
}

/// col2im of [`STEPS`] im2col-shaped gradients back onto 100 digits.
fn col2im_steps() -> Work {
    let a = Architecture::SIMPLE;
    let positions = a.window().output(a.input).unwrap();
    let dcol = fill(
        positions.0 * positions.1 * BATCH,
        a.filter_size * a.filter_size,
    );
    let mut dx = DMatrix::zeros(0, 0);
    Box::new(move || {
        for _ in 0..STEPS {
            col2im(&dcol, a.input, &a.window(), positions, &mut dx);
            black_box(&dx);
        }
    })
}

/// Max pooling 2×2 of [`STEPS`] batches of 100 × 30 maps of 24×24, forward
/// (and backward with `backward`).
fn pooling_steps(backward: bool) -> Work {
    let maps = Shape::new(30, 24, 24);
    let x = DMatrix::from_fn(BATCH, maps.len(), |i, j| ((i * 13 + j * 7) % 101) as f32);
    let mut pool = MaxPooling::<f32>::new(maps, 2, 2, 2).unwrap();
    let dy = fill(BATCH, pool.output().len());
    Box::new(move || {
        for _ in 0..STEPS {
            black_box(pool.forward(&x));
            if backward {
                black_box(pool.backward(&dy));
            }
        }
    })
}

/// Groups `epoch` and `gemm` in turns: each thread count's training steps,
/// then at once their matrix products alone, so that the two numbers the
/// book divides are measured seconds apart, not minutes.
fn bench_epoch_and_products(c: &mut Criterion) {
    let mnist = Mnist::load_from(None).expect("MNIST data (data/mnist/ or $MNIST_DIR)");
    let runs = [
        (5, "SimpleConvNet, 1 thread, 60 steps", 1),
        (6, "SimpleConvNet, 2 threads, 60 steps", 2),
    ];
    for (step, name, threads) in runs {
        let mut group = slow_group(c, "epoch", 15);
        let mut work = training(&mnist, threads);
        group.bench_function(format!("{step} {name}"), |b| b.iter(&mut work));
        group.finish();
        // Named as the steps they belong to, so that the tables can pair them.
        let mut group = slow_group(c, "gemm", 8);
        let mut work = products(threads);
        group.bench_function(name, |b| b.iter(&mut work));
        group.finish();
    }
}

fn bench_parts(c: &mut Criterion) {
    let mnist = Mnist::load_from(None).expect("MNIST data (data/mnist/ or $MNIST_DIR)");
    let mut group = slow_group(c, "cnn-parts", 5);
    let runs = [
        ("1 im2col, 60 steps", im2col_steps(&mnist)),
        ("2 max pooling forward, 60 steps", pooling_steps(false)),
        (
            "3 max pooling forward and backward, 60 steps",
            pooling_steps(true),
        ),
        ("4 col2im, 60 steps", col2im_steps()),
    ];
    for (name, mut work) in runs {
        group.bench_function(name, |b| b.iter(&mut work));
    }
    group.finish();
}

criterion_group!(benches, bench_epoch_and_products, bench_parts);
criterion_main!(benches);
