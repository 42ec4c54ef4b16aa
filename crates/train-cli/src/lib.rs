//! # The training command line every stage shares
//!
//! Each stage of the course is a binary with its own network and training
//! loop. What a learner sees around that loop is the same everywhere, and
//! lives here: the common flags ([`CommonArgs`]), checked values
//! ([`positive_usize`], [`learning_rate`]), the data ([`load_data`]), progress
//! and divergence checks while training ([`Reporter`]), and at the end a
//! summary, `--json` and `--plot` ([`Reporter::finish`]).
//!
//! This crate knows nothing about any particular network: a stage hands it
//! losses and accuracies, and gets the reporting back.

pub mod checks;
mod cpu_time;
pub mod models;
mod output;
mod pictures;
mod plot;
mod recipe;
mod report;

use std::path::PathBuf;

pub use cpu_time::{cpu_timed, thread_cpu_time};
pub use models::{EvaluateArgs, ModelArgs, PredictArgs, SeedRun, SeedsArgs, Spread};
pub use output::{
    Output, Written, check_outputs, file_start, is_plot, write_atomically, write_bytes,
};
pub use pictures::{
    Colours, Histogram, Plane, Tile, Track, draw_histograms, draw_planes, draw_tiles,
};
pub use plot::{Series, draw_line_chart, draw_line_grid, draw_training_curves, register_font};
pub use recipe::{Recipe, RecipeArgs, timed};
pub use report::{
    BLOW_UP, CHANCE, Evaluation, GUESSING_LOSS, Reporter, RunInfo, Summary, TrainError, count,
    thousands,
};

/// The seed of a run without `--seed`.
pub const DEFAULT_SEED: u64 = 42;

/// The flags every stage has. A stage adds its own (`--steps`,
/// `--batch-size`, `--learning-rate`, ...) with its own defaults and
/// `#[command(flatten)]`s these in.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// Seed for weight initialisation and mini-batch sampling: the same seed gives the same numbers
    #[arg(long, default_value_t = DEFAULT_SEED, value_parser = whole_number::<u64>, allow_negative_numbers = true)]
    pub seed: u64,

    /// Directory with the four MNIST .gz files [default: $MNIST_DIR if set, else the repository's data/mnist/]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Train on the first N training images only (1 to 60000) [default: all of them]
    #[arg(long, value_name = "N", value_parser = train_size)]
    pub train_size: Option<usize>,

    /// Draw the loss and accuracy curves into this file (.png or .svg)
    #[arg(long, value_name = "PATH", value_parser = plot_path)]
    pub plot: Option<PathBuf>,

    /// Print one JSON object with the run's settings, results and evaluation history on stdout at the end
    #[arg(long)]
    pub json: bool,

    /// Show no progress while training; print only the final summary
    #[arg(long, short)]
    pub quiet: bool,

    /// Replace output files (--plot, --save) even when they are not files this program wrote
    #[arg(long)]
    pub force: bool,
}

/// Value parser for counts that must be at least 1 (`--batch-size`, `--steps`, ...).
pub fn positive_usize(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) if s.trim().parse::<i128>().is_ok_and(|n| n < 1) => {
            Err(format!("must be at least 1, got {s}"))
        }
        Err(_) if s.trim().parse::<u128>().is_ok() => {
            Err(format!("{s} is larger than this machine can count"))
        }
        Err(_) => Err(format!("expected a whole number of at least 1, got `{s}`")),
    }
}

/// Value parser for a number that may be 0 (`--seed`, `--index`, `--validation`).
pub fn whole_number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(n) => Ok(n),
        Err(_) if s.trim().parse::<i128>().is_ok_and(|n| n < 0) => {
            Err(format!("must be 0 or more, got {s}"))
        }
        Err(_) if s.trim().parse::<u128>().is_ok() => {
            Err(format!("{s} is larger than this machine can count"))
        }
        Err(_) => Err(format!("expected a whole number such as 42, got `{s}`")),
    }
}

/// A value parser for a count from 1 to `max`, such as `--epochs` (a count
/// past any sensible run would overflow the step counter).
pub fn count_up_to(max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync {
    move |s: &str| match positive_usize(s)? {
        n if n > max => Err(format!(
            "must be at most {}, got {}",
            thousands(max),
            thousands(n)
        )),
        n => Ok(n),
    }
}

/// A value parser for a whole number from 0 to `max`, such as `--shift`:
/// a number past `max` would make no sense (or overflow what it counts).
pub fn whole_up_to(max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync {
    move |s: &str| match whole_number::<usize>(s)? {
        n if n > max => Err(format!(
            "must be between 0 and {}, got {}",
            thousands(max),
            thousands(n)
        )),
        n => Ok(n),
    }
}

/// The most memory a run may plan for: 16 GiB.
pub const MEMORY_LIMIT: u128 = 16 << 30;

/// Checks, before anything is allocated, that a network of layer `sizes`
/// (`[784, …, 10]`) trained on batches of `batch_size` fits in memory: its
/// weights and biases `copies` times (the parameters, their gradient, an
/// optimizer's state), and for the larger of a batch and an evaluation
/// chunk ([`mnist::EVAL_BATCH`]) every layer's outputs three times (the
/// outputs, their gradient, a mask or a copy), each number `bytes` bytes.
/// Counted in `u128` (saturating), so no size overflows. The error names `flags`, the
/// flags that set these sizes, and says how much the run would need.
pub fn check_memory(
    sizes: &[usize],
    batch_size: usize,
    copies: u128,
    bytes: u128,
    flags: &str,
) -> anyhow::Result<()> {
    let params: u128 = sizes
        .windows(2)
        .map(|p| (p[0] as u128 + 1) * p[1] as u128)
        .sum();
    let rows = batch_size.max(mnist::EVAL_BATCH) as u128;
    let outputs: u128 = sizes.iter().map(|&n| n as u128).sum();
    let activations = rows.saturating_mul(outputs).saturating_mul(3);
    let need = copies
        .saturating_mul(params)
        .saturating_add(activations)
        .saturating_mul(bytes);
    let network = sizes.iter().map(usize::to_string).collect::<Vec<_>>();
    let what = format!(
        "a {} network trained on batches of {}",
        network.join("-"),
        thousands(batch_size)
    );
    check_bytes(need, &what, flags)
}

/// Refuses a plan that needs `need` bytes, more than [`MEMORY_LIMIT`]: `what`
/// says what would need them, `flags` which flags to make smaller. For a
/// network that is not a stack of dense layers; [`check_memory`] counts those.
pub fn check_bytes(need: u128, what: &str, flags: &str) -> anyhow::Result<()> {
    if need > MEMORY_LIMIT {
        anyhow::bail!(
            "{what} would need about {} of memory, more than the {} this program allows; use smaller {flags}",
            gibibytes(need),
            gibibytes(MEMORY_LIMIT)
        );
    }
    Ok(())
}

/// `17179869184` → `16 GiB`.
fn gibibytes(bytes: u128) -> String {
    let gib = bytes as f64 / (1u64 << 30) as f64;
    if gib >= 1e6 {
        format!("{gib:.1e} GiB")
    } else if gib >= 10.0 {
        format!("{} GiB", thousands(gib.round() as usize))
    } else {
        format!("{gib:.1} GiB")
    }
}

/// Value parser for `--learning-rate`: a finite number above 0.
pub fn learning_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(lr) if lr.is_finite() && lr > 0.0 => Ok(lr),
        Ok(_) => Err(format!("must be a finite number above 0, got `{s}`")),
        Err(_) => Err(format!("expected a number such as 0.1, got `{s}`")),
    }
}

/// Value parser for `--train-size`: 1 to 60,000.
pub fn train_size(s: &str) -> Result<usize, String> {
    let n = positive_usize(s)?;
    if n > 60_000 {
        return Err(format!("MNIST has 60000 training images, got {n}"));
    }
    Ok(n)
}

/// Layer sizes, as `--hidden 100,200` gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes(pub Vec<usize>);

/// Value parser for `--hidden`: `100,200` → `[100, 200]`, each at least 1
/// (one flag value, not a list of flags).
pub fn sizes(s: &str) -> Result<Sizes, String> {
    s.split(',')
        .map(|part| positive_usize(part.trim()))
        .collect::<Result<_, _>>()
        .map(Sizes)
        .map_err(|e| format!("expected sizes such as 100,200 ({e})"))
}

/// Value parser for `--plot`: the file's extension chooses PNG or SVG.
pub fn plot_path(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(e) if e == "png" || e == "svg" => Ok(path),
        _ => Err(format!(
            "expected a file name ending in .png or .svg, got `{s}`"
        )),
    }
}

/// A value parser for a flag that takes one of `values`, each typed as
/// `name(value)` and described in `--help` by `help(value)`: the flag's
/// choices come from the library's own list, never restated.
pub fn one_of<T: Copy + Send + Sync + 'static>(
    values: &'static [T],
    name: fn(T) -> &'static str,
    help: fn(T) -> String,
) -> impl clap::builder::TypedValueParser<Value = T> {
    let possible = values
        .iter()
        .map(|&v| clap::builder::PossibleValue::new(name(v)).help(help(v)));
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(possible).map(move |typed| {
        *values
            .iter()
            .find(|&&v| name(v) == typed)
            .expect("clap accepts only the listed names")
    })
}

/// The end of every stage's `main`: on an error, prints `error: ` with the
/// message and its causes on stderr, and exits with status 1. Never a
/// backtrace, not even with `RUST_BACKTRACE=1` set: a wrong flag or file is
/// the learner's to fix, not a bug of the program.
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The fields of a JSON object (none for any other value): what
/// [`Reporter::finish`] and `seeds` add to the `--json` they print.
pub fn fields(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Prints a line for the reader: on stdout, or on stderr with `--json`,
/// where stdout carries only the JSON object.
pub fn say(args: &CommonArgs, line: &str) {
    if args.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// A line of progress on stderr, unless `--quiet`.
pub fn progress(args: &CommonArgs, line: &str) {
    if !args.quiet {
        eprintln!("{line}");
    }
}

/// Draws a picture to `path` with `draw` (one of this crate's charts) and
/// returns the line that tells the learner where: `"{what} PATH"`, as
/// [`Written::said`] words it. An error names the file.
pub fn drawn(
    path: &std::path::Path,
    what: &str,
    draw: impl FnOnce(&std::path::Path) -> anyhow::Result<Written>,
) -> anyhow::Result<String> {
    use anyhow::Context;
    let written = draw(path).with_context(|| format!("drawing {}", path.display()))?;
    Ok(written.said(what, path))
}

/// The training and test sets for a run: `--data-dir` (or `$MNIST_DIR`, or the
/// repository's `data/mnist/`), with the training set cut to `--train-size`.
///
/// First, before anything is loaded or trained, the run's outputs are checked
/// ([`check_outputs`]): `--plot` and the stage's own `outputs` (such as
/// `--save`), with the four MNIST files as the inputs they must not replace.
/// Either set being empty is an error: a run needs images to learn from and
/// to be measured on.
pub fn load_data(
    args: &CommonArgs,
    outputs: &[Output],
) -> anyhow::Result<(mnist::Dataset, mnist::Dataset)> {
    let dir = mnist::find_data_dir(args.data_dir.as_deref())?;
    let mut all = outputs.to_vec();
    if let Some(path) = &args.plot {
        all.push(Output {
            flag: "--plot",
            path,
            is_ours: is_plot,
        });
    }
    let (train_files, test_files) = (mnist::idx::TRAIN_FILES, mnist::idx::TEST_FILES);
    let inputs = [train_files.0, train_files.1, test_files.0, test_files.1].map(|f| dir.join(f));
    check_outputs(&all, &inputs, args.force)?;

    let data = mnist::Mnist::load(&dir)?;
    for (set, files) in [(&data.train, train_files), (&data.test, test_files)] {
        if set.is_empty() {
            anyhow::bail!(
                "{}: holds no images; a run needs at least one image to train on and one to test on",
                dir.join(files.0).display()
            );
        }
    }
    let train = match args.train_size {
        Some(n) => data.train.first(n),
        None => data.train,
    };
    Ok((train, data.test))
}

/// The training sets of a run that holds out a validation split: as
/// [`load_data`], then the last `validation` training images (0: none)
/// set apart to validate on. Returns the images to train on, the
/// validation split, and the test set.
pub fn load_split(
    args: &CommonArgs,
    outputs: &[Output],
    validation: usize,
) -> anyhow::Result<(mnist::Dataset, Option<mnist::Dataset>, mnist::Dataset)> {
    let (all, test) = load_data(args, outputs)?;
    if validation >= all.len() {
        anyhow::bail!(
            "--validation {validation} leaves no training images: the training set has {} (see --train-size); use a smaller --validation or 0",
            all.len()
        );
    }
    let (train, held_out) = all.split_at(all.len() - validation);
    Ok((train, (validation > 0).then_some(held_out), test))
}

/// The flags of a subcommand that only draws a figure from random numbers.
#[derive(clap::Args, Debug, Clone)]
pub struct PictureArgs {
    /// Draw the figure into this file (.png or .svg)
    #[arg(long, value_name = "PATH", value_parser = plot_path)]
    pub plot: Option<PathBuf>,
    /// Seed for the random inputs and weights
    #[arg(long, default_value_t = DEFAULT_SEED, value_parser = whole_number::<u64>, allow_negative_numbers = true)]
    pub seed: u64,
    /// Replace the --plot file even when it is not a picture this program drew
    #[arg(long)]
    pub force: bool,
}

impl PictureArgs {
    /// Checks `--plot` before anything is computed.
    pub fn check(&self) -> anyhow::Result<()> {
        let outputs: Vec<Output> = (self.plot.as_deref().into_iter())
            .map(|path| Output {
                flag: "--plot",
                path,
                is_ours: is_plot,
            })
            .collect();
        check_outputs(&outputs, &[], self.force)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_too_large_for_memory_is_refused_with_what_it_would_need() {
        assert!(check_memory(&[784, 100, 10], 100, 4, 4, "--hidden").is_ok());
        let err = check_memory(
            &[784, 1_000_000_000, 10],
            100,
            4,
            4,
            "--hidden or --batch-size",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("784-1000000000-10"), "{err}");
        assert!(err.contains("would need about 34,198 GiB"), "{err}");
        assert!(
            err.contains("use smaller --hidden or --batch-size"),
            "{err}"
        );
        let err = check_memory(&[784, 50, 10], 100_000_000, 3, 8, "--batch-size")
            .unwrap_err()
            .to_string();
        assert!(err.contains("batches of 100,000,000"), "{err}");
        // Sizes near usize::MAX do not overflow.
        assert!(check_memory(&[784, usize::MAX, 10], usize::MAX, 4, 8, "--hidden").is_err());
    }

    #[test]
    fn values_are_checked_with_a_reason() {
        assert_eq!(positive_usize("32"), Ok(32));
        assert!(positive_usize("0").unwrap_err().contains("at least 1"));
        assert!(positive_usize("-3").unwrap_err().contains("at least 1"));
        assert!(positive_usize("ten").unwrap_err().contains("whole number"));
        assert!(
            positive_usize("99999999999999999999999")
                .unwrap_err()
                .contains("larger")
        );
        let epochs = count_up_to(1000);
        assert_eq!(epochs("1000"), Ok(1000));
        assert!(epochs("1001").unwrap_err().contains("at most 1,000"));
        assert!(epochs("0").unwrap_err().contains("at least 1"));
        assert_eq!(whole_number::<u64>("0"), Ok(0));
        assert!(whole_number::<u64>("-1").unwrap_err().contains("0 or more"));
        assert!(
            whole_number::<u64>("1.5")
                .unwrap_err()
                .contains("whole number")
        );
        assert_eq!(learning_rate("0.1"), Ok(0.1));
        for bad in ["0", "-1", "inf", "NaN"] {
            assert!(
                learning_rate(bad)
                    .unwrap_err()
                    .contains("finite number above 0"),
                "{bad}"
            );
        }
        assert!(
            learning_rate("fast")
                .unwrap_err()
                .contains("expected a number")
        );
        assert_eq!(train_size("60000"), Ok(60_000));
        assert!(train_size("60001").unwrap_err().contains("60000"));
        assert_eq!(sizes("100, 200"), Ok(Sizes(vec![100, 200])));
        assert!(sizes("100,0").unwrap_err().contains("such as 100,200"));
        assert!(plot_path("curves.png").is_ok());
        assert!(plot_path("curves.SVG").is_ok());
        assert!(
            plot_path("curves.jpg")
                .unwrap_err()
                .contains(".png or .svg")
        );
    }
}
