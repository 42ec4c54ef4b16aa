//! The stage programs' `--json` summaries, for `cargo xtask bench`: how long
//! each stage's training takes to reach a test accuracy.
//!
//! Every stage binary prints one JSON object at the end of a `--json` run
//! (`train_cli::Summary`): its network, parameter count and the evaluation
//! history, each evaluation with the seconds of training so far (time spent
//! evaluating is not counted) and the test accuracy then. We read only the
//! fields we need, so a stage may add more.

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// One evaluation of a training run.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Evaluation {
    pub step: usize,
    /// Seconds of training before this evaluation.
    pub seconds: f64,
    /// Fraction of the 10,000 test images classified correctly, in `[0, 1]`.
    pub test_accuracy: f64,
}

/// What we read from a stage program's `--json` summary.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RunSummary {
    pub stage: String,
    pub network: String,
    pub parameters: usize,
    pub steps_done: usize,
    pub batch_size: usize,
    pub seconds_training: f64,
    pub test_accuracy: f64,
    pub history: Vec<Evaluation>,
}

/// The summary in a program's standard output: its last non-empty line.
pub fn parse_summary(stdout: &str) -> Result<RunSummary> {
    let Some(line) = stdout.lines().rev().find(|l| !l.trim().is_empty()) else {
        bail!("it printed nothing on standard output; expected one JSON summary (--json)");
    };
    let summary: RunSummary = serde_json::from_str(line).with_context(|| {
        format!(
            "its last line of output is not the --json summary expected: `{}`",
            shorten(line)
        )
    })?;
    if summary.history.is_empty() {
        bail!("its --json summary has no evaluations in \"history\"");
    }
    Ok(summary)
}

/// Seconds of training at the first evaluation whose test accuracy is at
/// least `target` (a fraction), or `None` if the run never got there.
///
/// Evaluations are spaced, so this is when the run was *seen* at the target:
/// it got there at most one evaluation interval earlier.
pub fn time_to_accuracy(history: &[Evaluation], target: f64) -> Option<f64> {
    history
        .iter()
        .find(|e| e.test_accuracy >= target)
        .map(|e| e.seconds)
}

/// The best test accuracy of a run.
pub fn best_accuracy(history: &[Evaluation]) -> Option<f64> {
    history
        .iter()
        .map(|e| e.test_accuracy)
        .fold(None, |best, a| Some(best.map_or(a, |b: f64| b.max(a))))
}

fn shorten(line: &str) -> String {
    match line.char_indices().nth(120) {
        Some((i, _)) => format!("{} ...", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(step: usize, seconds: f64, test_accuracy: f64) -> Evaluation {
        Evaluation {
            step,
            seconds,
            test_accuracy,
        }
    }

    #[test]
    fn time_to_accuracy_is_the_first_evaluation_at_or_above_the_target() {
        let h = [
            eval(100, 1.0, 0.70),
            eval(200, 2.0, 0.86),
            eval(300, 3.0, 0.84),
            eval(400, 4.0, 0.90),
        ];
        assert_eq!(time_to_accuracy(&h, 0.85), Some(2.0));
        assert_eq!(time_to_accuracy(&h, 0.86), Some(2.0));
        assert_eq!(time_to_accuracy(&h, 0.70), Some(1.0));
        assert_eq!(time_to_accuracy(&h, 0.95), None);
        assert_eq!(time_to_accuracy(&[], 0.5), None);
        assert_eq!(best_accuracy(&h), Some(0.90));
        assert_eq!(best_accuracy(&[]), None);
    }

    #[test]
    fn reads_the_summary_line_and_ignores_extra_fields() {
        let stdout = "\n{\"stage\":\"ch5-backprop\",\"network\":\"784-50-10 (relu)\",\"parameters\":39760,\
            \"steps\":10,\"steps_done\":10,\"batch_size\":100,\"learning_rate\":0.1,\"train_size\":60000,\"seed\":42,\
            \"seconds_training\":1.5,\"steps_per_second\":6.7,\"final_loss\":0.3,\"test_accuracy\":0.9,\
            \"history\":[{\"step\":10,\"seconds\":1.5,\"loss\":0.3,\"train_accuracy\":null,\
            \"validation_accuracy\":null,\"test_accuracy\":0.9}],\"extra\":{}}\n\n";
        let s = parse_summary(stdout).unwrap();
        assert_eq!(s.stage, "ch5-backprop");
        assert_eq!(s.parameters, 39760);
        assert_eq!(s.history, vec![eval(10, 1.5, 0.9)]);
    }

    #[test]
    fn a_missing_or_wrong_summary_says_what_was_expected() {
        let err = parse_summary("").unwrap_err().to_string();
        assert!(err.contains("printed nothing"), "{err}");
        let err = format!("{:#}", parse_summary("Test accuracy: 91%").unwrap_err());
        assert!(
            err.contains("not the --json summary") && err.contains("Test accuracy"),
            "{err}"
        );
        let empty = r#"{"stage":"s","network":"n","parameters":1,"steps_done":0,"batch_size":1,
            "seconds_training":0.0,"test_accuracy":0.1,"history":[]}"#
            .replace('\n', "");
        let err = parse_summary(&empty).unwrap_err().to_string();
        assert!(err.contains("no evaluations"), "{err}");
    }
}
