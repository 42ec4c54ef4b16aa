//! The subcommands of stages 4 to 7 that train several networks or use a
//! saved one: `seeds`, `predict` and `evaluate`. Their flags are declared
//! here once ([`SeedsArgs`], [`PredictArgs`], [`EvaluateArgs`]), and so is
//! everything they print: a digit drawn in the terminal with the model's
//! three best guesses, the accuracy with a confusion matrix, the gallery of
//! misclassified digits, the accuracies of several seeds and their spread.
//! A stage computes the numbers with its network; this module shows them.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mnist::{CLASSES, Dataset};
use serde_json::json;

use crate::{Colours, CommonArgs, Output, Tile, Written, say};

/// `--count` of `seeds`.
#[derive(clap::Args, Debug, Clone)]
pub struct SeedsArgs {
    /// How many seeds (networks) to train, from --seed up [default: the stage's: 5 for ch6-mlp, 10 for ch6-regularization, 3 for ch7-cnn]
    #[arg(long, value_name = "N", value_parser = crate::count_up_to(1_000), allow_negative_numbers = true)]
    pub count: Option<usize>,
}

/// The saved model `predict` and `evaluate` read, and the test set.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// A model saved with `--save FILE`
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Directory with the four MNIST .gz files [default: $MNIST_DIR if set, else the repository's data/mnist/]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `predict`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct PredictArgs {
    /// Which test image (0 to 9999)
    #[arg(long, value_name = "N", value_parser = crate::whole_number::<usize>, allow_negative_numbers = true)]
    pub index: usize,
    /// Print the label and all ten probabilities as one JSON object instead
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// `evaluate`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Draw the first 24 test digits the model gets wrong, with their labels and its guesses, into this file (.png or .svg)
    #[arg(long, value_name = "PATH", value_parser = crate::plot_path)]
    pub gallery: Option<PathBuf>,
    /// Replace the --gallery file even when it is not a picture this program drew
    #[arg(long)]
    pub force: bool,
}

/// How many misclassified digits `evaluate --gallery` draws.
pub const GALLERY: usize = 24;

impl ModelArgs {
    /// `error` (what went wrong using the model, such as a forward pass
    /// that overflowed) as an error that names the model's file.
    pub fn error(&self, error: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{}: {error}", self.model.display())
    }

    /// The test set, which must hold an image.
    pub fn test_set(&self) -> anyhow::Result<Dataset> {
        let test = mnist::Mnist::load_from(self.data_dir.as_deref())?.test;
        if test.is_empty() {
            bail!("the test set holds no images: there is nothing to predict or evaluate");
        }
        Ok(test)
    }
}

impl PredictArgs {
    /// The test set, with `--index` checked against it.
    pub fn test_set(&self) -> anyhow::Result<Dataset> {
        let test = self.model.test_set()?;
        if self.index >= test.len() {
            bail!(
                "--index {} is out of range: the test set has images 0 to {}",
                self.index,
                test.len() - 1
            );
        }
        Ok(test)
    }

    /// Prints test image `--index` with its label and the model's
    /// `probabilities` for it: drawn with the three best guesses, or (with
    /// `--json`) all of them, unrounded, as one JSON object.
    pub fn print(&self, test: &Dataset, probabilities: &[f64]) {
        let (index, label) = (self.index, test.labels()[self.index]);
        if self.json {
            println!(
                "{}",
                json!({"index": index, "label": label, "probabilities": probabilities})
            );
            return;
        }
        let top = top3(probabilities);
        let verdict = if top[0].0 == label as usize {
            "right"
        } else {
            "wrong"
        };
        print!("{}", digit(test, index));
        println!(
            "Test image {index}: label {label}, predicted {} ({verdict})",
            top[0].0
        );
        for (digit, p) in top {
            println!("  {digit}: {:6.2}%", 100.0 * p);
        }
    }
}

impl EvaluateArgs {
    /// Checks `--gallery` before anything is computed (the model file is an
    /// input it must not replace).
    pub fn check_outputs(&self) -> anyhow::Result<()> {
        if let Some(path) = &self.gallery {
            let output = Output {
                flag: "--gallery",
                path,
                is_ours: crate::is_plot,
            };
            crate::check_outputs(
                &[output],
                std::slice::from_ref(&self.model.model),
                self.force,
            )?;
        }
        Ok(())
    }

    /// Prints the model (`description`, `parameters`), its accuracy on
    /// `test` from its `predicted` classes, and the confusion matrix.
    pub fn print(&self, description: &str, parameters: usize, test: &Dataset, predicted: &[u8]) {
        println!(
            "Model {} ({description}, {parameters} parameters)",
            self.model.model.display()
        );
        let accuracy = mnist::fraction_correct(predicted, test.labels());
        let right = (accuracy * test.len() as f64).round() as usize;
        println!(
            "Test accuracy: {:.2}% ({right} of {})\n",
            100.0 * accuracy,
            test.len()
        );
        print!("{}", confusion_table(&confusion(test.labels(), predicted)));
    }

    /// Draws `--gallery`, if given: the `mistakes` (test index, predicted
    /// class, the probability given to it), each with its label and guess.
    pub fn draw_gallery(
        &self,
        test: &Dataset,
        mistakes: &[(usize, u8, f64)],
    ) -> anyhow::Result<()> {
        let Some(path) = &self.gallery else {
            return Ok(());
        };
        let written = gallery(path, test, mistakes)?;
        println!("{}", written.said("Misclassified digits drawn to", path));
        Ok(())
    }
}

/// `evaluate --gallery`: misclassified test digits with captions.
fn gallery(path: &Path, test: &Dataset, mistakes: &[(usize, u8, f64)]) -> anyhow::Result<Written> {
    let tiles: Vec<Tile> = mistakes
        .iter()
        .map(|&(index, predicted, confidence)| Tile {
            pixels: test
                .image(index)
                .iter()
                .map(|&p| f64::from(p) / 255.0)
                .collect(),
            width: 28,
            caption: format!(
                "{} → {predicted}  {:.1}%",
                test.labels()[index],
                100.0 * confidence
            ),
        })
        .collect();
    crate::draw_tiles(
        path,
        &format!("The first {} test digits the model gets wrong", tiles.len()),
        "under each: its label → the model's guess, and the probability it gave that guess",
        &tiles,
        6,
        Colours::Ink,
    )
    .with_context(|| format!("drawing {}", path.display()))
}

/// What one network of `seeds` ended with.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedRun {
    pub validation: Option<f64>,
    pub test: f64,
    /// Seconds of training of each epoch.
    pub epoch_seconds: Vec<f64>,
}

/// `seeds`: trains `count` networks of the same settings, seeds `--seed`,
/// `--seed + 1`, …, each by `train_one(seed, silent)` (`silent`: the common
/// flags with progress and `--json` off), and prints each one's accuracies
/// and their spread: how far apart two runs that differ only by chance
/// land. `heading` says what is trained, and how many; with `--json`, one
/// object: the fields of `about` (the stage, the network, …), then the runs
/// and their spreads.
pub fn seeds(
    common: &CommonArgs,
    count: usize,
    heading: &str,
    about: serde_json::Value,
    mut train_one: impl FnMut(u64, &CommonArgs) -> anyhow::Result<SeedRun>,
) -> anyhow::Result<()> {
    let first = common.seed;
    let Some(last) = first.checked_add(count as u64 - 1) else {
        bail!(
            "--seed {first} with --count {count} runs past the largest seed, {}",
            u64::MAX
        );
    };
    if !common.quiet {
        eprintln!("{heading}, seeds {first} to {last}");
    }
    let silent = CommonArgs {
        quiet: true,
        json: false,
        plot: None,
        ..common.clone()
    };
    let (mut rows, mut tests, mut validations) = (Vec::new(), Vec::new(), Vec::new());
    for seed in first..=last {
        let run = train_one(seed, &silent).with_context(|| format!("seed {seed}"))?;
        let shown = run
            .validation
            .map_or(String::new(), |v| format!("validation {:.2}%, ", 100.0 * v));
        say(
            common,
            &format!(
                "seed {seed:>5}: {shown}test {:.2}%  ({:.1} s of training)",
                100.0 * run.test,
                run.epoch_seconds.iter().sum::<f64>()
            ),
        );
        rows.push(json!({"seed": seed, "validation_accuracy": run.validation, "test_accuracy": run.test, "epoch_seconds": run.epoch_seconds}));
        tests.push(run.test);
        validations.extend(run.validation);
    }
    let spreads = [("Validation", validations), ("Test", tests)]
        .map(|(name, values)| (name, (!values.is_empty()).then(|| Spread::of(&values))));
    for (name, spread) in &spreads {
        if let Some(s) = spread {
            say(
                common,
                &format!("{name} accuracy over {count} seeds: {}", s.describe()),
            );
        }
    }
    if common.json {
        let mut object = crate::fields(about);
        object.insert("runs".into(), rows.into());
        object.insert("validation_accuracy".into(), json!(spreads[0].1));
        object.insert("test_accuracy".into(), json!(spreads[1].1));
        println!("{}", serde_json::Value::Object(object));
    }
    Ok(())
}

/// How much a number varies between runs: mean, sample standard deviation
/// `s = √(Σ (xᵢ − x̄)² / (n − 1))` (0 for one run), smallest and largest.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Spread {
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (at least one).
    pub fn of(values: &[f64]) -> Spread {
        assert!(!values.is_empty(), "a spread needs at least one value");
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        Spread {
            mean,
            sd: if values.len() > 1 {
                (squares / (n - 1.0)).sqrt()
            } else {
                0.0
            },
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// `mean 97.99%, standard deviation 0.11 points, from 97.80% to 98.14%`.
    pub fn describe(&self) -> String {
        format!(
            "mean {:.2}%, standard deviation {:.2} points, from {:.2}% to {:.2}%",
            100.0 * self.mean,
            100.0 * self.sd,
            100.0 * self.min,
            100.0 * self.max
        )
    }
}

/// Image `i` of `data` as 28 lines of text, darker pixels as denser
/// characters, each pixel two characters wide so the digit keeps its shape.
pub fn digit(data: &Dataset, i: usize) -> String {
    const SHADES: &[u8] = b" .:-=+*#%@";
    let mut out = String::new();
    for row in data.image(i).chunks(28) {
        for &p in row {
            let c = SHADES[p as usize * (SHADES.len() - 1) / 255] as char;
            out.push(c);
            out.push(c);
        }
        out.push('\n');
    }
    out
}

/// The three most probable classes, most probable first: `(class, probability)`.
pub fn top3(probabilities: &[f64]) -> Vec<(usize, f64)> {
    let mut ranked: Vec<(usize, f64)> = probabilities.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(3);
    ranked
}

/// `counts[true][predicted]`: how often each class was taken for each other.
pub fn confusion(labels: &[u8], predicted: &[u8]) -> [[usize; CLASSES]; CLASSES] {
    let mut counts = [[0; CLASSES]; CLASSES];
    for (&t, &p) in labels.iter().zip(predicted) {
        counts[t as usize][p as usize] += 1;
    }
    counts
}

/// The confusion matrix as a table: one row per true class, one column per
/// predicted class, and the recall (right / all) of each row.
pub fn confusion_table(counts: &[[usize; CLASSES]; CLASSES]) -> String {
    let mut out = String::from("true\\predicted");
    for p in 0..CLASSES {
        out += &format!("{p:>6}");
    }
    out += "   right\n";
    for (t, row) in counts.iter().enumerate() {
        out += &format!("{t:>14}");
        for n in row {
            out += &format!("{n:>6}");
        }
        let total: usize = row.iter().sum();
        out += &format!("  {:>5.1}%\n", 100.0 * row[t] as f64 / total.max(1) as f64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_runs() {
        let s = Spread::of(&[0.97, 0.98, 0.99]);
        assert!((s.mean - 0.98).abs() < 1e-12);
        assert!((s.sd - 0.01).abs() < 1e-12, "sample sd divides by n − 1");
        assert_eq!((s.min, s.max), (0.97, 0.99));
        assert_eq!(Spread::of(&[0.5]).sd, 0.0);
    }

    #[test]
    fn a_digit_is_28_lines_of_56_characters() {
        let mut pixels = vec![0u8; 784];
        pixels[0] = 255;
        let data = Dataset::from_parts(pixels, vec![1]);
        let text = digit(&data, 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 28);
        assert!(lines.iter().all(|l| l.len() == 56));
        assert!(lines[0].starts_with("@@ "));
    }

    #[test]
    fn top3_ranks_by_probability() {
        let p = [0.05, 0.6, 0.0, 0.3, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(top3(&p), vec![(1, 0.6), (3, 0.3), (0, 0.05)]);
    }

    #[test]
    fn the_confusion_matrix_counts_pairs() {
        let counts = confusion(&[1, 1, 2, 7], &[1, 7, 2, 7]);
        assert_eq!(
            (counts[1][1], counts[1][7], counts[2][2], counts[7][7]),
            (1, 1, 1, 1)
        );
        assert_eq!(counts.iter().flatten().sum::<usize>(), 4);
        let table = confusion_table(&counts);
        assert_eq!(table.lines().count(), 11);
        assert!(table.lines().nth(2).unwrap().trim_end().ends_with("50.0%"));
    }

    #[test]
    fn seeds_past_the_largest_seed_are_refused() {
        let common = CommonArgs {
            seed: u64::MAX,
            data_dir: None,
            train_size: None,
            plot: None,
            json: false,
            quiet: true,
            force: false,
        };
        let err = seeds(&common, 2, "h", json!({}), |_, _| {
            unreachable!("no seed trains")
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("runs past the largest seed"),
            "{err}"
        );
    }
}
