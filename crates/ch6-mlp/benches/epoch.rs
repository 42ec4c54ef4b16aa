//! # Stage 4 benches: is a training epoch just its matrix products?
//!
//! Stage 4 of the course (chapter 6). `cargo bench -p ch6-mlp` times, on the
//! real MNIST data, in f32:
//! - group `epoch`: one full training epoch of each preset (`numpy-mlp`:
//!   784-100-200-10, SGD, batch 32, 50,000 images, one thread; `keras`:
//!   784-512-10, RMSprop, batch 128, 60,000 images, two threads and one);
//!   and the `numpy-mlp` epoch with stage 3's `Affine` layers instead of `Dense`;
//! - group `gemm`: only the matrix products those epochs make, same shapes,
//!   same count, same transpositions, same threads, with `Dense`'s product
//!   (the `gemm` crate) and with nalgebra's (stage 3's). Epoch ÷ gemm is the
//!   cost of the glue (copies, bias, ReLU, softmax, optimizer, shuffling);
//! - group `gradient`: one backprop gradient of the stage 2 network
//!   (784-50-10 sigmoid, batch 100), as stages 2 and 3 measure it.
//!
//! Stage 3's per-sample epoch, the slow end of the chapter's lesson, is
//! timed by `crates/ch5-backprop/benches/per_sample_epoch.rs`.
//!
//! Every sample is one whole epoch, so sample_size is 10 (criterion's
//! minimum) and sampling is flat.

use std::time::Duration;

use ch5_backprop::{Activation, Affine, Layer, Network, Relu, Sigmoid, SoftmaxWithLoss};
use ch6_mlp::dense::{Operand, matmul};
use ch6_mlp::train::{Config, Preset, epoch};
use ch6_mlp::{Dense, Mlp, Optimizer};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use mnist::{BatchSampler, Dataset, Mnist};
use nalgebra::{DMatrix, DMatrixView, Dyn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::hint::black_box;

fn data() -> Mnist {
    Mnist::load_from(None).expect("MNIST data (data/mnist/ or $MNIST_DIR)")
}

/// The training images of a preset: the first 50,000 for `numpy-mlp`, all for `keras`.
fn training_set(mnist: &Mnist, config: &Config) -> Dataset {
    mnist.train.first(mnist.train.len() - config.validation)
}

/// A network, optimizer and sampler for `config`, ready to run epochs.
fn setup(config: &Config, train: &Dataset) -> (Mlp<f32>, Box<dyn Optimizer<f32>>, BatchSampler) {
    let mlp = Mlp::<f32>::new(&config.sizes(), config.init, 42, config.threads);
    let optimizer = config.optimizer.build::<f32>(config.learning_rate);
    (mlp, optimizer, BatchSampler::new(train.len(), 43))
}

fn bench_epochs(c: &mut Criterion) {
    let mnist = data();
    let mut group = c.benchmark_group("epoch");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(10));
    let keras_1t = Config {
        threads: 1,
        ..Preset::Keras.config()
    };
    for (name, config) in [
        ("numpy-mlp", Preset::NumpyMlp.config()),
        ("keras", Preset::Keras.config()),
        ("keras-1-thread", keras_1t),
    ] {
        let train = training_set(&mnist, &config);
        let (mut mlp, mut optimizer, mut sampler) = setup(&config, &train);
        group.bench_function(name, |b| {
            b.iter(|| {
                epoch(
                    &mut mlp,
                    &train,
                    &mut sampler,
                    config.batch_size,
                    optimizer.as_mut(),
                    |loss| {
                        black_box(loss);
                        Ok(())
                    },
                )
                .unwrap()
            })
        });
    }

    // The same numpy-mlp epoch with stage 3's layers: Affine (nalgebra's gemm) instead of Dense.
    let config = Preset::NumpyMlp.config();
    let train = training_set(&mnist, &config);
    let (mut mlp, mut optimizer, mut sampler) = setup(&config, &train);
    let mut rng = StdRng::seed_from_u64(42);
    let mut layers: Vec<Box<dyn Layer<f32>>> = Vec::new();
    let sizes = config.sizes();
    for (i, pair) in sizes.windows(2).enumerate() {
        layers.push(Box::new(Affine::normal(
            pair[0],
            pair[1],
            config.init.std(pair[0], pair[1]),
            &mut rng,
        )));
        if i + 2 < sizes.len() {
            layers.push(Box::new(Relu::new()));
        }
    }
    mlp.network = Network::new(layers, Box::new(SoftmaxWithLoss::new()));
    group.bench_function("numpy-mlp-stage3-affine", |b| {
        b.iter(|| {
            epoch(
                &mut mlp,
                &train,
                &mut sampler,
                config.batch_size,
                optimizer.as_mut(),
                |loss| {
                    black_box(loss);
                    Ok(())
                },
            )
            .unwrap()
        })
    });
    group.finish();
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

/// The products of one training step of `sizes` on a batch of `batch`, as
/// `Dense` makes them: forward `Y = X·W` per layer; backward `dW = Xᵀ·dY`
/// per layer and `dX = dY·Wᵀ` for every layer but the first.
fn step_products(sizes: &[usize], batch: usize) -> Vec<Product> {
    let fill = |r, c| DMatrix::from_fn(r, c, |i, j| ((i * 7 + j * 3) % 11) as f32 * 0.01);
    let mut products = Vec::new();
    for pair in sizes.windows(2) {
        let (n_in, n_out) = (pair[0], pair[1]);
        // forward: y (batch × n_out) += x (batch × n_in) · W (n_in × n_out)
        products.push(Product {
            out: fill(batch, n_out),
            a: fill(batch, n_in),
            a_transposed: false,
            b: fill(n_in, n_out),
            b_transposed: false,
            accumulate: true,
        });
    }
    for (i, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0], pair[1]);
        // dW (n_in × n_out) = xᵀ · dy, x stored batch × n_in
        products.push(Product {
            out: fill(n_in, n_out),
            a: fill(batch, n_in),
            a_transposed: true,
            b: fill(batch, n_out),
            b_transposed: false,
            accumulate: false,
        });
        if i > 0 {
            // dX (batch × n_in) = dy · Wᵀ, W stored n_in × n_out
            products.push(Product {
                out: fill(batch, n_in),
                a: fill(batch, n_out),
                a_transposed: false,
                b: fill(n_in, n_out),
                b_transposed: true,
                accumulate: false,
            });
        }
    }
    products
}

/// All products of one epoch: `(products of a full step, how many full
/// steps)` and the products of the last, smaller batch if there is one.
fn epoch_products(config: &Config, images: usize) -> Vec<(Vec<Product>, usize)> {
    let sizes = config.sizes();
    let (full, rest) = (images / config.batch_size, images % config.batch_size);
    let mut parts = vec![(step_products(&sizes, config.batch_size), full)];
    if rest > 0 {
        parts.push((step_products(&sizes, rest), 1));
    }
    parts
}

fn operand(m: &DMatrix<f32>, transposed: bool) -> Operand<'_, f32> {
    if transposed {
        Operand::transposed(m)
    } else {
        Operand::of(m)
    }
}

/// Stage 3's way to read `mᵀ`: a view with swapped strides (`ch5_backprop::layer::transposed`).
fn view(m: &DMatrix<f32>, transposed: bool) -> DMatrixView<'_, f32, Dyn, Dyn> {
    if transposed {
        DMatrixView::from_slice_with_strides(m.as_slice(), m.ncols(), m.nrows(), m.nrows(), 1)
    } else {
        DMatrixView::from_slice_with_strides(m.as_slice(), m.nrows(), m.ncols(), 1, m.nrows())
    }
}

fn bench_gemm(c: &mut Criterion) {
    let mnist = data();
    let mut group = c.benchmark_group("gemm");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(5));
    let keras_1t = Config {
        threads: 1,
        ..Preset::Keras.config()
    };
    for (name, config) in [
        ("numpy-mlp", Preset::NumpyMlp.config()),
        ("keras", Preset::Keras.config()),
        ("keras-1-thread", keras_1t),
    ] {
        let images = training_set(&mnist, &config).len();
        let mut parts = epoch_products(&config, images);
        group.bench_function(name, |b| {
            b.iter(|| {
                for (products, count) in parts.iter_mut() {
                    for _ in 0..*count {
                        for p in products.iter_mut() {
                            let (a, b) =
                                (operand(&p.a, p.a_transposed), operand(&p.b, p.b_transposed));
                            matmul(&mut p.out, a, b, p.accumulate, config.threads);
                        }
                    }
                }
            })
        });
        if config.threads > 1 {
            continue;
        }
        // The same products with nalgebra's gemm (matrixmultiply), as stage 3's Affine makes them.
        group.bench_function(format!("{name}-nalgebra"), |b| {
            b.iter(|| {
                for (products, count) in parts.iter_mut() {
                    for _ in 0..*count {
                        for p in products.iter_mut() {
                            let beta = if p.accumulate { 1.0 } else { 0.0 };
                            p.out.gemm(
                                1.0,
                                &view(&p.a, p.a_transposed),
                                &view(&p.b, p.b_transposed),
                                beta,
                            );
                        }
                    }
                }
            })
        });
    }
    group.finish();
}

/// One gradient of the stage 2 network (784-50-10 sigmoid, softmax with
/// cross-entropy, weights from seed 42) on the first 100 training images, as
/// stage 2's and stage 3's `gradient` benches, with `Dense` layers in f32.
fn bench_gradient(c: &mut Criterion) {
    let mnist = data();
    let mut stage3 = Network::<f32>::two_layer(784, 50, 10, Activation::Sigmoid, 0.01, 42);
    let mut params = Vec::new();
    stage3.for_each_param(&mut |p, _| params.push(p.clone()));
    let layers: Vec<Box<dyn Layer<f32>>> = vec![
        Box::new(Dense::from_parameters(params[0].clone(), params[1].clone())),
        Box::new(Sigmoid::new()),
        Box::new(Dense::from_parameters(params[2].clone(), params[3].clone())),
    ];
    let mut network = Network::new(layers, Box::new(SoftmaxWithLoss::new()));
    let batch: Vec<usize> = (0..100).collect();
    let x = mnist.train.batch_images::<f32>(&batch);
    let t = mnist.train.batch_one_hot::<f32>(&batch);
    let mut group = c.benchmark_group("gradient");
    group.bench_function("ch6-mlp/backprop", |b| b.iter(|| network.gradient(&x, &t)));
    group.finish();
}

criterion_group!(benches, bench_epochs, bench_gemm, bench_gradient);
criterion_main!(benches);
