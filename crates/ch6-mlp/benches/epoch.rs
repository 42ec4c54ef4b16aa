//! # Stage 4 benches: is a training epoch just its matrix products?
//!
//! Stage 4 of the course (chapter 6). `cargo bench -p ch6-mlp` times, on the
//! real MNIST data, in f32:
//! - group `epoch`: one full training epoch, in steps from stage 3 to stage
//!   4: `1 stage 3 network, batch 32` (stage 3's own per-sample network,
//!   784-100-50-10 tanh, mean squared error, in batches of 32), `2 numpy-mlp,
//!   stage 3 layers` (the `numpy-mlp` epoch on stage 3's `Affine` layers
//!   instead of `Dense`), `3 numpy-mlp` (784-100-200-10, SGD, batch 32,
//!   50,000 images, one thread), `4 keras, 1 thread` and `5 keras, 2 threads`
//!   (784-512-10, RMSprop, batch 128, 60,000 images); each gives the images
//!   of its epoch as criterion's throughput;
//! - group `gemm`: only the matrix products those epochs make, same shapes,
//!   same count, same transpositions, same threads. Epoch ÷ gemm is the cost
//!   of the glue (copies, bias, ReLU, softmax, optimizer, shuffling);
//! - group `cpu-time`: the one-thread cases again, timed by the CPU time of
//!   the bench thread (Linux; wall time elsewhere), so that other programs
//!   sharing the machine do not inflate them; with the products also run on
//!   nalgebra's `gemm` (stage 3's), to choose the backend with numbers;
//! - group `gradient`: one backprop gradient of the stage 2 network
//!   (784-50-10 sigmoid, batch 100), as stages 2 and 3 measure it.
//!
//! Stage 3's per-sample epoch, the slow end of the chapter's lesson, is
//! timed by `crates/ch5-backprop/benches/per_sample_epoch.rs`.
//!
//! Every sample is one whole epoch, so sample_size is 10 (criterion's
//! minimum) and sampling is flat.

use std::hint::black_box;
use std::time::Duration;

use ch5_backprop::{Activation, Affine, Layer, Network, Relu, Sigmoid, SoftmaxWithLoss};
use ch6_mlp::dense::{Operand, matmul};
use ch6_mlp::optim::OptimizerKind;
use ch6_mlp::train::{Config, Preset, epoch};
use ch6_mlp::{Dense, Mlp};
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main, measurement::WallTime,
};
use mnist::{BatchSampler, Dataset, Mnist};
use nalgebra::{DMatrix, DMatrixView, Dyn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use train_cli::cpu_timed;

fn data() -> Mnist {
    Mnist::load_from(None).expect("MNIST data (data/mnist/ or $MNIST_DIR)")
}

/// The training images of a preset: the first 50,000 for `numpy-mlp`, all for `keras`.
fn training_set(mnist: &Mnist, config: &Config) -> Dataset {
    mnist.train.first(mnist.train.len() - config.validation)
}

fn keras_1_thread() -> Config {
    Config {
        threads: 1,
        ..Preset::Keras.config()
    }
}

/// A piece of work to time: one call is one epoch (or its products).
type Work = Box<dyn FnMut()>;

/// One training epoch of `config` (from seed 42), on `Dense` layers or, with
/// `stage3_layers`, on stage 3's `Affine` layers. Each call trains on.
fn training_epoch(mnist: &Mnist, config: Config, stage3_layers: bool) -> Work {
    let train = training_set(mnist, &config);
    let mut mlp = Mlp::<f32>::new(&config.sizes(), config.init, 42, config.threads);
    if stage3_layers {
        let mut rng = StdRng::seed_from_u64(42);
        let sizes = config.sizes();
        let mut layers: Vec<Box<dyn Layer<f32>>> = Vec::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            let w = config.init.weights(pair[0], pair[1], &mut rng);
            layers.push(Box::new(Affine::from_parameters(
                w,
                DMatrix::zeros(1, pair[1]),
            )));
            if i + 2 < sizes.len() {
                layers.push(Box::new(Relu::new()));
            }
        }
        mlp.network = Network::new(layers, Box::new(SoftmaxWithLoss::new()));
    }
    epoch_work(train, mlp, config)
}

/// Stage 3's per-sample network (`Network::tanh_mlp`: 784-100-50-10 tanh,
/// mean squared error, stage 3's `Affine` layers, seed 42) trained with SGD,
/// η = 0.1, in mini-batches of 32 over all 60,000 images: the work of
/// `crates/ch5-backprop/benches/per_sample_epoch.rs`'s f32 epoch, 32 images
/// per product instead of one. Their ratio is the chapter's lesson.
fn stage3_network_epoch(mnist: &Mnist) -> Work {
    let config = Config {
        hidden: vec![100, 50],
        optimizer: OptimizerKind::Sgd,
        learning_rate: 0.1,
        batch_size: 32,
        drop_last: false,
        validation: 0,
        threads: 1,
        ..Preset::NumpyMlp.config()
    };
    let mut mlp = Mlp::<f32>::new(&config.sizes(), config.init, 42, 1);
    mlp.network = Network::tanh_mlp(&config.sizes(), 42);
    epoch_work(training_set(mnist, &config), mlp, config)
}

/// Each call trains `mlp` one more epoch of `config` on `train`.
fn epoch_work(train: Dataset, mut mlp: Mlp<f32>, config: Config) -> Work {
    let mut optimizer = config.optimizer.build::<f32>(config.learning_rate);
    let mut sampler = BatchSampler::new(train.len(), 43);
    Box::new(move || {
        epoch(
            &mut mlp,
            &train,
            &mut sampler,
            &config,
            optimizer.as_mut(),
            |loss| {
                black_box(loss);
                Ok(())
            },
        )
        .unwrap()
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
    if rest > 0 && !config.drop_last {
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

/// The matrix products of one training epoch of `config`, on `Dense`'s
/// `matmul` (the `gemm` crate) or, with `nalgebra`, on nalgebra's `gemm` as
/// stage 3's `Affine` calls it.
fn epoch_gemms(mnist: &Mnist, config: Config, nalgebra: bool) -> Work {
    let images = training_set(mnist, &config).len();
    let mut parts = epoch_products(&config, images);
    Box::new(move || {
        for (products, count) in parts.iter_mut() {
            for _ in 0..*count {
                for p in products.iter_mut() {
                    if nalgebra {
                        let beta = if p.accumulate { 1.0 } else { 0.0 };
                        p.out.gemm(
                            1.0,
                            &view(&p.a, p.a_transposed),
                            &view(&p.b, p.b_transposed),
                            beta,
                        );
                    } else {
                        let (a, b) = (operand(&p.a, p.a_transposed), operand(&p.b, p.b_transposed));
                        matmul(&mut p.out, a, b, p.accumulate, config.threads);
                    }
                }
            }
        }
    })
}

fn slow_group<'a>(c: &'a mut Criterion, name: &str, seconds: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(seconds));
    group
}

/// Images one epoch of `config` trains on (all but a dropped last batch), for criterion's throughput.
fn epoch_images(mnist: &Mnist, config: &Config) -> u64 {
    let images = training_set(mnist, config).len();
    (config.steps_per_epoch(images) * config.batch_size).min(images) as u64
}

fn bench_epochs(c: &mut Criterion) {
    let mnist = data();
    let mut group = slow_group(c, "epoch", 10);
    let numpy = Preset::NumpyMlp.config();
    let keras = Preset::Keras.config();
    let runs = [
        (
            "3 numpy-mlp",
            epoch_images(&mnist, &numpy),
            training_epoch(&mnist, Preset::NumpyMlp.config(), false),
        ),
        (
            "5 keras, 2 threads",
            epoch_images(&mnist, &keras),
            training_epoch(&mnist, Preset::Keras.config(), false),
        ),
        (
            "4 keras, 1 thread",
            epoch_images(&mnist, &keras),
            training_epoch(&mnist, keras_1_thread(), false),
        ),
        (
            "2 numpy-mlp, stage 3 layers",
            epoch_images(&mnist, &numpy),
            training_epoch(&mnist, Preset::NumpyMlp.config(), true),
        ),
        (
            "1 stage 3 network, batch 32",
            mnist.train.len() as u64,
            stage3_network_epoch(&mnist),
        ),
    ];
    for (name, images, mut work) in runs {
        group.throughput(criterion::Throughput::Elements(images));
        group.bench_function(name, |b| b.iter(&mut work));
    }
    group.finish();
}

fn bench_gemm(c: &mut Criterion) {
    let mnist = data();
    let mut group = slow_group(c, "gemm", 5);
    let runs = [
        (
            "numpy-mlp",
            epoch_gemms(&mnist, Preset::NumpyMlp.config(), false),
        ),
        ("keras", epoch_gemms(&mnist, Preset::Keras.config(), false)),
        (
            "keras-1-thread",
            epoch_gemms(&mnist, keras_1_thread(), false),
        ),
    ];
    for (name, mut work) in runs {
        group.bench_function(name, |b| b.iter(&mut work));
    }
    group.finish();
}

fn bench_cpu_time(c: &mut Criterion) {
    let mnist = data();
    let mut group = slow_group(c, "cpu-time", 10);
    let numpy = || Preset::NumpyMlp.config();
    let runs = [
        ("epoch/numpy-mlp", training_epoch(&mnist, numpy(), false)),
        ("gemm/numpy-mlp", epoch_gemms(&mnist, numpy(), false)),
        (
            "gemm/numpy-mlp-nalgebra",
            epoch_gemms(&mnist, numpy(), true),
        ),
        (
            "epoch/numpy-mlp-stage3-affine",
            training_epoch(&mnist, numpy(), true),
        ),
        (
            "epoch/stage3-network-batch-32",
            stage3_network_epoch(&mnist),
        ),
        (
            "epoch/keras-1-thread",
            training_epoch(&mnist, keras_1_thread(), false),
        ),
        (
            "gemm/keras-1-thread",
            epoch_gemms(&mnist, keras_1_thread(), false),
        ),
        (
            "gemm/keras-1-thread-nalgebra",
            epoch_gemms(&mnist, keras_1_thread(), true),
        ),
    ];
    for (name, mut work) in runs {
        group.bench_function(name, |b| b.iter_custom(|iters| cpu_timed(iters, &mut work)));
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
    group.throughput(criterion::Throughput::Elements(x.nrows() as u64));
    group.bench_function(
        "ch6-mlp/backprop f32 Dense layers, 784-50-10 sigmoid",
        |b| b.iter(|| network.gradient(&x, &t)),
    );
    group.finish();
}

criterion_group!(
    benches,
    bench_epochs,
    bench_gemm,
    bench_cpu_time,
    bench_gradient
);
criterion_main!(benches);
