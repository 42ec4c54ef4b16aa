//! # Exercise checks: the course's own tests, run on the learner's code
//!
//! Beside the course, not a stage of it. Each exercise of `crates/exercises`
//! (a function or layer of stages 1–6 with a `todo!()` body) has one check
//! function here. A check runs the learner's code on small inputs, compares
//! it with what the course's own code (or a numerical gradient) says, and
//! writes a [`Report`]: named checks, each passed or failed, a failure with a
//! hint that names the likely mistake ("off by a factor of 4 = the batch
//! size", "transposed", "sign flipped", "NaN for large inputs") rather than
//! only the numbers.
//!
//! The checks themselves are tested (in `cargo test --workspace`): every
//! check passes on the course's reference code and fails, with the expected
//! hint, on deliberately broken copies. [`guard`] runs one check so that a
//! panic, a `todo!()` or an endless loop comes back as a plain answer.
//!
//! One module per stage, in the chapters' order: [`stage1`] … [`stage6`];
//! [`compare`] holds the diagnosis shared by all.

pub mod compare;
pub mod guard;
pub mod judge;
pub mod stage1;
pub mod stage2;
pub mod stage3;
pub mod stage4;
pub mod stage5;
pub mod stage6;

use std::fmt;

/// One exercise: its name on the command line, its stage, its file in
/// `crates/exercises/src/`, what to do, and where the course's answer is.
#[derive(Clone, Copy, Debug)]
pub struct Exercise {
    pub name: &'static str,
    pub stage: u8,
    pub file: &'static str,
    pub task: &'static str,
    pub solution: &'static str,
}

/// Every exercise, in the chapters' order.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        name: "softmax",
        stage: 1,
        file: "stage1/softmax.rs",
        task: "softmax of each row, stable for large scores",
        solution: "crates/ch4-numerical/src/lib.rs, fn softmax",
    },
    Exercise {
        name: "cross_entropy",
        stage: 1,
        file: "stage1/cross_entropy.rs",
        task: "mean cross-entropy of probabilities against labels",
        solution: "crates/ch4-numerical/src/lib.rs, fn cross_entropy",
    },
    Exercise {
        name: "numerical_diff",
        stage: 1,
        file: "stage1/numerical_diff.rs",
        task: "the central difference (f(x + h) − f(x − h)) / 2h",
        solution: "crates/ch4-numerical/src/lib.rs, fn numerical_diff",
    },
    Exercise {
        name: "sigmoid",
        stage: 2,
        file: "stage2/sigmoid.rs",
        task: "the logistic function of each entry",
        solution: "crates/ch4-two-layer/src/lib.rs, fn sigmoid",
    },
    Exercise {
        name: "numerical_gradient",
        stage: 2,
        file: "stage2/numerical_gradient.rs",
        task: "the gradient of a function of a matrix, entry by entry",
        solution: "crates/ch4-numerical/src/lib.rs, fn numerical_gradient",
    },
    Exercise {
        name: "two_layer_predict",
        stage: 2,
        file: "stage2/two_layer_predict.rs",
        task: "the two-layer network's forward pass",
        solution: "crates/ch4-two-layer/src/lib.rs, TwoLayerNet::predict",
    },
    Exercise {
        name: "mul_add_nodes",
        stage: 3,
        file: "stage3/mul_add_nodes.rs",
        task: "backward of the multiplication and addition nodes (the shopping example)",
        solution: "crates/ch5-backprop/examples/apple_shopping.rs, MulLayer and AddLayer",
    },
    Exercise {
        name: "affine_backward",
        stage: 3,
        file: "stage3/affine_backward.rs",
        task: "Affine::backward: dX, and ∂E/∂W, ∂E/∂b stored",
        solution: "crates/ch5-backprop/src/layer.rs, impl Layer for Affine, fn backward",
    },
    Exercise {
        name: "relu_backward",
        stage: 3,
        file: "stage3/relu_backward.rs",
        task: "Relu::backward",
        solution: "crates/ch5-backprop/src/layer.rs, impl Layer for Relu, fn backward",
    },
    Exercise {
        name: "softmax_with_loss_backward",
        stage: 3,
        file: "stage3/softmax_with_loss_backward.rs",
        task: "SoftmaxWithLoss::backward",
        solution: "crates/ch5-backprop/src/loss.rs, impl Loss for SoftmaxWithLoss, fn backward",
    },
    Exercise {
        name: "relative_error",
        stage: 3,
        file: "stage3/relative_error.rs",
        task: "the gradient check's relative error",
        solution: "crates/ch5-backprop/src/gradient_check.rs, fn relative_error",
    },
    Exercise {
        name: "momentum",
        stage: 4,
        file: "stage4/momentum.rs",
        task: "the Momentum update rule",
        solution: "crates/ch6-mlp/src/engine/optim.rs, impl Optimizer for Momentum",
    },
    Exercise {
        name: "adam",
        stage: 4,
        file: "stage4/adam.rs",
        task: "the Adam update rule",
        solution: "crates/ch6-mlp/src/engine/optim.rs, impl Optimizer for Adam",
    },
    Exercise {
        name: "he_init",
        stage: 4,
        file: "stage4/he_init.rs",
        task: "He initialisation of a weight matrix",
        solution: "crates/ch6-mlp/src/init.rs, Init::He (Init::std and Init::weights)",
    },
    Exercise {
        name: "weight_decay",
        stage: 5,
        file: "stage5/weight_decay.rs",
        task: "weight decay: the penalty λ/2 · Σ‖W‖² and its gradient term",
        solution: "crates/ch6-regularization/src/network.rs, RegularizedNet::weight_penalty and RegularizedNet::gradient",
    },
    Exercise {
        name: "dropout",
        stage: 5,
        file: "stage5/dropout.rs",
        task: "inverted dropout, forward and backward",
        solution: "crates/ch6-regularization/src/dropout.rs, Dropout::forward and Dropout::backward",
    },
    Exercise {
        name: "batch_norm_backward",
        stage: 5,
        file: "stage5/batch_norm_backward.rs",
        task: "BatchNorm::backward: ∂E/∂X, and ∂E/∂γ, ∂E/∂β stored",
        solution: "crates/ch6-regularization/src/batch_norm.rs, BatchNorm::backward",
    },
    Exercise {
        name: "im2col",
        stage: 6,
        file: "stage6/im2col.rs",
        task: "im2col: every patch of a batch of images unrolled into a row",
        solution: "crates/ch7-cnn/src/im2col.rs, fn im2col",
    },
    Exercise {
        name: "col2im",
        stage: 6,
        file: "stage6/col2im.rs",
        task: "col2im: a patches' gradient folded back onto the pixels",
        solution: "crates/ch7-cnn/src/im2col.rs, fn col2im",
    },
    Exercise {
        name: "conv_backward",
        stage: 6,
        file: "stage6/conv_backward.rs",
        task: "the convolution's backward: ∂E/∂X, and ∂E/∂W, ∂E/∂b stored",
        solution: "crates/ch7-cnn/src/conv.rs, Convolution::backward and Convolution::backward_params",
    },
    Exercise {
        name: "max_pool_backward",
        stage: 6,
        file: "stage6/max_pool_backward.rs",
        task: "MaxPooling's backward: each gradient to its window's maximum",
        solution: "crates/ch7-cnn/src/pool.rs, MaxPooling::backward (and forward, which keeps the argmax)",
    },
];

/// The exercise called `name`, if there is one.
pub fn exercise(name: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|e| e.name == name)
}

/// One named check: passed, or failed with what was wrong and a hint.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub name: String,
    /// `None` when it passed, else what was wrong and a hint.
    pub failure: Option<String>,
}

/// What an exercise's checks found, in the order they ran.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new() -> Report {
        Report::default()
    }

    /// Records one check: `Ok(())` passed, `Err(hint)` failed.
    pub fn check(&mut self, name: &str, result: Result<(), String>) {
        self.checks.push(Check {
            name: name.to_string(),
            failure: result.err(),
        });
    }

    /// Whether every check passed (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.failure.is_none())
    }

    /// The first failure's hint, if any check failed.
    pub fn first_failure(&self) -> Option<&str> {
        self.checks.iter().find_map(|c| c.failure.as_deref())
    }
}

impl fmt::Display for Report {
    /// One line per check, `ok` or `FAILED`, each failure followed by its hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            match &check.failure {
                None => writeln!(f, "  ok      {}", check.name)?,
                Some(hint) => {
                    writeln!(f, "  FAILED  {}", check.name)?;
                    for line in hint.lines() {
                        writeln!(f, "          {line}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// For the checks' tests: whether `report` failed, its first failure's hint containing `words`.
#[cfg(test)]
fn fails_with(report: &Report, words: &str) -> bool {
    !report.passed() && report.first_failure().is_some_and(|h| h.contains(words))
}
