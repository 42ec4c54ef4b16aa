//! # Training, and the chapter's two experiments
//!
//! Stage 5 of the course (chapter 6). The network trains with stage 4's one
//! training loop ([`ch6_mlp::engine::train`]), the loop every network of
//! stages 4 to 7 shares: [`train`] only builds a fresh network and its
//! optimizer and says how long it trains. The loop measures whichever sets
//! it is told to: the experiments below measure train and test accuracy
//! (they study overfitting, they choose nothing); the search in
//! [`crate::search`] measures only its validation split.
//!
//! - [`overfit`]: the book's overfitting experiment: six hidden layers of
//!   100 on 300 images, with no regularisation, with weight decay, with dropout;
//! - [`batch_norm_effect`]: the same deep network on 1,000 images, with and
//!   without batch normalisation, from initial weight scales 1 to 10⁻⁴.

use ch6_mlp::engine::optim::OptimizerKind;
use ch6_mlp::engine::train::{self as engine, Measure, TrainEvent, Trained};
use ch6_mlp::init::Init;
use mnist::Dataset;

use crate::network::{Config, ConfigError, RegularizedNet};

// ANCHOR: train
/// Trains a fresh network of `config` from `seed` on `data` with stage 4's
/// training loop: each epoch a fresh shuffle (from `seed + 1`) cut into
/// whole batches ([`Config::schedule`]), one step of `config`'s optimizer
/// each; measured as `measure` says. `report` sees every step's loss
/// (weight decay included) and every measurement; its error stops training.
pub fn train<E>(
    config: &Config,
    seed: u64,
    data: &Dataset,
    measure: Measure<'_>,
    report: impl FnMut(TrainEvent) -> Result<(), E>,
) -> Result<(RegularizedNet<f32>, Trained), E> {
    let mut net = RegularizedNet::<f32>::new(config, seed);
    let mut optimizer = config.optimizer.build::<f32>(config.learning_rate);
    let schedule = config.schedule(seed);
    let trained = engine::train(
        &mut net,
        optimizer.as_mut(),
        &schedule,
        data,
        measure,
        None,
        report,
    )?;
    Ok((net, trained))
}
// ANCHOR_END: train

/// Why an experiment's run stopped early.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the loss became {loss} at step {step}")]
    Diverged { step: usize, loss: f64 },
}

/// Train and test accuracy of one run after the epochs in `epochs`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Curve {
    pub name: String,
    pub epochs: Vec<usize>,
    pub train: Vec<f64>,
    pub test: Vec<f64>,
    /// Set when the loss stopped being finite: the curves end there.
    pub diverged: Option<String>,
}

/// Named lines of `(x, accuracy in %)` points: a chart's data.
pub type Lines = Vec<(String, Vec<(f64, f64)>)>;

impl Curve {
    /// `(epoch, 100·accuracy)` points of `accuracies`, this curve's `train`
    /// or `test`.
    pub fn points(&self, accuracies: &[f64]) -> Vec<(f64, f64)> {
        let pairs = self.epochs.iter().zip(accuracies);
        pairs.map(|(&e, a)| (e as f64, 100.0 * a)).collect()
    }

    /// Final train accuracy minus final test accuracy.
    pub fn gap(&self) -> f64 {
        self.train.last().copied().unwrap_or(f64::NAN)
            - self.test.last().copied().unwrap_or(f64::NAN)
    }
}

/// Trains a fresh network of `config` from `seed` on `train`, measuring
/// accuracy on `train` and (if given) `test` after every `every` epochs and
/// after the last. A loss that
/// stops being finite ends the run, recorded in the curve, not as an error.
pub fn run(
    name: &str,
    config: &Config,
    seed: u64,
    train_set: &Dataset,
    test: Option<&Dataset>,
    every: usize,
) -> Result<Curve, ConfigError> {
    config.check(train_set.len())?;
    let steps_per_epoch = config.steps_per_epoch(train_set.len());
    let mut curve = Curve {
        name: name.into(),
        epochs: Vec::new(),
        train: Vec::new(),
        test: Vec::new(),
        diverged: None,
    };
    let measure = Measure {
        train: Some(train_set),
        test,
        every,
        ..Measure::default()
    };
    let mut steps = 0;
    let outcome = train(config, seed, train_set, measure, |event| {
        match event {
            TrainEvent::Step(loss) if !loss.is_finite() => {
                return Err(RunError::Diverged {
                    step: steps + 1,
                    loss,
                });
            }
            TrainEvent::Step(_) => steps += 1,
            TrainEvent::Evaluated(accuracies) => {
                curve.epochs.push(steps / steps_per_epoch);
                curve.train.extend(accuracies.train);
                curve.test.extend(accuracies.test);
            }
        }
        Ok(())
    });
    if let Err(e) = outcome {
        curve.diverged = Some(e.to_string());
    }
    Ok(curve)
}

/// The deep network of the book's overfitting and batch-norm experiments:
/// six hidden layers of 100.
pub const DEEP: [usize; 6] = [100; 6];

// ANCHOR: overfit
/// The book's overfitting settings: the deep network, He initial weights, SGD
/// η = 0.01, batches of 100, no regularisation.
pub fn overfit_config(epochs: usize) -> Config {
    Config {
        hidden: DEEP.to_vec(),
        batch_norm: false,
        dropout: 0.0,
        weight_decay: 0.0,
        init: Init::He,
        weight_scale: None,
        optimizer: OptimizerKind::Sgd,
        learning_rate: 0.01,
        batch_size: 100,
        epochs,
    }
}

/// The three runs of the overfitting experiment: `base` as it is, with
/// weight decay `λ`, and with dropout `ratio`.
pub fn overfit_runs(base: &Config, weight_decay: f64, dropout: f64) -> Vec<(String, Config)> {
    vec![
        ("no regularisation".to_string(), base.clone()),
        (
            format!("weight decay λ = {weight_decay}"),
            Config {
                weight_decay,
                ..base.clone()
            },
        ),
        (
            format!("dropout {dropout}"),
            Config {
                dropout,
                ..base.clone()
            },
        ),
    ]
}

/// Trains each of `runs` from `seed` on `train_set`, accuracies on it and
/// on `test` every `every` epochs. Every setting is checked before the first trains.
pub fn overfit(
    runs: &[(String, Config)],
    seed: u64,
    train_set: &Dataset,
    test: &Dataset,
    every: usize,
    mut progress: impl FnMut(&Curve),
) -> Result<Vec<Curve>, ConfigError> {
    for (_, config) in runs {
        config.check(train_set.len())?;
    }
    let mut curves = Vec::new();
    for (name, config) in runs {
        let curve = run(name, config, seed, train_set, Some(test), every)?;
        progress(&curve);
        curves.push(curve);
    }
    Ok(curves)
}
// ANCHOR_END: overfit

// ANCHOR: batch_norm_effect
/// `count` initial weight scales from 1 down to 10⁻⁴, evenly on a log scale
/// (the book's `np.logspace(0, -4, num=16)`).
pub fn weight_scales(count: usize) -> Vec<f64> {
    let last = count.saturating_sub(1).max(1) as f64;
    (0..count)
        .map(|i| 10f64.powf(-4.0 * i as f64 / last))
        .collect()
}

/// For each scale, the deep network trained from `N(0, scale²)` weights
/// (SGD η = 0.01, batches of 100, as the book) with and without batch
/// normalisation; train accuracy after each epoch. Returns `(scale, with, without)`.
pub fn batch_norm_effect(
    scales: &[f64],
    epochs: usize,
    seed: u64,
    train_set: &Dataset,
    mut progress: impl FnMut(f64, &Curve, &Curve),
) -> Result<Vec<(f64, Curve, Curve)>, ConfigError> {
    let mut results = Vec::new();
    for &scale in scales {
        let base = Config {
            weight_scale: Some(scale),
            ..overfit_config(epochs)
        };
        let with = run(
            "with BatchNorm",
            &Config {
                batch_norm: true,
                ..base.clone()
            },
            seed,
            train_set,
            None,
            1,
        )?;
        let without = run("without", &base, seed, train_set, None, 1)?;
        progress(scale, &with, &without);
        results.push((scale, with, without));
    }
    Ok(results)
}
// ANCHOR_END: batch_norm_effect

/// Mean final train accuracy of the runs with and without batch norm.
pub fn mean_final_train(results: &[(f64, Curve, Curve)]) -> (f64, f64) {
    let last = |c: &Curve| c.train.last().copied().unwrap_or(0.0);
    let n = results.len().max(1) as f64;
    let with = results.iter().map(|(_, w, _)| last(w)).sum::<f64>() / n;
    let without = results.iter().map(|(_, _, wo)| last(wo)).sum::<f64>() / n;
    (with, without)
}

// ANCHOR: overfit_table
/// The overfitting experiment's table: each run's final train and test
/// accuracy and the gap between them, and why a run stopped early.
pub fn overfit_table(curves: &[Curve]) -> String {
    let mut table = format!(
        "{:<24} {:>8} {:>8} {:>8}",
        "after the last epoch", "train", "test", "gap"
    );
    for c in curves {
        let (train, test) = (
            c.train.last().copied().unwrap_or(0.0),
            c.test.last().copied().unwrap_or(0.0),
        );
        let stopped = c
            .diverged
            .as_ref()
            .map_or(String::new(), |d| format!("  (stopped: {d})"));
        table += &format!(
            "\n{:<24} {:>7.2}% {:>7.2}% {:>6.2} points{stopped}",
            c.name,
            100.0 * train,
            100.0 * test,
            100.0 * c.gap(),
        );
    }
    table
}
// ANCHOR_END: overfit_table

/// The overfitting chart: each run's train and test accuracy per epoch.
pub fn overfit_lines(curves: &[Curve]) -> Lines {
    let lines = curves.iter().flat_map(|c| {
        [
            (format!("{}: train", c.name), c.points(&c.train)),
            (format!("{}: test", c.name), c.points(&c.test)),
        ]
    });
    lines.collect()
}

/// The batch-norm chart, one panel per weight scale: train accuracy per
/// epoch with and without batch norm.
pub fn batch_norm_panels(results: &[(f64, Curve, Curve)]) -> Vec<(String, Lines)> {
    let line = |c: &Curve| (c.name.clone(), c.points(&c.train));
    let panels = results.iter().map(|(scale, with, without)| {
        let title = format!("weights N(0, {scale:.2e}²)");
        (title, vec![line(with), line(without)])
    });
    panels.collect()
}

/// A run's final train accuracy, `97.3%`, or `stopped` when it has none.
pub fn final_train(curve: &Curve) -> String {
    curve
        .train
        .last()
        .map_or("stopped".into(), |a| format!("{:.1}%", 100.0 * a))
}

/// The batch-norm experiment's table: the final train accuracy with and
/// without batch norm for each scale, and their means.
pub fn batch_norm_table(results: &[(f64, Curve, Curve)]) -> String {
    let mut table = format!(
        "{:<12} {:>22} {:>22}\n",
        "weight scale", "train, with BatchNorm", "train, without"
    );
    for (s, with, without) in results {
        table += &format!(
            "{s:<12.3e} {:>22} {:>22}\n",
            final_train(with),
            final_train(without)
        );
    }
    let (with, without) = mean_final_train(results);
    table
        + &format!(
            "Mean final train accuracy over the {} scales: {:.1}% with batch norm, {:.1}% without",
            results.len(),
            100.0 * with,
            100.0 * without
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` made-up images whose label is written into their pixels, so a
    /// network can learn them.
    pub(crate) fn learnable(n: usize) -> Dataset {
        let labels: Vec<u8> = (0..n).map(|i| (i * 7 % 10) as u8).collect();
        let mut pixels = vec![0u8; n * mnist::IMAGE_SIZE];
        for (i, &label) in labels.iter().enumerate() {
            let image = &mut pixels[i * mnist::IMAGE_SIZE..(i + 1) * mnist::IMAGE_SIZE];
            for (p, v) in image.iter_mut().enumerate() {
                *v = if p % 10 == label as usize {
                    200
                } else {
                    ((p * 31 + i * 17) % 50) as u8
                };
            }
        }
        Dataset::from_parts(pixels, labels)
    }

    #[test]
    fn the_same_seed_trains_the_same_numbers() {
        let data = learnable(200);
        let config = Config {
            hidden: vec![20, 20],
            batch_norm: true,
            dropout: 0.2,
            weight_decay: 1e-3,
            epochs: 3,
            batch_size: 20,
            learning_rate: 0.1,
            ..overfit_config(3)
        };
        // Every step's loss, bit for bit: initial weights, batches and dropout masks.
        let losses = |seed| {
            let mut losses = Vec::new();
            train(&config, seed, &data, Measure::default(), |e| {
                if let TrainEvent::Step(loss) = e {
                    losses.push(loss);
                }
                Ok::<_, ()>(())
            })
            .unwrap();
            losses
        };
        let a = losses(5);
        assert_eq!(a.len(), 30, "3 epochs of 10 batches");
        assert_eq!(a, losses(5));
        assert_ne!(a, losses(6), "another seed, another run");
    }

    #[test]
    fn a_diverging_run_ends_its_curve_and_says_so() {
        let data = learnable(100);
        let config = Config {
            hidden: vec![20],
            learning_rate: 1e30,
            batch_size: 10,
            ..overfit_config(5)
        };
        let curve = run("huge", &config, 1, &data, None, 1).unwrap();
        assert!(
            curve
                .diverged
                .as_deref()
                .unwrap()
                .contains("the loss became"),
            "{curve:?}"
        );
        assert!(curve.train.len() < 5);
    }

    #[test]
    fn curves_are_measured_every_few_epochs_and_after_the_last() {
        let data = learnable(100);
        let config = Config {
            hidden: vec![20],
            batch_size: 30,
            ..overfit_config(7)
        };
        let curve = run("every 3", &config, 1, &data, Some(&data), 3).unwrap();
        assert_eq!(
            curve.epochs,
            vec![3, 6, 7],
            "100 images: 3 whole batches an epoch"
        );
        assert_eq!((curve.train.len(), curve.test.len()), (3, 3));
        assert_eq!(
            curve.train, curve.test,
            "the same images, the same accuracy"
        );
        let table = overfit_table(&[curve]);
        assert_eq!(table.lines().count(), 2);
        assert!(table.starts_with("after the last epoch        train     test      gap\nevery 3"));
        assert!(table.ends_with("  0.00 points"), "{table}");
    }

    #[test]
    fn the_batch_norm_table_says_stopped_for_a_run_without_measurements() {
        let curve = |train: Vec<f64>| Curve {
            name: "c".into(),
            epochs: (1..=train.len()).collect(),
            train,
            test: Vec::new(),
            diverged: None,
        };
        let results = [(1.0, curve(vec![0.5, 0.8]), curve(Vec::new()))];
        let table = batch_norm_table(&results);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            format!("{:<12} {:>22} {:>22}", "1.000e0", "80.0%", "stopped")
        );
        assert!(
            lines[2].ends_with("80.0% with batch norm, 0.0% without"),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn chart_lines_are_percent_against_the_measured_epochs() {
        let c = Curve {
            name: "plain".into(),
            epochs: vec![5, 10],
            train: vec![0.5, 0.75],
            test: vec![0.25, 0.5],
            diverged: None,
        };
        let lines = overfit_lines(std::slice::from_ref(&c));
        assert_eq!(
            lines[0],
            ("plain: train".into(), vec![(5.0, 50.0), (10.0, 75.0)])
        );
        assert_eq!(
            lines[1],
            ("plain: test".into(), vec![(5.0, 25.0), (10.0, 50.0)])
        );
        let panels = batch_norm_panels(&[(0.01, c.clone(), c)]);
        assert_eq!(panels[0].0, "weights N(0, 1.00e-2²)");
        assert_eq!(panels[0].1[1].1, vec![(5.0, 50.0), (10.0, 75.0)]);
    }

    /// A network with batch norm and dropout trained for two epochs on
    /// learnable made-up digits, and those digits.
    fn trained() -> (RegularizedNet<f32>, Dataset) {
        let data = learnable(200);
        let config = Config {
            hidden: vec![20, 15],
            batch_norm: true,
            dropout: 0.2,
            weight_decay: 1e-3,
            batch_size: 20,
            learning_rate: 0.1,
            ..overfit_config(2)
        };
        let (net, _) = train(&config, 5, &data, Measure::default(), |_| Ok::<_, ()>(())).unwrap();
        (net, data)
    }

    #[test]
    fn a_saved_network_loads_back_with_the_same_predictions() {
        use ch6_mlp::engine::{Trainable, evaluate, model_file};
        let (mut net, data) = trained();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        std::fs::write(&path, model_file::to_bytes(&net)).unwrap();
        assert!(model_file::is_model::<RegularizedNet<f32>>(&path));
        let mut loaded: RegularizedNet<f32> = model_file::load(&path, 1).unwrap();
        assert_eq!(
            loaded.describe(),
            "784-20-15-10 ReLU, BatchNorm, dropout 0.2"
        );
        assert_eq!(loaded.parameter_count(), net.parameter_count());
        assert_eq!(loaded.weight_decay, net.weight_decay);
        // Every score, bit for bit: the running averages came along.
        let all: Vec<usize> = (0..data.len()).collect();
        net.load_batch(&data, &all);
        loaded.load_batch(&data, &all);
        assert_eq!(net.scores(), loaded.scores());
        let predicted = evaluate::predictions(&mut net, &data);
        assert_eq!(predicted, evaluate::predictions(&mut loaded, &data));
        assert_eq!(model_file::to_bytes(&loaded), model_file::to_bytes(&net));
    }

    #[test]
    fn a_bad_model_file_is_refused_with_a_message_naming_it() {
        use ch6_mlp::engine::Trainable;
        use ch6_mlp::engine::model_file::{self, Tensor, safetensors_bytes};
        let (net, _) = trained();
        let dir = tempfile::tempdir().unwrap();
        // The saved file with one metadata entry or one tensor changed.
        let write = |name: &str, key: &str, value: &str, drop: Option<&str>| {
            let (metadata, tensors) = net.model();
            let mut metadata: std::collections::BTreeMap<&str, String> =
                metadata.into_iter().collect();
            metadata.insert("format", "ch6-regularization".into());
            metadata.insert(key, value.into());
            let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
                .into_iter()
                .filter(|t: &Tensor| Some(t.name.as_str()) != drop)
                .map(|t| {
                    let bytes = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
                    (t.name, t.shape, bytes)
                })
                .collect();
            let path = dir.path().join(name);
            std::fs::write(&path, safetensors_bytes(&metadata, &tensors)).unwrap();
            path
        };
        let refused = |path: &std::path::Path, says: &str| {
            let err = model_file::load::<RegularizedNet<f32>>(path, 1)
                .err()
                .expect("a bad file is refused")
                .to_string();
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains(says), "{err}");
        };
        refused(&write("ratio", "dropout", "1.5", None), "a ratio in [0, 1)");
        refused(
            &write("zero", "sizes", "784,0,15,10", None),
            "none of them 0",
        );
        refused(
            &write("fashion", "sizes", "784,20,15,5", None),
            "MNIST needs 784 and 10",
        );
        refused(
            &write("bn", "batch_norm", "yes", None),
            "neither `true` nor `false`",
        );
        refused(&write("eps", "batch_norm_epsilon", "NaN", None), "above 0");
        refused(
            &write("gone", "dropout", "0.2", Some("batch_norm1.running_var")),
            "`batch_norm1.running_var` is missing",
        );
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a model").unwrap();
        refused(&text, "not a valid safetensors file");
    }

    #[test]
    fn scales_run_from_one_to_ten_to_the_minus_four() {
        let s = weight_scales(16);
        assert_eq!(s.len(), 16);
        assert_eq!(s[0], 1.0);
        assert!((s[15] - 1e-4).abs() < 1e-18);
        assert!(s.windows(2).all(|w| w[1] < w[0]));
    }
}
