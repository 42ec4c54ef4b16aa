//! Training with backprop, kept quick: XOR, a few hundred mini-batch steps on
//! a slice of MNIST, per-sample SGD on a few thousand images, determinism
//! and the divergence stop.

use ch5_backprop::train::{self, MinibatchConfig, TrainEvent};
use ch5_backprop::{Activation, Network};
use train_cli::{CommonArgs, Reporter, RunInfo, TrainError};

fn quiet_args(seed: u64) -> CommonArgs {
    CommonArgs {
        seed,
        data_dir: None,
        train_size: None,
        plot: None,
        json: false,
        quiet: true,
        force: false,
    }
}

/// Hands one event of a training loop to the reporter, as the program does.
fn record(reporter: &mut Reporter, event: TrainEvent) -> Result<(), TrainError> {
    match event {
        TrainEvent::Step(loss) => reporter.step(loss),
        TrainEvent::Evaluated(a) => {
            reporter.evaluated(a.train, a.validation, a.test.unwrap_or(f64::NAN));
            Ok(())
        }
    }
}

fn reporter(steps: usize, learning_rate: f64) -> Reporter {
    let info = RunInfo {
        stage: "ch5-backprop test".into(),
        network: "test".into(),
        parameters: 0,
        steps,
        batch_size: 100,
        learning_rate,
        train_size: 0,
        test_size: 10_000,
        seed: 42,
    };
    Reporter::start(info, &quiet_args(42))
}

fn data() -> &'static mnist::Mnist {
    static DATA: std::sync::OnceLock<mnist::Mnist> = std::sync::OnceLock::new();
    DATA.get_or_init(|| mnist::Mnist::load_from(None).expect("data/mnist"))
}

#[test]
fn xor_is_learned_with_the_default_recipe() {
    // 2-3-1 tanh, MSE, per-sample SGD, learning rate 0.1, 1000 epochs, seed 42.
    let mut net = Network::<f64>::tanh_mlp(&[2, 3, 1], 42);
    let loss = train::train_xor(&mut net, 1000, 0.1, |_, _| {});
    let (x, t) = train::xor_data::<f64>();
    let y = net.predict(&x).clone();
    assert_eq!(y.map(f64::round), t, "outputs {y}");
    assert!(loss < 0.01, "final loss {loss}");
}

#[test]
fn xor_is_learned_from_at_least_half_the_seeds() {
    // Not only one lucky seed. Some seeds do end in a local minimum where
    // every output is about 0.52 (measured: seeds 3, 5, 7 and 9 of 0–9).
    let solved = (0..10)
        .filter(|&seed| {
            let mut net = Network::<f64>::tanh_mlp(&[2, 3, 1], seed);
            train::train_xor(&mut net, 1000, 0.1, |_, _| {});
            let (x, t) = train::xor_data::<f64>();
            net.predict(&x).map(f64::round) == t
        })
        .count();
    assert!(solved >= 5, "only {solved} of 10 seeds solved XOR");
}

fn minibatch_run(seed: u64, steps: usize) -> (Vec<f64>, f64) {
    let train_set = data().train.first(5_000);
    let test_set = data().test.first(2_000);
    let mut net = Network::<f64>::two_layer(784, 50, 10, Activation::Relu, 0.01, seed);
    let mut reporter = reporter(steps, 0.1);
    let config = MinibatchConfig {
        steps,
        batch_size: 100,
        learning_rate: 0.1,
        seed: seed + 1,
    };
    train::train_minibatch(&mut net, &train_set, &test_set, config, |e| {
        record(&mut reporter, e)
    })
    .unwrap();
    let losses = reporter.history().iter().map(|e| e.loss).collect();
    (losses, train::accuracy(&mut net, &test_set))
}

#[test]
fn the_chapter_5_recipe_learns_on_a_slice_of_mnist() {
    let (losses, accuracy) = minibatch_run(42, 500);
    assert!(accuracy > 0.85, "test accuracy {accuracy} after 500 steps");
    assert!(losses.last() < losses.first(), "losses {losses:?}");
}

#[test]
fn same_seed_same_numbers() {
    let (a, acc_a) = minibatch_run(7, 60);
    let (b, acc_b) = minibatch_run(7, 60);
    assert_eq!(a, b);
    assert_eq!(acc_a, acc_b);
    let (c, _) = minibatch_run(8, 60);
    assert_ne!(a, c);
}

#[test]
fn per_sample_sgd_learns_on_a_slice_of_mnist() {
    // The tutorial's network starts slowly (its uniform initial weights
    // saturate many tanh units): about 47% after 5,000 images, 91% after
    // the full epoch of 60,000 (`cargo run -p ch5-backprop -- per-sample`).
    let train_set = data().train.first(5_000);
    let test_set = data().test.first(2_000);
    let mut net = Network::<f32>::tanh_mlp(&[784, 100, 50, 10], 42);
    let mut reporter = reporter(5_000, 0.1);
    train::train_per_sample(&mut net, &train_set, &test_set, 1, 0.1, 2_500, |e| {
        record(&mut reporter, e)
    })
    .unwrap();
    let history = reporter.history();
    assert_eq!(history.len(), 2);
    let accuracy = history[1].test_accuracy;
    assert!(
        accuracy > 0.35,
        "test accuracy {accuracy} after 5,000 samples (chance is 0.1)"
    );
    assert!(history[1].loss < history[0].loss, "{history:?}");
}

#[test]
fn a_learning_rate_that_blows_the_loss_up_stops_with_a_message() {
    // At learning rate 50 the loss stays finite (softmax is computed from
    // the scores), but it climbs far above where it started: that is caught
    // within a few steps, not 100 steps later at 10% accuracy.
    let train_set = data().train.first(1_000);
    let test_set = data().test.first(100);
    for learning_rate in [50.0, 1e100] {
        let mut net = Network::<f64>::two_layer(784, 50, 10, Activation::Relu, 0.01, 1);
        let mut reporter = reporter(100, learning_rate);
        let config = MinibatchConfig {
            steps: 100,
            batch_size: 100,
            learning_rate,
            seed: 2,
        };
        let err = train::train_minibatch(&mut net, &train_set, &test_set, config, |e| {
            record(&mut reporter, e)
        })
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("smaller --learning-rate"), "{message}");
        let TrainError::Diverged { step, .. } = err else {
            panic!("{message}")
        };
        assert!(step < 20, "{message}");
    }
}

#[test]
fn huge_initial_weights_are_blamed_not_the_learning_rate() {
    let train_set = data().train.first(1_000);
    let test_set = data().test.first(100);
    let mut net = Network::<f64>::two_layer(784, 50, 10, Activation::Relu, 1e300, 1);
    let mut reporter = reporter(10, 0.1).with_init_flag("--init-std");
    let config = MinibatchConfig {
        steps: 10,
        batch_size: 100,
        learning_rate: 0.1,
        seed: 2,
    };
    let err = train::train_minibatch(&mut net, &train_set, &test_set, config, |e| {
        record(&mut reporter, e)
    })
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TrainError::BadStart { .. }), "{message}");
    assert!(message.contains("--init-std"), "{message}");
    assert!(!message.contains("--learning-rate"), "{message}");
}
