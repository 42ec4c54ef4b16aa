//! # Stage 4 benches: from the textbook's layers to the engine
//!
//! Stage 4 of the course (chapter 6). `cargo bench -p ch6-mlp` times, on the
//! real MNIST data, in f32:
//! - group `engine`: one epoch of the `numpy-mlp` preset (784-100-200-10
//!   ReLU, SGD, batch 32, 1,562 batches of the first 50,000 images, one
//!   thread), device by device, images per second as criterion's throughput: `1` stage 3's plain layers (nalgebra
//!   operators, every result allocated, batches from `Dataset::batch_images`);
//!   `2` the engine (kept buffers, transposes read in place, ReLU in place,
//!   fused softmax, batches stored image by image) on nalgebra's products,
//!   its element-wise passes at the baseline vector width, no prefetching;
//!   `3` the same on the `gemm` crate's products; `4` the element-wise
//!   passes at the CPU's full width (`simd::vectorized`); `5` the images
//!   of a batch prefetched (`simd::prefetch`); `6` the short sums of the
//!   gradient products by register tiles (`tiles::product`): what
//!   `cargo run` trains with;
//! - group `engine-keras`: one epoch of the `keras` preset on two threads:
//!   `1` the products on two threads, everything else on one at the
//!   baseline width; `2` at full width; `3` the optimizer's update shared
//!   between the threads (`optim::ThreadSplit`): what `--preset keras` runs;
//! - group `epoch` (beside stage 3's per-sample epochs, same group): stage
//!   3's own per-sample network (784-100-50-10 tanh, mean squared error) in
//!   batches of 32 with stage 3's layers, then one full training epoch of
//!   each preset (`numpy-mlp`; `keras`: 784-512-10, RMSprop, batch 128,
//!   60,000 images, on one thread and on two);
//! - group `gemm`: only the matrix products those epochs make, same shapes,
//!   same count, same layouts and transpositions, same threads, each timed
//!   right after its epoch. Epoch ÷ gemm is the cost of the glue (copies,
//!   bias, ReLU, softmax, optimizer, shuffling). `numpy-mlp`'s products are
//!   timed once more without the register tiles, for what they buy;
//! - group `cpu-time`: the one-thread cases again, timed by the CPU time of
//!   the bench thread (Linux; wall time elsewhere), so that other programs
//!   sharing the machine do not inflate them; with the products also run on
//!   nalgebra's `gemm`, to choose the kernel with numbers.
//!
//! Stage 3's per-sample epoch, the slow end of the chapter's lesson, is
//! timed by `crates/ch5-backprop/benches/per_sample_epoch.rs`.
//!
//! Every sample is one whole epoch, so sample_size is 10 (criterion's
//! minimum) and sampling is flat.

use std::hint::black_box;
use std::time::Duration;

use ch5_backprop::{Network, Sgd};
use ch6_mlp::Mlp;
use ch6_mlp::engine::dense::{Kernel, Operand, matmul};
use ch6_mlp::engine::devices::Device;
use ch6_mlp::engine::optim::OptimizerKind;
use ch6_mlp::engine::train::{self as engine, Measure, Schedule};
use ch6_mlp::train::{Config, Preset};
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main, measurement::WallTime,
};
use mnist::{BatchSampler, Dataset, Mnist};
use nalgebra::DMatrix;
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

/// One training epoch of `config` (from seed 42) on the engine, its
/// products by `kernel`, its optimizer on `config.threads`. Each call trains on.
fn engine_epoch(mnist: &Mnist, config: Config, kernel: Kernel) -> Work {
    let train = training_set(mnist, &config);
    let fresh = Mlp::<f32>::new(&config.sizes(), config.init, 42, 1);
    let mut mlp = Mlp::from_parameters(&config.sizes(), fresh.parameters(), kernel);
    let mut optimizer =
        (config.optimizer).build_for_threads::<f32>(config.learning_rate, config.threads);
    // One epoch per iteration, its batches shuffled from seed 42 + 1.
    let schedule = Schedule {
        epochs: 1,
        ..config.schedule(42)
    };
    Box::new(move || {
        let report = |event| {
            black_box(event);
            Ok::<_, ()>(())
        };
        let (optimizer, no_augment) = (optimizer.as_mut(), None);
        engine::train(
            &mut mlp,
            optimizer,
            &schedule,
            &train,
            Measure::default(),
            no_augment,
            report,
        )
        .unwrap();
    })
}

/// One SGD epoch of `config`'s batches on stage 3's plain `network`: the
/// textbook's layers, batches built by `Dataset::batch_images`.
fn plain_epoch(mnist: &Mnist, config: Config, mut network: Network<f32>) -> Work {
    assert_eq!(config.optimizer, OptimizerKind::Sgd, "stage 3 has SGD only");
    let train = training_set(mnist, &config);
    let sgd = Sgd::new(config.learning_rate as f32);
    let mut sampler = BatchSampler::new(train.len(), 43);
    Box::new(move || {
        let batches = sampler.epoch(config.batch_size);
        for batch in &batches[..config.steps_per_epoch(train.len())] {
            let (x, t) = (train.batch_images(batch), train.batch_one_hot(batch));
            black_box(network.gradient(&x, &t));
            sgd.update(&mut network);
        }
    })
}

/// Stage 3's layers with the engine's initial weights for `config` (seed 42).
fn plain_network(config: &Config) -> Network<f32> {
    Mlp::<f32>::new(&config.sizes(), config.init, 42, 1).plain_network()
}

/// Stage 3's per-sample network (`Network::tanh_mlp`: 784-100-50-10 tanh,
/// mean squared error, seed 42) trained with SGD, η = 0.1, in mini-batches
/// of 32 over all 60,000 images: the work of
/// `crates/ch5-backprop/benches/per_sample_epoch.rs`'s f32 epoch, 32 images
/// per product instead of one. Their ratio is the chapter's lesson.
fn stage3_network_epoch(mnist: &Mnist) -> Work {
    let config = Config {
        hidden: vec![100, 50],
        learning_rate: 0.1,
        drop_last: false,
        validation: 0,
        ..Preset::NumpyMlp.config()
    };
    plain_epoch(mnist, config, Network::tanh_mlp(&[784, 100, 50, 10], 42))
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
    // The first layer's x is the batch stored image by image (`Mlp.xt`,
    // n_in × batch), read transposed; the others' x is the layer below's y.
    let x = |i: usize, n_in: usize| {
        if i == 0 {
            (fill(n_in, batch), true)
        } else {
            (fill(batch, n_in), false)
        }
    };
    for (i, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0], pair[1]);
        // forward: y (batch × n_out) += x (batch × n_in) · W (n_in × n_out)
        let (a, a_transposed) = x(i, n_in);
        products.push(Product {
            out: fill(batch, n_out),
            a,
            a_transposed,
            b: fill(n_in, n_out),
            b_transposed: false,
            accumulate: true,
        });
    }
    for (i, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0], pair[1]);
        // dW (n_in × n_out) = xᵀ · dy
        let (a, x_transposed) = x(i, n_in);
        products.push(Product {
            out: fill(n_in, n_out),
            a,
            a_transposed: !x_transposed,
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

/// The matrix products of one training epoch of `config`, by `Dense`'s
/// `matmul` with the `gemm` crate (on `config.threads`) or, with
/// `nalgebra`, with nalgebra's `gemm` as stage 3 calls it.
fn epoch_gemms(mnist: &Mnist, config: Config, nalgebra: bool) -> Work {
    let images = training_set(mnist, &config).len();
    let mut parts = epoch_products(&config, images);
    let kernel = if nalgebra {
        Kernel::Nalgebra
    } else {
        Kernel::Engine {
            threads: config.threads,
        }
    };
    Box::new(move || {
        for (products, count) in parts.iter_mut() {
            for _ in 0..*count {
                for p in products.iter_mut() {
                    let (a, b) = (operand(&p.a, p.a_transposed), operand(&p.b, p.b_transposed));
                    matmul(&mut p.out, a, b, p.accumulate, kernel);
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

/// `work` with the engine's switchable devices set as given before each
/// epoch: element-wise passes at full vector width, images prefetched,
/// register tiles for short sums.
fn with_devices(full_width: bool, prefetch: bool, register_tiles: bool, mut work: Work) -> Work {
    Box::new(move || {
        Device::FullWidth.set(full_width);
        Device::Prefetch.set(prefetch);
        Device::RegisterTiles.set(register_tiles);
        work();
        for device in Device::ALL {
            device.set(true);
        }
    })
}

fn bench_engine(c: &mut Criterion) {
    let mnist = data();
    let numpy = Preset::NumpyMlp.config();
    let mut group = slow_group(c, "engine", 10);
    group.throughput(criterion::Throughput::Elements(epoch_images(
        &mnist, &numpy,
    )));
    let gemm = Kernel::Engine { threads: 1 };
    let runs = [
        (
            "1 stage 3 layers",
            plain_epoch(&mnist, numpy.clone(), plain_network(&numpy)),
        ),
        (
            "2 engine, nalgebra products",
            with_devices(
                false,
                false,
                false,
                engine_epoch(&mnist, numpy.clone(), Kernel::Nalgebra),
            ),
        ),
        (
            "3 engine, gemm crate",
            with_devices(
                false,
                false,
                false,
                engine_epoch(&mnist, numpy.clone(), gemm),
            ),
        ),
        (
            "4 + full vector width",
            with_devices(
                true,
                false,
                false,
                engine_epoch(&mnist, numpy.clone(), gemm),
            ),
        ),
        (
            "5 + images prefetched",
            with_devices(true, true, false, engine_epoch(&mnist, numpy.clone(), gemm)),
        ),
        (
            "6 + register tiles for short sums",
            with_devices(true, true, true, engine_epoch(&mnist, numpy, gemm)),
        ),
    ];
    for (name, mut work) in runs {
        group.bench_function(name, |b| b.iter(&mut work));
    }
    group.finish();
}

/// The `keras` preset's epoch, its products on two threads, its optimizer
/// on `optimizer_threads` (shared between them by `ThreadSplit` when 2).
fn keras_epoch(mnist: &Mnist, optimizer_threads: usize) -> Work {
    let config = Config {
        threads: optimizer_threads,
        ..Preset::Keras.config()
    };
    engine_epoch(mnist, config, Kernel::Engine { threads: 2 })
}

fn bench_engine_keras(c: &mut Criterion) {
    let mnist = data();
    let keras = Preset::Keras.config();
    let mut group = slow_group(c, "engine-keras", 10);
    group.throughput(criterion::Throughput::Elements(epoch_images(
        &mnist, &keras,
    )));
    let runs = [
        (
            "1 products on two threads, the rest at baseline width",
            with_devices(false, true, true, keras_epoch(&mnist, 1)),
        ),
        (
            "2 + full vector width",
            with_devices(true, true, true, keras_epoch(&mnist, 1)),
        ),
        (
            "3 + optimizer split over both threads",
            with_devices(true, true, true, keras_epoch(&mnist, 2)),
        ),
    ];
    for (name, mut work) in runs {
        group.bench_function(name, |b| b.iter(&mut work));
    }
    group.finish();
}

/// The engine's epoch of `config` on its own threads.
fn preset_epoch(mnist: &Mnist, config: Config) -> Work {
    let threads = config.threads;
    engine_epoch(mnist, config, Kernel::Engine { threads })
}

/// Times `work` as the one benchmark `id` of a (re)opened `group`.
fn time_one(c: &mut Criterion, group: &str, seconds: u64, images: u64, id: &str, mut work: Work) {
    let mut group = slow_group(c, group, seconds);
    group.throughput(criterion::Throughput::Elements(images));
    group.bench_function(id, |b| b.iter(&mut work));
    group.finish();
}

/// Groups `epoch` and `gemm` in turns: each preset's epoch, then at once its
/// matrix products alone, so that the two numbers the book divides are
/// measured seconds apart, not minutes (a shared machine's speed drifts).
/// The products are named as the epochs they belong to, so that the tables
/// can pair them.
fn bench_epochs_and_products(c: &mut Criterion) {
    let mnist = data();
    let all = mnist.train.len() as u64;
    let stage3 = stage3_network_epoch(&mnist);
    time_one(c, "epoch", 10, all, "1 stage 3 network, batch 32", stage3);
    let presets = [
        ("2 numpy-mlp", "numpy-mlp", Preset::NumpyMlp.config()),
        ("3 keras, 1 thread", "keras, 1 thread", keras_1_thread()),
        (
            "4 keras, 2 threads",
            "keras, 2 threads",
            Preset::Keras.config(),
        ),
    ];
    for (epoch_id, products_id, config) in presets {
        let images = epoch_images(&mnist, &config);
        let epoch = preset_epoch(&mnist, config.clone());
        time_one(c, "epoch", 10, images, epoch_id, epoch);
        let products = epoch_gemms(&mnist, config.clone(), false);
        time_one(c, "gemm", 5, images, products_id, products);
        if products_id == "numpy-mlp" {
            // What the register tiles buy, on the products alone.
            let products = with_devices(true, true, false, epoch_gemms(&mnist, config, false));
            let id = "numpy-mlp, without register tiles";
            time_one(c, "gemm", 5, images, id, products);
        }
    }
}

fn bench_cpu_time(c: &mut Criterion) {
    let mnist = data();
    let mut group = slow_group(c, "cpu-time", 10);
    let numpy = || Preset::NumpyMlp.config();
    let (numpy_images, keras_images) = (
        epoch_images(&mnist, &numpy()),
        epoch_images(&mnist, &keras_1_thread()),
    );
    let runs = [
        (
            "epoch/numpy-mlp",
            numpy_images,
            preset_epoch(&mnist, numpy()),
        ),
        (
            "gemm/numpy-mlp",
            numpy_images,
            epoch_gemms(&mnist, numpy(), false),
        ),
        (
            "gemm/numpy-mlp-nalgebra",
            numpy_images,
            epoch_gemms(&mnist, numpy(), true),
        ),
        (
            "engine/1 stage 3 layers",
            numpy_images,
            plain_epoch(&mnist, numpy(), plain_network(&numpy())),
        ),
        (
            "epoch/1 stage 3 network, batch 32",
            mnist.train.len() as u64,
            stage3_network_epoch(&mnist),
        ),
        (
            "epoch/keras-1-thread",
            keras_images,
            preset_epoch(&mnist, keras_1_thread()),
        ),
        (
            "gemm/keras-1-thread",
            keras_images,
            epoch_gemms(&mnist, keras_1_thread(), false),
        ),
        (
            "gemm/keras-1-thread-nalgebra",
            keras_images,
            epoch_gemms(&mnist, keras_1_thread(), true),
        ),
    ];
    for (name, images, mut work) in runs {
        group.throughput(criterion::Throughput::Elements(images));
        group.bench_function(name, |b| b.iter_custom(|iters| cpu_timed(iters, &mut work)));
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_engine,
    bench_engine_keras,
    bench_epochs_and_products,
    bench_cpu_time
);
criterion_main!(benches);
