//! # Hyperparameter search without looking at the test set
//!
//! Stage 5 of the course (chapter 6, "validating hyperparameters"). The
//! test set measures how a finished model does on images it has never
//! influenced. Choose a learning rate by test accuracy, and the test set has
//! influenced the model: its accuracy is then a score the search was allowed
//! to maximise, an optimistic one. So the search splits a validation set off
//! the *training* data ([`validation_split`]) and chooses by that.
//!
//! [`search`] takes a training set and a validation set, and nothing else:
//! it cannot reach the test set, by its signature. Random search (Bergstra
//! and Bengio, as the book recommends) draws each trial's learning rate and
//! weight decay uniformly on a log scale from [`LogRange`]s, from a seed.

use mnist::Dataset;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use ch6_mlp::engine::train::{Measure, TrainEvent};

use crate::network::{Config, ConfigError};
use crate::train::{Curve, RunError, train};

/// A range `[low, high]` of positive numbers searched on a log scale.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct LogRange {
    pub low: f64,
    pub high: f64,
}

/// A search that cannot be run, found before any training.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SearchError {
    #[error("the {name} range {low}..{high} is empty: its low end must not be above its high end")]
    EmptyRange {
        name: &'static str,
        low: f64,
        high: f64,
    },
    #[error("the {name} range {low}..{high} must lie above 0 (it is searched on a log scale)")]
    NotPositive {
        name: &'static str,
        low: f64,
        high: f64,
    },
    #[error("the validation fraction {0} must lie strictly between 0 and 1")]
    Fraction(f64),
    #[error(
        "a validation fraction of {fraction} of {images} images leaves {left} for validation or training: use more images or another fraction"
    )]
    TooFewImages {
        fraction: f64,
        images: usize,
        left: usize,
    },
    #[error("the number of trials must be at least 1")]
    NoTrials,
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl LogRange {
    /// The range `low..=high`, refused when empty or not above 0; `name`
    /// (`learning rate`) says which in the error.
    pub fn new(name: &'static str, low: f64, high: f64) -> Result<LogRange, SearchError> {
        if !(low.is_finite() && high.is_finite() && low > 0.0 && high > 0.0) {
            return Err(SearchError::NotPositive { name, low, high });
        }
        if low > high {
            return Err(SearchError::EmptyRange { name, low, high });
        }
        Ok(LogRange { low, high })
    }

    /// `10^u` with `u` uniform between `log₁₀ low` and `log₁₀ high`.
    pub fn draw(&self, rng: &mut StdRng) -> f64 {
        let (a, b) = (self.low.log10(), self.high.log10());
        10f64.powf(a + (b - a) * rng.random::<f64>())
    }
}

// ANCHOR: validation_split
/// Splits the training data into `(train, validation)`: the last
/// `fraction` of its images validate, the rest train. The test set is not
/// an argument: validation comes out of the training images.
pub fn validation_split(data: &Dataset, fraction: f64) -> Result<(Dataset, Dataset), SearchError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(SearchError::Fraction(fraction));
    }
    let validation = (data.len() as f64 * fraction).round() as usize;
    let left = validation.min(data.len() - validation);
    if left == 0 {
        return Err(SearchError::TooFewImages {
            fraction,
            images: data.len(),
            left,
        });
    }
    Ok(data.split_at(data.len() - validation))
}
// ANCHOR_END: validation_split

/// Where the search looks: learning rates and weight decays, each on a log scale.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Space {
    pub learning_rate: LogRange,
    pub weight_decay: LogRange,
}

/// One trial: its hyperparameters and its validation accuracy after each epoch.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Trial {
    pub number: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub validation: Vec<f64>,
    /// Set when the loss stopped being finite.
    pub diverged: Option<String>,
}

/// The search chart: each of `trials`' validation accuracy (%) per epoch,
/// named by its hyperparameters.
pub fn validation_lines(trials: &[Trial]) -> crate::train::Lines {
    let line = |t: &Trial| {
        let name = format!("η {:.1e}, λ {:.1e}", t.learning_rate, t.weight_decay);
        let points = t.validation.iter().enumerate();
        (
            name,
            points.map(|(e, a)| ((e + 1) as f64, 100.0 * a)).collect(),
        )
    };
    trials.iter().map(line).collect()
}

impl Trial {
    /// The validation accuracy after the last epoch (0 if it diverged first).
    pub fn score(&self) -> f64 {
        self.validation.last().copied().unwrap_or(0.0)
    }
}

// ANCHOR: search
/// Random search: `trials` networks of `base`, each with a learning rate
/// and a weight decay drawn from `space`
/// (from `seed`), each trained on `train` from the same initial weights and
/// batches (`seed`) and scored on `validation` after every epoch. Returns the
/// trials best first. `progress` sees each one as it ends.
pub fn search(
    base: &Config,
    space: Space,
    trials: usize,
    seed: u64,
    train_set: &Dataset,
    validation: &Dataset,
    mut progress: impl FnMut(&Trial),
) -> Result<Vec<Trial>, SearchError> {
    if trials == 0 {
        return Err(SearchError::NoTrials);
    }
    base.check(train_set.len())?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut done = Vec::new();
    for number in 1..=trials {
        let config = Config {
            learning_rate: space.learning_rate.draw(&mut rng),
            weight_decay: space.weight_decay.draw(&mut rng),
            ..base.clone()
        };
        let mut scores = Vec::new();
        let measure = Measure {
            validation: Some(validation),
            every: 1,
            ..Measure::default()
        };
        let mut steps = 0;
        let outcome = train(&config, seed, train_set, measure, |event| {
            match event {
                TrainEvent::Step(loss) if !loss.is_finite() => {
                    return Err(RunError::Diverged {
                        step: steps + 1,
                        loss,
                    });
                }
                TrainEvent::Step(_) => steps += 1,
                TrainEvent::Evaluated(accuracies) => scores.extend(accuracies.validation),
            }
            Ok(())
        });
        let trial = Trial {
            number,
            learning_rate: config.learning_rate,
            weight_decay: config.weight_decay,
            validation: scores,
            diverged: outcome.err().map(|e| e.to_string()),
        };
        progress(&trial);
        done.push(trial);
    }
    done.sort_by(|a, b| {
        b.score()
            .total_cmp(&a.score())
            .then(a.number.cmp(&b.number))
    });
    Ok(done)
}
// ANCHOR_END: search

/// The search's table: the best `show` trials ranked, then the winner
/// `best` (the first of `trials`) `retrained` on all `images` of the search
/// and its one test-set measurement.
pub fn table(trials: &[Trial], show: usize, retrained: &Curve, images: usize) -> String {
    let mut table = format!(
        "{:<6} {:>6} {:>12} {:>12} {:>11}\n",
        "rank", "trial", "η", "λ", "validation"
    );
    for (rank, t) in trials.iter().take(show).enumerate() {
        table += &format!(
            "{:<6} {:>6} {:>12.3e} {:>12.3e} {:>10.1}%\n",
            rank + 1,
            t.number,
            t.learning_rate,
            t.weight_decay,
            100.0 * t.score()
        );
    }
    let best = &trials[0];
    table
        + &format!(
            "The winner, trial {} (η = {:.3e}, λ = {:.3e}), retrained on all {images} images: test accuracy {:.2}% (train {:.2}%)",
            best.number,
            best.learning_rate,
            best.weight_decay,
            100.0 * retrained.test.last().copied().unwrap_or(0.0),
            100.0 * retrained.train.last().copied().unwrap_or(0.0),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::overfit_config;

    fn made_up(n: usize) -> Dataset {
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let pixels = (0..n * mnist::IMAGE_SIZE)
            .map(|p| {
                if p % mnist::IMAGE_SIZE % 10 == labels[p / mnist::IMAGE_SIZE] as usize {
                    220
                } else {
                    10
                }
            })
            .collect();
        Dataset::from_parts(pixels, labels)
    }

    #[test]
    fn the_validation_split_is_carved_from_the_training_images() {
        let data = made_up(50);
        let (train, validation) = validation_split(&data, 0.2).unwrap();
        assert_eq!((train.len(), validation.len()), (40, 10));
        // Together they are the training data, image for image, and nothing else.
        for i in 0..50 {
            let (set, j) = if i < 40 {
                (&train, i)
            } else {
                (&validation, i - 40)
            };
            assert_eq!(set.image(j), data.image(i));
            assert_eq!(set.labels()[j], data.labels()[i]);
        }
    }

    #[test]
    fn a_search_on_a_split_of_training_data_finds_a_working_learning_rate() {
        // The search gets the two halves of a split and nothing more; on
        // learnable made-up digits the best trial must validate well.
        let (train, validation) = validation_split(&made_up(200), 0.25).unwrap();
        let base = Config {
            hidden: vec![30, 30],
            epochs: 8,
            batch_size: 25,
            ..overfit_config(8)
        };
        let lr = LogRange::new("learning rate", 1e-3, 0.3).unwrap();
        let wd = LogRange::new("weight decay", 1e-8, 1e-4).unwrap();
        let mut seen = 0;
        let trials = search(
            &base,
            Space {
                learning_rate: lr,
                weight_decay: wd,
            },
            6,
            3,
            &train,
            &validation,
            |_| seen += 1,
        )
        .unwrap();
        assert_eq!((trials.len(), seen), (6, 6));
        assert!(
            trials.windows(2).all(|w| w[0].score() >= w[1].score()),
            "best first"
        );
        assert!(
            trials
                .iter()
                .all(|t| (1e-3..=0.3).contains(&t.learning_rate))
        );
        assert!(
            trials
                .iter()
                .all(|t| (1e-8..=1e-4).contains(&t.weight_decay))
        );
        assert!(trials[0].score() > 0.9, "best {:?}", trials[0]);
        // The same seed searches the same trials.
        let again = search(
            &base,
            Space {
                learning_rate: lr,
                weight_decay: wd,
            },
            6,
            3,
            &train,
            &validation,
            |_| {},
        )
        .unwrap();
        assert_eq!(trials, again);
    }

    #[test]
    fn the_table_ranks_the_shown_trials_then_tests_the_winner() {
        let trial = |number, validation| Trial {
            number,
            learning_rate: 1e-3,
            weight_decay: 2e-6,
            validation: vec![validation],
            diverged: None,
        };
        let retrained = Curve {
            name: "winner".into(),
            epochs: vec![3],
            train: vec![0.99],
            test: vec![0.9512],
            diverged: None,
        };
        let text = table(
            &[trial(2, 0.9), trial(1, 0.8), trial(3, 0.7)],
            2,
            &retrained,
            500,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "a heading, the 2 shown, the winner");
        assert_eq!(
            lines[1],
            "1           2     1.000e-3     2.000e-6       90.0%"
        );
        assert_eq!(
            lines[3],
            "The winner, trial 2 (η = 1.000e-3, λ = 2.000e-6), retrained on all 500 images: test accuracy 95.12% (train 99.00%)"
        );
    }

    #[test]
    fn the_chart_names_each_trial_by_its_hyperparameters() {
        let trial = Trial {
            number: 1,
            learning_rate: 0.001,
            weight_decay: 2e-5,
            validation: vec![0.5, 0.9],
            diverged: None,
        };
        let lines = validation_lines(&[trial]);
        assert_eq!(lines[0].0, "η 1.0e-3, λ 2.0e-5");
        assert_eq!(lines[0].1, vec![(1.0, 50.0), (2.0, 90.0)]);
    }

    #[test]
    fn empty_or_non_positive_ranges_and_bad_splits_are_refused() {
        assert!(matches!(
            LogRange::new("learning rate", 1e-2, 1e-6),
            Err(SearchError::EmptyRange { .. })
        ));
        assert!(matches!(
            LogRange::new("weight decay", 0.0, 1e-4),
            Err(SearchError::NotPositive { .. })
        ));
        assert!(
            LogRange::new("weight decay", 1e-4, 1e-4).is_ok(),
            "one value is a range, not an empty one"
        );
        let data = made_up(10);
        assert_eq!(
            validation_split(&data, 1.0).unwrap_err(),
            SearchError::Fraction(1.0)
        );
        assert!(matches!(
            validation_split(&data, 0.01),
            Err(SearchError::TooFewImages { .. })
        ));
        let base = overfit_config(1);
        let lr = LogRange::new("learning rate", 1e-3, 1e-2).unwrap();
        let e = search(
            &base,
            Space {
                learning_rate: lr,
                weight_decay: lr,
            },
            0,
            1,
            &data,
            &data,
            |_| {},
        )
        .unwrap_err();
        assert_eq!(e, SearchError::NoTrials);
    }
}
