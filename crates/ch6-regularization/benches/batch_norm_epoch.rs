//! # Stage 5 bench: what batch normalisation and dropout cost per epoch
//!
//! Stage 5 of the course (chapter 6). `cargo bench -p ch6-regularization`
//! times, in group `regularization`, one training epoch over the first
//! 10,000 MNIST training images (100 Adam steps of batch 100, one thread) of
//! the full-data recipe's network, 784-256-256-10 ReLU, images per second as
//! criterion's throughput:
//! - `0` stage 4's engine (`ch6_mlp::Mlp`, kept buffers, fused softmax), the
//!   same network and optimizer, no batch norm: the baseline of the ladder;
//! - `1` this stage's network with neither batch norm nor dropout: the cost of
//!   its plainly written glue around the same `Dense` products;
//! - `2` with batch normalisation: the cost of batch norm;
//! - `3` with batch normalisation and dropout 0.2: the recipe's epoch.
//!
//! Every sample is one whole epoch, so sample_size is 10 (criterion's
//! minimum) and sampling is flat.

use std::hint::black_box;
use std::time::Duration;

use ch6_mlp::Mlp;
use ch6_mlp::OptimizerKind;
use ch6_mlp::engine::train::{Measure, train};
use ch6_mlp::engine::train_step;
use ch6_mlp::init::Init;
use ch6_regularization::network::{Config, RegularizedNet};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use mnist::{BatchSampler, Dataset, Mnist};

const IMAGES: usize = 10_000;

fn recipe(batch_norm: bool, dropout: f64) -> Config {
    Config {
        hidden: vec![256, 256],
        batch_norm,
        dropout,
        weight_decay: 0.0,
        init: Init::He,
        weight_scale: None,
        optimizer: OptimizerKind::Adam,
        learning_rate: 0.001,
        batch_size: 100,
        epochs: 1,
    }
}

/// One epoch of this stage's network with the engine's loop (as
/// `ch6_regularization::train::train` runs it); each call trains on.
fn stage5_epoch(data: &Dataset, config: Config) -> Box<dyn FnMut() + '_> {
    let mut net = RegularizedNet::<f32>::new(&config, 42);
    let mut seed = 43;
    Box::new(move || {
        seed += 1;
        let schedule = config.schedule(seed);
        let mut optimizer = config.optimizer.build::<f32>(config.learning_rate);
        let measure = Measure::default();
        train(
            &mut net,
            optimizer.as_mut(),
            &schedule,
            data,
            measure,
            None,
            |event| {
                black_box(event);
                Ok::<_, ()>(())
            },
        )
        .unwrap();
    })
}

/// One epoch of stage 4's engine on the same network and optimizer.
fn stage4_epoch(data: &Dataset, config: Config) -> Box<dyn FnMut() + '_> {
    let mut mlp = Mlp::<f32>::new(&config.sizes(), config.init, 42, 1);
    let mut optimizer = config.optimizer.build::<f32>(config.learning_rate);
    let mut sampler = BatchSampler::new(data.len(), 43);
    Box::new(move || {
        for batch in &sampler.epoch(config.batch_size) {
            black_box(train_step(&mut mlp, data, batch, optimizer.as_mut()));
        }
    })
}

fn bench_regularization(c: &mut Criterion) {
    let mnist = Mnist::load_from(None).expect("MNIST data (data/mnist/ or $MNIST_DIR)");
    let data = mnist.train.first(IMAGES);
    let mut group = c.benchmark_group("regularization");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(IMAGES as u64));
    let runs = [
        (
            "0 stage 4 engine, plain",
            stage4_epoch(&data, recipe(false, 0.0)),
        ),
        ("1 stage 5, plain", stage5_epoch(&data, recipe(false, 0.0))),
        (
            "2 stage 5, batch norm",
            stage5_epoch(&data, recipe(true, 0.0)),
        ),
        (
            "3 stage 5, batch norm + dropout",
            stage5_epoch(&data, recipe(true, 0.2)),
        ),
    ];
    for (name, mut work) in runs {
        group.bench_function(name, |b| b.iter(&mut work));
    }
    group.finish();
}

criterion_group!(benches, bench_regularization);
criterion_main!(benches);
