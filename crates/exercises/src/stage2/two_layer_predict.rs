//! Exercise `two_layer_predict` (stage 2, chapter "Stage 2: a hidden
//! layer"). Check it with `cargo xtask exercise two_layer_predict`.

use nalgebra::{DMatrix, RowDVector};

/// The two-layer network's forward pass:
///
/// ```text
/// a1 = x·W1 + b1    x: N × n_in, W1: n_in × hidden, b1: 1 × hidden (added to every row)
/// z1 = sigmoid(a1)  N × hidden
/// a2 = z1·W2 + b2   W2: hidden × n_out, b2: 1 × n_out
/// y  = softmax(a2)  N × n_out, each row sums to 1
/// ```
///
/// You may use the course's `ch4_numerical::{affine, softmax}` and
/// `ch4_two_layer::sigmoid`, or your own from the earlier exercises
/// (`crate::stage1::softmax::softmax`, `crate::stage2::sigmoid::sigmoid`).
pub fn predict(
    x: &DMatrix<f64>,
    w1: &DMatrix<f64>,
    b1: &RowDVector<f64>,
    w2: &DMatrix<f64>,
    b2: &RowDVector<f64>,
) -> DMatrix<f64> {
    todo!("two_layer_predict: your code here")
}
