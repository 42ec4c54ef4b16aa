//! # Exercises: your turn
//!
//! Beside the course, not a stage of it. Each file under `src/stage1/` …
//! `src/stage6/` holds one exercise: a function or a layer of that stage,
//! with the signature the course uses, a doc comment that states the task
//! and the formula with its shapes, and a `todo!()` for a body. Write the
//! body, then check it:
//!
//! ```text
//! cargo xtask exercise                  # every exercise and its state
//! cargo xtask exercise affine_backward  # run one exercise's checks
//! cargo xtask exercise affine_backward --watch   # again on every save
//! cargo xtask exercise affine_backward --reset   # back to the stub
//! ```
//!
//! The checks are the course's own (`crates/exercise-checks`): the same
//! functions that `cargo test --workspace` runs against the course's code,
//! and against broken copies of it. They say what passed, what failed, and
//! the likely mistake. The pristine stubs are kept in `stubs/`; `--reset`
//! copies one back.
//!
//! [`checks`] maps each exercise's name to its checks run on your code;
//! `src/main.rs` runs them one at a time, guarded against panics and endless loops.

// The stubs' parameters are unused until the learner writes the bodies, and
// `todo!()` leaves them so; the workspace's clippy runs with -D warnings.
#![allow(unused_variables, unused_mut, unused_imports, dead_code)]

use exercise_checks::{
    Report, stage1 as s1, stage2 as s2, stage3 as s3, stage4 as s4, stage5 as s5, stage6 as s6,
};
use nalgebra::DMatrix;

pub mod stage1 {
    //! Stage 1: one layer, numerical gradients.
    pub mod cross_entropy;
    pub mod numerical_diff;
    pub mod softmax;
}

pub mod stage2 {
    //! Stage 2: a hidden layer.
    pub mod numerical_gradient;
    pub mod sigmoid;
    pub mod two_layer_predict;
}

pub mod stage3 {
    //! Stage 3: backpropagation.
    pub mod affine_backward;
    pub mod mul_add_nodes;
    pub mod relative_error;
    pub mod relu_backward;
    pub mod softmax_with_loss_backward;
}

pub mod stage4 {
    //! Stage 4: mini-batches, initialisation, optimizers.
    pub mod adam;
    pub mod he_init;
    pub mod momentum;
}

pub mod stage5 {
    //! Stage 5: batch normalisation, weight decay, dropout.
    pub mod batch_norm_backward;
    pub mod dropout;
    pub mod weight_decay;
}

pub mod stage6 {
    //! Stage 6: convolution and pooling.
    pub mod col2im;
    pub mod conv_backward;
    pub mod im2col;
    pub mod max_pool_backward;
}

/// The dropout check's interface, on your layer's own methods.
impl s5::DropoutLayer for stage5::dropout::Dropout {
    fn forward(&mut self, x: &DMatrix<f64>, training: bool) -> DMatrix<f64> {
        stage5::dropout::Dropout::forward(self, x, training)
    }
    fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
        stage5::dropout::Dropout::backward(self, dy)
    }
}

/// The checks of the exercise `name`, run on the code in this crate.
pub fn checks(name: &str) -> Option<fn() -> Report> {
    Some(match name {
        "softmax" => || s1::softmax(stage1::softmax::softmax),
        "cross_entropy" => || s1::cross_entropy(stage1::cross_entropy::cross_entropy),
        "numerical_diff" => {
            || s1::numerical_diff(|f, x| stage1::numerical_diff::numerical_diff(f, x))
        }
        "sigmoid" => || s2::sigmoid(stage2::sigmoid::sigmoid),
        "numerical_gradient" => {
            || s2::numerical_gradient(|f, x| stage2::numerical_gradient::numerical_gradient(f, x))
        }
        "two_layer_predict" => || s2::two_layer_predict(stage2::two_layer_predict::predict),
        "mul_add_nodes" => || {
            use stage3::mul_add_nodes::{AddLayer, MulLayer};
            s3::mul_add_nodes(
                |x, y, dout| {
                    let mut node = MulLayer::default();
                    node.forward(x, y);
                    node.backward(dout)
                },
                |x, y, dout| {
                    let node = AddLayer;
                    node.forward(x, y);
                    node.backward(dout)
                },
            )
        },
        "affine_backward" => {
            || s3::affine_backward(stage3::affine_backward::Affine::from_parameters)
        }
        "relu_backward" => || s3::relu_backward(stage3::relu_backward::Relu::new),
        "softmax_with_loss_backward" => || {
            s3::softmax_with_loss_backward(stage3::softmax_with_loss_backward::SoftmaxWithLoss::new)
        },
        "relative_error" => || s3::relative_error(stage3::relative_error::relative_error),
        "momentum" => || s4::momentum(stage4::momentum::Momentum::new),
        "adam" => || s4::adam(stage4::adam::Adam::new),
        "he_init" => || s4::he_init(stage4::he_init::he),
        "weight_decay" => || {
            use stage5::weight_decay::{add_decay_gradient, weight_penalty};
            s5::weight_decay(weight_penalty, add_decay_gradient)
        },
        "dropout" => || s5::dropout(stage5::dropout::Dropout::new),
        "batch_norm_backward" => {
            || s5::batch_norm_backward(stage5::batch_norm_backward::BatchNorm::from_parameters)
        }
        "im2col" => || s6::im2col(stage6::im2col::im2col),
        "col2im" => || s6::col2im(stage6::col2im::col2im),
        "conv_backward" => || {
            s6::conv_backward(|input, window, w, b| {
                stage6::conv_backward::Convolution::from_parameters(input, window, w, b)
                    .expect("the checks' windows fit")
            })
        },
        "max_pool_backward" => || {
            s6::max_pool_backward(|input, h, w, stride| {
                stage6::max_pool_backward::MaxPooling::new(input, h, w, stride)
                    .expect("the checks' windows fit")
            })
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use exercise_checks::EXERCISES;
    use std::path::Path;

    #[test]
    fn every_exercise_has_checks_a_file_and_a_stub() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for e in EXERCISES {
            assert!(checks(e.name).is_some(), "{}: no checks", e.name);
            assert!(
                root.join("src").join(e.file).is_file(),
                "{}: no src file",
                e.name
            );
            let stub = std::fs::read_to_string(root.join("stubs").join(e.file)).expect("a stub");
            assert!(
                stub.contains("todo!("),
                "{}: the stub must be unsolved",
                e.name
            );
            assert!(
                e.file.starts_with(&format!("stage{}/", e.stage)),
                "{}",
                e.name
            );
        }
        assert!(checks("no such exercise").is_none());
        let stubs = std::fs::read_dir(root.join("stubs"))
            .expect("stubs/")
            .flat_map(|d| std::fs::read_dir(d.expect("an entry").path()).expect("a folder"))
            .count();
        assert_eq!(stubs, EXERCISES.len(), "one stub per exercise");
    }
}
