//! # Stage 2's exercises: sigmoid, the numerical gradient, the forward pass
//!
//! The checks for `crates/exercises/src/stage2/` (chapter "Stage 2: a hidden
//! layer"). The right answers come from stages 1 and 2 (`ch4-numerical`,
//! `ch4-two-layer`); the tests run each check on them and on broken copies.

use nalgebra::{DMatrix, RowDVector};

use crate::Report;
use crate::compare::{self, number, rows, sample};

/// Checks `sigmoid(a) -> σ(a)`, entry by entry.
pub fn sigmoid(sigmoid: impl Fn(&DMatrix<f64>) -> DMatrix<f64>) -> Report {
    let mut report = Report::new();
    let a = rows(1, 5, &[-2.0, -1.0, 0.0, 1.0, 2.0]);
    report.check(
        "σ(−2 … 2) = 1 / (1 + e^(−a))",
        compare::matrix(
            "sigmoid(a)",
            &sigmoid(&a),
            &ch4_two_layer::sigmoid(&a),
            None,
            &[
                (
                    "write e^(+a) for e^(−a) (that is σ(−a))",
                    ch4_two_layer::sigmoid(&-&a),
                ),
                ("leave out the 1 + (that is e^a)", a.map(f64::exp)),
            ],
        ),
    );
    let m = sample(3, 2, 7);
    report.check(
        "entry by entry, any shape (3 × 2)",
        compare::matrix(
            "sigmoid(a)",
            &sigmoid(&m),
            &ch4_two_layer::sigmoid(&m),
            None,
            &[],
        ),
    );
    let far = rows(1, 2, &[-1000.0, 1000.0]);
    report.check(
        "far from 0 (±1000): 0 and 1, no NaN",
        compare::matrix(
            "sigmoid([−1000, 1000])",
            &sigmoid(&far),
            &rows(1, 2, &[0.0, 1.0]),
            None,
            &[],
        ),
    );
    report
}

/// Checks `numerical_gradient(f, x) -> ∂f/∂x` (central differences, one per
/// entry, `x` put back as it was).
pub fn numerical_gradient(
    gradient: impl Fn(&mut dyn FnMut(&DMatrix<f64>) -> f64, &mut DMatrix<f64>) -> DMatrix<f64>,
) -> Report {
    let mut report = Report::new();
    // f(x) = Σ c ⊙ x², so ∂f/∂x = 2 c ⊙ x, different for every entry.
    let c = rows(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let x0 = rows(2, 3, &[0.5, -1.0, 2.0, 1.5, 0.25, -0.75]);
    let mut calls = 0;
    let mut x = x0.clone();
    let got = gradient(
        &mut |x: &DMatrix<f64>| {
            calls += 1;
            c.component_mul(&x.map(|v| v * v)).sum()
        },
        &mut x,
    );
    let want = 2.0 * c.component_mul(&x0);
    report.check(
        "f(x) = Σ c ⊙ x² (2 × 3): ∂f/∂x = 2 c ⊙ x",
        compare::matrix("the gradient", &got, &want, None, &[]),
    );
    report.check(
        "x is put back as it was",
        if compare::close(&x, &x0) {
            Ok(())
        } else {
            Err(format!(
                "after the call x differs from before (entry 0 is {}, was {}): restore each \
                 entry after nudging it, or the next partial derivative is taken at the wrong point",
                number(x[0]),
                number(x0[0])
            ))
        },
    );
    report.check(
        "two evaluations of f per entry",
        if calls == 2 * x0.len() {
            Ok(())
        } else {
            Err(format!(
                "f was evaluated {calls} times for a matrix of {} entries: the central \
                 difference needs f(x + h) and f(x − h) for each entry, so {}",
                x0.len(),
                2 * x0.len()
            ))
        },
    );
    report
}

/// Checks the forward pass `y = softmax(σ(x·W1 + b1)·W2 + b2)` with
/// `x: N × n_in`, `W1: n_in × hidden`, `b1: 1 × hidden`, `W2: hidden × n_out`, `b2: 1 × n_out`.
pub fn two_layer_predict(
    predict: impl Fn(
        &DMatrix<f64>,
        &DMatrix<f64>,
        &RowDVector<f64>,
        &DMatrix<f64>,
        &RowDVector<f64>,
    ) -> DMatrix<f64>,
) -> Report {
    use ch4_numerical::{affine, softmax};
    use ch4_two_layer::sigmoid;
    let mut report = Report::new();
    let net = ch4_two_layer::TwoLayerNet {
        w1: sample(5, 4, 1),
        b1: RowDVector::from_row_slice(&[0.5, -0.5, 1.0, 0.2]),
        w2: sample(4, 3, 2),
        b2: RowDVector::from_row_slice(&[-1.0, 0.3, 0.8]),
    };
    let x = sample(2, 5, 3);
    let (w1, b1, w2, b2) = (&net.w1, &net.b1, &net.w2, &net.b2);
    let got = predict(&x, w1, b1, w2, b2);
    let no_b = RowDVector::zeros(3);
    let mistakes = [
        ("forget b1", softmax(&affine(&sigmoid(&(&x * w1)), w2, b2))),
        (
            "forget b2",
            softmax(&affine(&sigmoid(&affine(&x, w1, b1)), w2, &no_b)),
        ),
        (
            "leave out the sigmoid",
            softmax(&affine(&affine(&x, w1, b1), w2, b2)),
        ),
        (
            "leave out the softmax",
            affine(&sigmoid(&affine(&x, w1, b1)), w2, b2),
        ),
        (
            "put a sigmoid where the softmax goes",
            sigmoid(&affine(&sigmoid(&affine(&x, w1, b1)), w2, b2)),
        ),
    ];
    report.check(
        "y: N × n_out (2 × 3)",
        if got.shape() == (2, 3) {
            Ok(())
        } else {
            Err(format!(
                "y is {} × {}, it should be N × n_out = 2 × 3: x·W1 is N × hidden, then ·W2 is N × n_out",
                got.nrows(),
                got.ncols()
            ))
        },
    );
    report.check(
        "y = softmax(σ(x·W1 + b1)·W2 + b2)",
        compare::matrix("y", &got, &net.predict(&x), None, &mistakes),
    );
    let one = x.rows(1, 1).into_owned();
    report.check(
        "a batch of one sample",
        compare::matrix(
            "y",
            &predict(&one, w1, b1, w2, b2),
            &net.predict(&one),
            None,
            &[],
        ),
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fails_with;

    #[test]
    fn sigmoid_passes_on_the_course_and_fails_with_the_wrong_sign() {
        assert!(sigmoid(ch4_two_layer::sigmoid).passed());
        let flipped = |a: &DMatrix<f64>| a.map(|v| 1.0 / (1.0 + v.exp()));
        assert!(
            fails_with(&sigmoid(flipped), "e^(+a)"),
            "{}",
            sigmoid(flipped)
        );
    }

    #[test]
    fn numerical_gradient_passes_on_the_course_and_fails_without_restoring_x() {
        let course = |f: &mut dyn FnMut(&DMatrix<f64>) -> f64, x: &mut DMatrix<f64>| {
            ch4_numerical::numerical_gradient(f, x)
        };
        assert!(numerical_gradient(course).passed());
        let forgetful = |f: &mut dyn FnMut(&DMatrix<f64>) -> f64, x: &mut DMatrix<f64>| {
            let h = 1e-4;
            DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
                let v = x[(i, j)];
                x[(i, j)] = v + h;
                let up = f(x);
                x[(i, j)] = v - h;
                (up - f(x)) / (2.0 * h)
            })
        };
        let report = numerical_gradient(forgetful);
        assert!(fails_with(&report, "restore each entry"), "{report}");
    }

    #[test]
    fn the_forward_pass_passes_on_the_course_and_fails_without_a_bias() {
        let course = |x: &DMatrix<f64>,
                      w1: &DMatrix<f64>,
                      b1: &RowDVector<f64>,
                      w2: &DMatrix<f64>,
                      b2: &RowDVector<f64>| {
            ch4_two_layer::TwoLayerNet {
                w1: w1.clone(),
                b1: b1.clone(),
                w2: w2.clone(),
                b2: b2.clone(),
            }
            .predict(x)
        };
        assert!(two_layer_predict(course).passed());
        let no_b1 = |x: &DMatrix<f64>,
                     w1: &DMatrix<f64>,
                     _: &RowDVector<f64>,
                     w2: &DMatrix<f64>,
                     b2: &RowDVector<f64>| {
            course(x, w1, &RowDVector::zeros(w1.ncols()), w2, b2)
        };
        assert!(fails_with(&two_layer_predict(no_b1), "forget b1"));
    }
}
