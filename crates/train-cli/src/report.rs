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
    pub seed: u64,
}

pub use mnist::{Accuracies, TrainEvent};

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

/// Training stopped for a reason the learner should read.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(
        "training diverged: the loss became {loss} at step {step} with learning rate {}.\n  \
         Try a smaller --learning-rate (for example {})",
        short(*.learning_rate),
        short(*.suggestion)
    )]
    Diverged {
        step: usize,
        loss: f64,
        learning_rate: f64,
        suggestion: f64,
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
        }
    }

    /// Prints a line for the learner (above the progress bar; nothing with `--quiet`).
    pub fn note(&self, line: &str) {
        match &self.progress {
            Progress::Bar(bar) => bar.println(line),
            Progress::Lines => eprintln!("{line}"),
            Progress::Silent => {}
        }
    }

    /// Records the loss of one training step. A NaN or infinite loss stops
    /// training with [`TrainError::Diverged`].
    pub fn step(&mut self, loss: f64) -> Result<(), TrainError> {
        self.step += 1;
        if !loss.is_finite() {
            if let Progress::Bar(bar) = &self.progress {
                bar.abandon();
            }
            return Err(TrainError::Diverged {
                step: self.step,
                loss,
                learning_rate: self.info.learning_rate,
                suggestion: self.info.learning_rate / 10.0,
            });
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

    /// Records what a stage's training loop reports: [`Reporter::step`] for
    /// a step, [`Reporter::evaluated`] for an evaluation.
    pub fn record(&mut self, event: TrainEvent) -> Result<(), TrainError> {
        match event {
            TrainEvent::Step(loss) => self.step(loss),
            TrainEvent::Evaluated(acc) => {
                self.evaluated(acc);
                Ok(())
            }
        }
    }

    /// Steps recorded so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Seconds spent training so far, not counting evaluations.
    pub fn training_seconds(&self) -> f64 {
        (self.started.elapsed() - self.evaluating).as_secs_f64()
    }

    /// Runs `measure` (which computes accuracies) off the training clock and
    /// records the result in the history.
    pub fn evaluate(&mut self, measure: impl FnOnce() -> Accuracies) -> Accuracies {
        let acc = measure();
        self.evaluated(acc);
        acc
    }

    /// Records accuracies measured since the last step (by a stage's own
    /// training loop): the time since that step counts as evaluating, not training.
    pub fn evaluated(&mut self, acc: Accuracies) {
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
            train_accuracy: acc.train,
            validation_accuracy: acc.validation,
            test_accuracy: acc.test,
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
    /// `--json` is given, and draws `--plot`. Returns the summary.
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
        let final_loss = match (self.history.last(), self.losses.last()) {
            (Some(e), Some(_)) if e.step == self.step => e.loss,
            (_, Some(l)) => l.1,
            _ => f64::NAN,
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
            format!(
                "Test accuracy: {:.2}% on the 10,000 test images",
                100.0 * test_accuracy
            ),
            format!(
                "Training: {} of batch {} in {:.1} s ({:.1} steps/s), final loss {:.4}",
                count(summary.steps_done, "step"),
                summary.info.batch_size,
                seconds,
                summary.steps_per_second,
                final_loss
            ),
        ];
        text.extend(lines.iter().cloned());
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
        Ok(summary)
    }
}

/// A number as a person writes it: `0.1`, `5`, but `1e300` rather than 301 digits.
fn short(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
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
            seed: 1,
        }
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
    fn evaluations_average_the_losses_since_the_last_one() {
        let mut r = Reporter::start(info(), &args(true));
        r.step(3.0).unwrap();
        r.step(1.0).unwrap();
        r.evaluate(|| Accuracies {
            test: 0.5,
            ..Default::default()
        });
        r.step(0.5).unwrap();
        r.evaluate(|| Accuracies {
            test: 0.75,
            train: Some(0.8),
            validation: None,
        });
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
    fn thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(7850), "7,850");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count(1, "step"), "1 step");
        assert_eq!(count(10_000, "step"), "10,000 steps");
        assert_eq!(count(0, "thread"), "0 threads");
    }
}
