//! Progress while training, the divergence check, and the final summary,
//! `--json` and `--plot`: what every stage's training loop reports through.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::CommonArgs;

/// What a stage tells the reporter about its run before training starts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    /// The crate name, e.g. `ch4-numerical`.
    pub stage: String,
    /// The network in words, e.g. `softmax 784→10`.
    pub network: String,
    /// Number of trainable parameters.
    pub parameters: usize,
    /// Planned number of parameter updates.
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Training images the run draws from.
    pub train_size: usize,
    /// Test images its accuracy is measured on (in a summary written before
    /// this field was: MNIST's 10,000).
    #[serde(default = "mnist_test_images")]
    pub test_size: usize,
    pub seed: u64,
}

/// MNIST's test set: 10,000 images.
fn mnist_test_images() -> usize {
    10_000
}

/// One point of the evaluation history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evaluation {
    pub step: usize,
    /// Seconds of training so far, not counting time spent evaluating.
    pub seconds: f64,
    /// Mean training loss over the steps since the previous evaluation.
    pub loss: f64,
    pub train_accuracy: Option<f64>,
    pub validation_accuracy: Option<f64>,
    pub test_accuracy: f64,
}

/// What `--json` prints: the run's settings, results and history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    #[serde(flatten)]
    pub info: RunInfo,
    pub steps_done: usize,
    pub seconds_training: f64,
    pub steps_per_second: f64,
    pub final_loss: f64,
    pub test_accuracy: f64,
    pub history: Vec<Evaluation>,
    /// Stage-specific results (gradient method, time per gradient, ...),
    /// printed as top-level keys.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A loss this many times the first one means training has blown up.
pub const BLOW_UP: f64 = 10.0;

/// The loss of a network that gives each of the 10 digits probability 1/10:
/// `ln 10`, about 2.30. Every stage's loss is MNIST's softmax cross-entropy,
/// and small initial weights start near it; a first loss far above it means
/// the initial weights are too large, before the learning rate did anything.
pub const GUESSING_LOSS: f64 = std::f64::consts::LN_10;

/// Test accuracy at or below this is no better than chance: saying one digit
/// for every image scores about 10% (the most common test digit, 1, is 11.35%).
pub const CHANCE: f64 = 0.12;

/// Training stopped for a reason the learner should read.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(
        "training diverged: the loss rose to {} at step {step}, from {} at step 1, \
         so each update overshoots the minimum by more than the last.\n  \
         Try a smaller --learning-rate (for example {}; this run used {})",
        short(*.loss), short(*.first_loss), short(*.learning_rate / 10.0), short(*.learning_rate)
    )]
    Diverged {
        step: usize,
        loss: f64,
        first_loss: f64,
        learning_rate: f64,
    },
    #[error(
        "training cannot start: the loss is {} at step 1, before any update (a network that guesses \
         scores {GUESSING_LOSS:.2}), so the learning rate is not the cause: the initial weights are too large.\n  \
         Try smaller initial weights{}",
        short(*.loss),
        .init_flag.map_or(String::new(), |f| format!(" ({f})"))
    )]
    BadStart {
        loss: f64,
        init_flag: Option<&'static str>,
    },
    #[error(
        "the network did not learn: {:.2}% test accuracy is no better than guessing (about 10%); \
         its loss went from {} at step 1 to {} at the end.\n  {}",
        100.0 * .accuracy, short(*.first_loss), short(*.final_loss),
        if .final_loss > .first_loss {
            format!("The loss rose: try a smaller --learning-rate (this run used {})", short(*.learning_rate))
        } else {
            format!("Train for longer, or try a larger --learning-rate (this run used {})", short(*.learning_rate))
        }
    )]
    NoBetterThanChance {
        accuracy: f64,
        first_loss: f64,
        final_loss: f64,
        learning_rate: f64,
    },
}

enum Progress {
    Bar(ProgressBar),
    Lines,
    Silent,
}

/// Follows a training run: counts steps, checks every loss is finite, shows
/// progress, records evaluations, and reports at the end.
pub struct Reporter {
    info: RunInfo,
    args: CommonArgs,
    progress: Progress,
    started: Instant,
    /// When the last step was recorded: the time from then to an evaluation is evaluating.
    last_step: Instant,
    evaluating: Duration,
    step: usize,
    losses: Vec<(f64, f64)>,
    loss_since_eval: (f64, usize),
    history: Vec<Evaluation>,
    /// The flag that sets the initial weights, named when they are to blame.
    init_flag: Option<&'static str>,
}

impl Reporter {
    /// Starts the clock. With a terminal on stderr and no `--quiet`, shows a
    /// progress bar; without a terminal, prints a plain line per evaluation.
    pub fn start(info: RunInfo, args: &CommonArgs) -> Reporter {
        let progress = if args.quiet {
            Progress::Silent
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(
                Some(info.steps as u64),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} steps {elapsed_precise} ETA {eta} {msg}",
                )
                .expect("valid progress template"),
            );
            Progress::Bar(bar)
        } else {
            Progress::Lines
        };
        Reporter {
            info,
            args: args.clone(),
            progress,
            started: Instant::now(),
            last_step: Instant::now(),
            evaluating: Duration::ZERO,
            step: 0,
            losses: Vec::new(),
            loss_since_eval: (0.0, 0),
            history: Vec::new(),
            init_flag: None,
        }
    }

    /// Names the flag that sets the initial weights (`--init-std`, `--init`),
    /// for the advice when a run cannot start.
    pub fn with_init_flag(mut self, flag: &'static str) -> Reporter {
        self.init_flag = Some(flag);
        self
    }

    /// Prints a line for the learner (above the progress bar; nothing with `--quiet`).
    pub fn note(&self, line: &str) {
        match &self.progress {
            Progress::Bar(bar) => bar.println(line),
            Progress::Lines => eprintln!("{line}"),
            Progress::Silent => {}
        }
    }

    /// Records the loss of one training step, and stops a run that has gone
    /// wrong: [`TrainError::BadStart`] when the first loss is not finite or
    /// far above [`GUESSING_LOSS`] (the initial weights are to blame), and
    /// [`TrainError::Diverged`] when a later loss is not finite or
    /// [`BLOW_UP`] times the first (the learning rate is).
    pub fn step(&mut self, loss: f64) -> Result<(), TrainError> {
        self.step += 1;
        let first_loss = self.losses.first().map(|l| l.1);
        let error = match first_loss {
            None if !loss.is_finite() || loss > BLOW_UP * GUESSING_LOSS => {
                Some(TrainError::BadStart {
                    loss,
                    init_flag: self.init_flag,
                })
            }
            Some(first) if !loss.is_finite() || loss > BLOW_UP * first => {
                Some(TrainError::Diverged {
                    step: self.step,
                    loss,
                    first_loss: first,
                    learning_rate: self.info.learning_rate,
                })
            }
            _ => None,
        };
        if let Some(error) = error {
            if let Progress::Bar(bar) = &self.progress {
                bar.abandon();
            }
            return Err(error);
        }
        self.last_step = Instant::now();
        self.losses.push((self.step as f64, loss));
        self.loss_since_eval.0 += loss;
        self.loss_since_eval.1 += 1;
        if let Progress::Bar(bar) = &self.progress {
            bar.set_position(self.step as u64);
        }
        Ok(())
    }

    /// Steps recorded so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Seconds spent training so far, not counting evaluations.
    pub fn training_seconds(&self) -> f64 {
        (self.started.elapsed() - self.evaluating).as_secs_f64()
    }

    /// Records the accuracies (fractions) measured since the last step, on
    /// (part of) the training set, a validation split and the test set: the
    /// time since that step counts as evaluating, not training.
    pub fn evaluated(&mut self, train: Option<f64>, validation: Option<f64>, test: f64) {
        self.evaluating += self.last_step.elapsed();
        self.last_step = Instant::now();
        let (sum, n) = std::mem::take(&mut self.loss_since_eval);
        let loss = if n > 0 {
            sum / n as f64
        } else {
            self.losses.last().map_or(f64::NAN, |l| l.1)
        };
        let eval = Evaluation {
            step: self.step,
            seconds: self.training_seconds(),
            loss,
            train_accuracy: train,
            validation_accuracy: validation,
            test_accuracy: test,
        };
        let line = describe(&eval, self.info.steps);
        match &self.progress {
            Progress::Bar(bar) => {
                bar.set_message(format!(
                    "loss {:.4} test {:.2}%",
                    eval.loss,
                    100.0 * eval.test_accuracy
                ));
                bar.println(line);
            }
            Progress::Lines => eprintln!("{line}"),
            Progress::Silent => {}
        }
        self.history.push(eval);
    }

    /// The evaluations so far.
    pub fn history(&self) -> &[Evaluation] {
        &self.history
    }

    /// Ends the run: prints the human summary (stdout, or stderr with
    /// `--json`), the stage's own `lines`, the JSON object with `extra` when
    /// `--json` is given, and draws `--plot`. Returns the summary, or
    /// [`TrainError::NoBetterThanChance`] (after all that is printed) when the
    /// network ended at chance level.
    pub fn finish(
        self,
        test_accuracy: f64,
        lines: &[String],
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> anyhow::Result<Summary> {
        let seconds = self.training_seconds();
        if let Progress::Bar(bar) = &self.progress {
            bar.finish_and_clear();
        }
        // The last evaluation's mean loss is a steadier figure than one noisy mini-batch.
        let n = self.history.len();
        let (final_loss, loss_said) = match (self.history.last(), self.losses.last()) {
            (Some(e), Some(_)) if e.step == self.step => {
                let since = n.checked_sub(2).map_or(0, |i| self.history[i].step);
                let steps = count(e.step - since, "step");
                (e.loss, format!("mean loss of the last {steps}"))
            }
            (_, Some(l)) => (l.1, "loss of the last step".to_string()),
            _ => (f64::NAN, "no loss".to_string()),
        };
        let summary = Summary {
            steps_done: self.step,
            seconds_training: seconds,
            steps_per_second: self.step as f64 / seconds.max(1e-9),
            final_loss,
            test_accuracy,
            history: self.history,
            extra,
            info: self.info,
        };
        let mut text = vec![
            format!(
                "{}: {}, {} parameters",
                summary.info.stage,
                summary.info.network,
                thousands(summary.info.parameters)
            ),
            test_line(test_accuracy, summary.info.test_size),
            format!(
                "Training: {} of batch {} in {:.1} s ({:.1} steps/s), {loss_said} {:.4}",
                count(summary.steps_done, "step"),
                summary.info.batch_size,
                seconds,
                summary.steps_per_second,
                final_loss
            ),
        ];
        text.extend(lines.iter().cloned());
        let first_loss = self.losses.first().map_or(f64::NAN, |l| l.1);
        if let Some(warning) = loss_went_up(first_loss, final_loss, summary.info.learning_rate) {
            text.push(warning);
        }
        if self.args.json {
            for line in &text {
                eprintln!("{line}");
            }
            println!("{}", serde_json::to_string(&summary)?);
        } else {
            for line in &text {
                println!("{line}");
            }
        }
        if let Some(path) = &self.args.plot {
            let title = format!("{}: {}", summary.info.stage, summary.info.network);
            let written =
                crate::draw_training_curves(path, &title, &self.losses, &summary.history)?;
            let line = written.said("Curves drawn to", path);
            if self.args.json {
                eprintln!("{line}")
            } else {
                println!("{line}")
            }
        }
        if test_accuracy <= CHANCE {
            let first_loss = self.losses.first().map_or(f64::NAN, |l| l.1);
            return Err(TrainError::NoBetterThanChance {
                accuracy: test_accuracy,
                first_loss,
                final_loss: summary.final_loss,
                learning_rate: summary.info.learning_rate,
            }
            .into());
        }
        Ok(summary)
    }
}

/// A warning when a run's loss ended above where it started (without
/// blowing up, which stops it): the steps went the wrong way on the whole.
fn loss_went_up(first: f64, last: f64, learning_rate: f64) -> Option<String> {
    (last > first).then(|| {
        format!(
            "Warning: the loss ended at {}, above where it started ({}): the steps made it worse; try a smaller --learning-rate (this run: {})",
            short(last),
            short(first),
            short(learning_rate)
        )
    })
}

/// A number as a person writes it, to four significant digits: `0.1`, `5`,
/// `2874`, `2.302`, but `1e300` and `1.815e16` rather than long rows of digits.
fn short(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return format!("{x}");
    }
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if (1e-4..1e6).contains(&x.abs()) {
        let decimals = (3 - x.abs().log10().floor() as i32).max(0) as usize;
        trim(format!("{x:.decimals$}"))
    } else {
        let text = format!("{x:.3e}");
        let (mantissa, exponent) = text.split_once('e').expect("{:e} has an e");
        format!("{}e{exponent}", trim(mantissa.to_string()))
    }
}

fn describe(eval: &Evaluation, total: usize) -> String {
    let mut line = format!("step {:>6}/{total}  loss {:.4}", eval.step, eval.loss);
    if let Some(a) = eval.train_accuracy {
        line += &format!("  train {:.2}%", 100.0 * a);
    }
    if let Some(a) = eval.validation_accuracy {
        line += &format!("  validation {:.2}%", 100.0 * a);
    }
    line + &format!(
        "  test {:.2}%  ({:.1} s)",
        100.0 * eval.test_accuracy,
        eval.seconds
    )
}

/// `12345` → `12,345`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The summary's line for the test set: its accuracy, on as many images as it has.
fn test_line(accuracy: f64, images: usize) -> String {
    let images = count(images, "test image");
    format!("Test accuracy: {:.2}% on the {images}", 100.0 * accuracy)
}

/// `n` of `noun`, in words: `1 step`, `200 steps`, `10,000 steps`.
pub fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{} {noun}s", thousands(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(quiet: bool) -> CommonArgs {
        CommonArgs {
            seed: 1,
            data_dir: None,
            train_size: None,
            plot: None,
            json: false,
            quiet,
            force: false,
        }
    }

    fn info() -> RunInfo {
        RunInfo {
            stage: "test".into(),
            network: "none".into(),
            parameters: 7850,
            steps: 3,
            batch_size: 10,
            learning_rate: 0.5,
            train_size: 100,
            test_size: 10_000,
            seed: 1,
        }
    }

    #[test]
    fn a_loss_that_ends_above_its_start_is_said() {
        let said = loss_went_up(2.3, 11.5, 1e6).expect("a warning");
        assert!(said.contains("11.5") && said.contains("2.3"), "{said}");
        assert!(
            said.contains("smaller --learning-rate") && said.contains("1e6"),
            "{said}"
        );
        assert_eq!(loss_went_up(2.3, 0.4, 0.1), None);
        assert_eq!(loss_went_up(2.3, f64::NAN, 0.1), None);
    }

    #[test]
    fn the_summary_counts_the_test_images_it_measured() {
        let line = test_line(0.975, 10_000);
        assert_eq!(line, "Test accuracy: 97.50% on the 10,000 test images");
        assert_eq!(
            test_line(1.0, 1),
            "Test accuracy: 100.00% on the 1 test image"
        );
        assert!(test_line(0.5, 2_000).ends_with("on the 2,000 test images"));
    }

    #[test]
    fn a_nan_loss_stops_training_with_advice() {
        let mut r = Reporter::start(info(), &args(true));
        r.step(2.3).unwrap();
        let err = r.step(f64::NAN).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("NaN at step 2"), "{msg}");
        assert!(
            msg.contains("smaller --learning-rate") && msg.contains("0.05"),
            "{msg}"
        );
        assert!(
            r.step(f64::INFINITY)
                .unwrap_err()
                .to_string()
                .contains("inf")
        );
    }

    #[test]
    fn a_loss_that_blows_up_stops_training_and_blames_the_learning_rate() {
        let mut r = Reporter::start(info(), &args(true));
        for loss in [2.3, 1.9, 5.0, 20.0] {
            r.step(loss).unwrap();
        }
        let err = r.step(23.5).unwrap_err();
        assert!(matches!(err, TrainError::Diverged { step: 5, .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("rose to 23.5 at step 5, from 2.3"), "{msg}");
        assert!(msg.contains("--learning-rate (for example 0.05"), "{msg}");
    }

    #[test]
    fn a_bad_first_loss_blames_the_initial_weights_and_names_their_flag() {
        for first in [f64::NAN, f64::INFINITY, 1e300, 30.0] {
            let mut r = Reporter::start(info(), &args(true)).with_init_flag("--init-std");
            let err = r.step(first).unwrap_err();
            assert!(matches!(err, TrainError::BadStart { .. }), "{err}");
            let msg = err.to_string();
            assert!(msg.contains("learning rate is not the cause"), "{msg}");
            assert!(msg.contains("(--init-std)"), "{msg}");
        }
        // Near the guessing loss, training starts.
        let mut r = Reporter::start(info(), &args(true));
        r.step(3.0).unwrap();
    }

    #[test]
    fn a_run_that_ends_at_chance_says_so() {
        let mut r = Reporter::start(info(), &args(true));
        r.step(2.3).unwrap();
        r.step(2.31).unwrap();
        let err = r.finish(0.1135, &[], Default::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("did not learn: 11.35%"), "{msg}");
        assert!(msg.contains("from 2.3 at step 1 to 2.31"), "{msg}");
        assert!(
            msg.contains("The loss rose: try a smaller --learning-rate"),
            "{msg}"
        );
        let mut r = Reporter::start(info(), &args(true));
        r.step(2.3).unwrap();
        assert!(r.finish(0.5, &[], Default::default()).is_ok());
    }

    #[test]
    fn evaluations_average_the_losses_since_the_last_one() {
        let mut r = Reporter::start(info(), &args(true));
        r.step(3.0).unwrap();
        r.step(1.0).unwrap();
        r.evaluated(None, None, 0.5);
        r.step(0.5).unwrap();
        r.evaluated(Some(0.8), None, 0.75);
        let h = r.history();
        assert_eq!((h[0].step, h[0].loss), (2, 2.0));
        assert_eq!(
            (h[1].step, h[1].loss, h[1].train_accuracy),
            (3, 0.5, Some(0.8))
        );
        let summary = r.finish(0.75, &[], Default::default()).unwrap();
        assert_eq!(summary.steps_done, 3);
        assert_eq!(summary.final_loss, 0.5);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["parameters"], 7850);
        assert_eq!(json["history"][1]["test_accuracy"], 0.75);
    }

    #[test]
    fn numbers_in_messages_are_short() {
        for (x, text) in [
            (0.1, "0.1"),
            (5.0, "5"),
            (0.05, "0.05"),
            (2874.394540447567, "2874"),
            (2.302312374453925, "2.302"),
            (1e300, "1e300"),
            (1.815492339695616e16, "1.815e16"),
            (1e6, "1e6"),
            (100_000.0, "100000"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(short(x), text);
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(7850), "7,850");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count(1, "step"), "1 step");
        assert_eq!(count(10_000, "step"), "10,000 steps");
        assert_eq!(count(0, "thread"), "0 threads");
    }
}
