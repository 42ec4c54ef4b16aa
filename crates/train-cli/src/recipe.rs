//! # A stage's training recipe: its defaults, declared once, and the flags that change them
//!
//! Shared by every stage program of the course (the `train-cli` crate). A
//! stage that trains by steps of mini-batches declares what it does when run
//! without flags as one [`Recipe`] value, and flattens [`RecipeArgs`] (the
//! flags `--steps`, `--batch-size`, `--learning-rate` and `--eval-every`)
//! into its parser. [`Recipe::parse`] writes the recipe's values into those
//! flags as their defaults, so `--help` shows them and nothing restates
//! them, and [`RecipeArgs::resolve`] gives the run's recipe: each flag given
//! on the command line, else the stage's default. Inside the loop, [`timed`]
//! adds up the time of one part of each step (the stages time their
//! gradient, to report milliseconds per gradient at the end).
//!
//! ```
//! use clap::Parser;
//! use train_cli::{CommonArgs, Recipe, RecipeArgs};
//!
//! /// What the stage's program does (the first line of `--help`).
//! #[derive(Parser, Debug)]
//! #[command(name = "stage")]
//! struct Args {
//!     #[command(flatten)]
//!     recipe: RecipeArgs,
//!     #[command(flatten)]
//!     common: CommonArgs,
//! }
//!
//! /// The stage's run without flags, declared once.
//! const DEFAULTS: Recipe = Recipe {
//!     steps: 10_000,
//!     batch_size: 100,
//!     learning_rate: 0.1,
//!     eval_every: 600,
//! };
//!
//! // In `main`: `let args: Args = DEFAULTS.parse();`. Here, a command line given as a list:
//! let args: Args = DEFAULTS.try_parse_from(["stage", "--learning-rate", "0.5"]).unwrap();
//! let recipe = args.recipe.resolve(DEFAULTS);
//! assert_eq!((recipe.steps, recipe.learning_rate), (10_000, 0.5));
//!
//! let help = DEFAULTS.show_defaults(<Args as clap::CommandFactory>::command()).render_help();
//! assert!(help.to_string().contains("[default: 10000]"));
//! ```
//!
//! A program with subcommands (stage 3's `train`, `xor`, ...) shows the
//! defaults on each command that flattens the flags:
//! `DEFAULTS.show_defaults(Cli::command()).mut_subcommand("train", |c| DEFAULTS.show_defaults(c))`,
//! then `Cli::from_arg_matches(&command.get_matches())`.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use clap::{Command, Parser};

use crate::{learning_rate, positive_usize};

/// What a stage's training run does: how many steps of which batch size, at
/// which learning rate, measuring accuracy how often. Each stage declares
/// its defaults as one `const` of this type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recipe {
    /// Gradient-descent steps, one mini-batch each.
    pub steps: usize,
    /// Images per mini-batch.
    pub batch_size: usize,
    /// The step size η of `θ ← θ − η·∂L/∂θ`.
    pub learning_rate: f64,
    /// Measure accuracy every this many steps (and after the last one).
    pub eval_every: usize,
}

/// The flags of a [`Recipe`], to `#[command(flatten)]` into a stage's
/// parser. A flag not given is `None` here; [`RecipeArgs::resolve`] fills it
/// from the stage's defaults.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RecipeArgs {
    /// Number of gradient-descent steps (mini-batches), at most 10,000,000
    #[arg(long, value_parser = crate::count_up_to(10_000_000), allow_negative_numbers = true)]
    steps: Option<usize>,

    /// Images per mini-batch, drawn at random (with replacement) from the training set
    #[arg(long, value_parser = positive_usize, allow_negative_numbers = true)]
    batch_size: Option<usize>,

    /// Step size η of gradient descent: θ ← θ − η·∂L/∂θ
    #[arg(long, value_parser = learning_rate, allow_negative_numbers = true)]
    learning_rate: Option<f64>,

    /// Measure train and test accuracy every N steps (and after the last one)
    #[arg(long, value_name = "N", value_parser = positive_usize, allow_negative_numbers = true)]
    eval_every: Option<usize>,
}

impl RecipeArgs {
    /// The run's recipe: each flag that was given, else the stage's default.
    pub fn resolve(&self, defaults: Recipe) -> Recipe {
        Recipe {
            steps: self.steps.unwrap_or(defaults.steps),
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            learning_rate: self.learning_rate.unwrap_or(defaults.learning_rate),
            eval_every: self.eval_every.unwrap_or(defaults.eval_every),
        }
    }
}

impl Recipe {
    /// `cmd` with this recipe's values as the defaults of the [`RecipeArgs`]
    /// flags it holds, so that its `--help` shows them. Panics if `cmd` does
    /// not flatten [`RecipeArgs`] (a mistake in the stage's parser).
    pub fn show_defaults(&self, cmd: Command) -> Command {
        // Without clap's `string` feature a default is a `&'static str`: these
        // four short strings are made once per run and kept to its end.
        let shown = |value: String| -> &'static str { value.leak() };
        cmd.mut_arg("steps", |a| a.default_value(shown(self.steps.to_string())))
            .mut_arg("batch_size", |a| {
                a.default_value(shown(self.batch_size.to_string()))
            })
            .mut_arg("learning_rate", |a| {
                a.default_value(shown(self.learning_rate.to_string()))
            })
            .mut_arg("eval_every", |a| {
                a.default_value(shown(self.eval_every.to_string()))
            })
    }

    /// Parses the program's command line into the stage's parser `P` (which
    /// flattens [`RecipeArgs`]), with this recipe shown as the defaults in
    /// `--help`. Like clap's `Parser::parse`, prints help, version or the
    /// error and exits when the command line asks for that or is wrong.
    pub fn parse<P: Parser>(&self) -> P {
        self.try_parse_from(std::env::args_os())
            .unwrap_or_else(|e| e.exit())
    }

    /// [`Recipe::parse`] on the given arguments (the program name first),
    /// returning clap's error instead of exiting.
    pub fn try_parse_from<P: Parser>(
        &self,
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    ) -> Result<P, clap::Error> {
        let mut cmd = self.show_defaults(P::command());
        let mut matches = cmd.try_get_matches_from_mut(args)?;
        P::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd))
    }
}

/// Runs `f` and adds the time it took to `total`: how a training loop
/// times one part of its step, such as the gradient, in a single line.
pub fn timed<T>(total: &mut Duration, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = f();
    *total += started.elapsed();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(Parser, Debug)]
    #[command(name = "stage")]
    struct Args {
        #[command(flatten)]
        recipe: RecipeArgs,
    }

    const DEFAULTS: Recipe = Recipe {
        steps: 2_000,
        batch_size: 100,
        learning_rate: 0.5,
        eval_every: 100,
    };

    fn parse(args: &[&str]) -> Result<Recipe, String> {
        let command_line = std::iter::once("stage").chain(args.iter().copied());
        DEFAULTS
            .try_parse_from::<Args>(command_line)
            .map(|a| a.recipe.resolve(DEFAULTS))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn flags_not_given_take_the_stages_defaults() {
        assert_eq!(parse(&[]), Ok(DEFAULTS));
        assert_eq!(
            parse(&["--steps", "30", "--learning-rate", "0.1"]),
            Ok(Recipe {
                steps: 30,
                learning_rate: 0.1,
                ..DEFAULTS
            })
        );
        // Without `Recipe::parse` (clap's own `Args::parse`), the defaults still apply.
        let plain = Args::try_parse_from(["stage", "--batch-size", "7"]).unwrap();
        assert_eq!(
            plain.recipe.resolve(DEFAULTS),
            Recipe {
                batch_size: 7,
                ..DEFAULTS
            }
        );
    }

    #[test]
    fn help_shows_the_declared_defaults() {
        let help = DEFAULTS
            .show_defaults(Args::command())
            .render_help()
            .to_string();
        for shown in [
            "--steps <STEPS>",
            "[default: 2000]",
            "[default: 100]",
            "[default: 0.5]",
            "--eval-every <N>",
        ] {
            assert!(help.contains(shown), "{shown} missing from:\n{help}");
        }
        let other = Recipe {
            learning_rate: 1.0,
            ..DEFAULTS
        };
        let help = other
            .show_defaults(Args::command())
            .render_help()
            .to_string();
        assert!(help.contains("[default: 1]"), "{help}");
    }

    #[test]
    fn bad_values_are_refused_with_the_flag_named() {
        for (args, expected) in [
            (&["--steps", "0"][..], "must be at least 1"),
            (&["--steps", "-3"], "must be at least 1, got -3"),
            (&["--batch-size", "0"], "--batch-size"),
            (&["--learning-rate", "-1"], "finite number above 0"),
            (&["--learning-rate", "NaN"], "finite number above 0"),
            (&["--eval-every", "0"], "--eval-every"),
        ] {
            let msg = parse(args).unwrap_err();
            assert!(msg.contains(expected), "{args:?}: {msg}");
        }
    }

    /// The shape of stage 3's parser: the flags at the top and in a subcommand.
    #[derive(Parser, Debug)]
    #[command(name = "stage", args_conflicts_with_subcommands = true)]
    struct Cli {
        #[command(subcommand)]
        command: Option<Sub>,
        #[command(flatten)]
        recipe: RecipeArgs,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Sub {
        Train {
            #[command(flatten)]
            recipe: RecipeArgs,
        },
    }

    #[test]
    fn a_program_with_subcommands_shows_the_defaults_on_each() {
        use clap::FromArgMatches;
        let command = || {
            DEFAULTS
                .show_defaults(Cli::command())
                .mut_subcommand("train", |c| DEFAULTS.show_defaults(c))
        };
        for args in [
            &["stage", "--steps", "5"][..],
            &["stage", "train", "--steps", "5"],
        ] {
            let cli =
                Cli::from_arg_matches(&command().try_get_matches_from(args).unwrap()).unwrap();
            let recipe = match &cli.command {
                None => &cli.recipe,
                Some(Sub::Train { recipe }) => recipe,
            };
            assert_eq!(
                recipe.resolve(DEFAULTS),
                Recipe {
                    steps: 5,
                    ..DEFAULTS
                },
                "{args:?}"
            );
        }
        let mut command = command();
        let help = command
            .find_subcommand_mut("train")
            .unwrap()
            .render_help()
            .to_string();
        assert!(help.contains("[default: 2000]"), "{help}");
    }

    #[test]
    fn timed_adds_up_and_hands_back_the_result() {
        let mut total = Duration::from_millis(5);
        let answer = timed(&mut total, || {
            std::thread::sleep(Duration::from_millis(20));
            42
        });
        assert_eq!(answer, 42);
        assert!(total >= Duration::from_millis(25), "{total:?}");
    }
}
