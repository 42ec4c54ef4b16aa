//! # Stage 3's exercises: backward, node by node and layer by layer
//!
//! The checks for `crates/exercises/src/stage3/` (chapter "Stage 3:
//! backpropagation"): the shopping example's multiplication and addition
//! nodes, `Affine`, `Relu` and `SoftmaxWithLoss` backward, and the gradient
//! check's relative error. Layers are checked through stage 3's own
//! [`Layer`] and [`Loss`] traits: against stage 3's layers, and against a
//! numerical gradient (stage 3's [`gradient_check`]), which knows nothing of
//! the formula and so catches any mistake the list of known ones misses.

use ch5_backprop::gradient_check::{self, check_layer};
use ch5_backprop::{Layer, Loss};
use nalgebra::DMatrix;

use crate::Report;
use crate::compare::{self, number, rows, sample};

/// Checks the nodes of the shopping example: `mul(x, y, dout)` and
/// `add(x, y, dout)` each run their node forward on `x, y`, then backward
/// on `dout`, and return `(∂E/∂x, ∂E/∂y)`.
pub fn mul_add_nodes(
    mul: impl Fn(f64, f64, f64) -> (f64, f64),
    add: impl Fn(f64, f64, f64) -> (f64, f64),
) -> Report {
    let mut report = Report::new();
    let pair = |(a, b): (f64, f64)| format!("({}, {})", number(a), number(b));
    let got = mul(100.0, 2.0, 1.1);
    report.check(
        "MulLayer: z = x·y, backward gives (dout·y, dout·x)",
        if close_pair(got, (2.2, 110.0)) {
            Ok(())
        } else if close_pair(got, (110.0, 2.2)) {
            Err("for x = 100, y = 2, dout = 1.1 you gave (110, 2.2), the two swapped: \
                 ∂z/∂x = y, so x's gradient is dout times the OTHER input y"
                .into())
        } else if close_pair(got, (2.0, 100.0)) {
            Err("for x = 100, y = 2, dout = 1.1 you gave (2, 100): the local derivatives \
                 alone. Multiply them by dout, the gradient arriving from above (chain rule)"
                .into())
        } else {
            Err(format!(
                "for x = 100, y = 2, dout = 1.1 you gave {}, it should be (dout·y, dout·x) = (2.2, 110)",
                pair(got)
            ))
        },
    );
    let got = add(100.0, 2.0, 1.1);
    report.check(
        "AddLayer: z = x + y, backward gives (dout, dout)",
        if close_pair(got, (1.1, 1.1)) {
            Ok(())
        } else if close_pair(got, (1.0, 1.0)) {
            Err("you gave (1, 1), the local derivatives alone: pass dout on, times 1".into())
        } else {
            Err(format!(
                "for dout = 1.1 you gave {}: ∂z/∂x = ∂z/∂y = 1, so both get dout unchanged",
                pair(got)
            ))
        },
    );
    // The book's first graph: price = apple · apple_num · tax.
    let (apple, num, tax) = (100.0, 2.0, 1.1);
    let (d_apple_price, d_tax) = mul(apple * num, tax, 1.0);
    let (d_apple, d_num) = mul(apple, num, d_apple_price);
    report.check(
        "2 apples at 100, tax 1.1: d apple 2.2, d apple_num 110, d tax 200",
        if close_pair((d_apple, d_num), (2.2, 110.0)) && compare::close_number(d_tax, 200.0) {
            Ok(())
        } else {
            Err(format!(
                "your nodes give d apple {}, d apple_num {}, d tax {}",
                number(d_apple),
                number(d_num),
                number(d_tax)
            ))
        },
    );
    // The second: price = (apple · apple_num + orange · orange_num) · tax.
    let (orange, orange_num) = (150.0, 3.0);
    let all = apple * num + orange * orange_num;
    let (d_all, d_tax) = mul(all, tax, 1.0);
    let (d_apple_price, d_orange_price) = add(apple * num, orange * orange_num, d_all);
    let (d_orange, d_orange_num) = mul(orange, orange_num, d_orange_price);
    let (d_apple, _) = mul(apple, num, d_apple_price);
    report.check(
        "apples and oranges: d apple 2.2, d orange 3.3, d orange_num 165, d tax 650",
        if [d_apple, d_orange, d_orange_num, d_tax]
            .iter()
            .zip([2.2, 3.3, 165.0, 650.0])
            .all(|(&g, w)| compare::close_number(g, w))
        {
            Ok(())
        } else {
            Err(format!(
                "your nodes give d apple {}, d orange {}, d orange_num {}, d tax {}",
                number(d_apple),
                number(d_orange),
                number(d_orange_num),
                number(d_tax)
            ))
        },
    );
    report
}

fn close_pair(got: (f64, f64), want: (f64, f64)) -> bool {
    compare::close_number(got.0, want.0) && compare::close_number(got.1, want.1)
}

/// The parameter gradients a layer stored, in the order of `for_each_param`.
fn parameter_gradients(layer: &mut dyn Layer<f64>) -> Vec<DMatrix<f64>> {
    let mut grads = Vec::new();
    layer.for_each_param(&mut |_, grad| grads.push(grad.clone()));
    grads
}

/// The largest error of a layer's gradient check, as a check result.
fn gradient_check(
    layer: &mut dyn Layer<f64>,
    x: &DMatrix<f64>,
    g: &DMatrix<f64>,
) -> Result<(), String> {
    gradient_check_named(layer, x, g, &["∂E/∂W", "∂E/∂b"])
}

/// [`gradient_check`] of a layer whose parameters (in the order of
/// `for_each_param`) are called `names`.
pub(crate) fn gradient_check_named(
    layer: &mut dyn Layer<f64>,
    x: &DMatrix<f64>,
    g: &DMatrix<f64>,
    names: &[&str],
) -> Result<(), String> {
    // check_layer compares each gradient with a numerical one of its
    // parameter's (or the input's) shape: shapes must agree.
    layer.forward(x);
    let dx = layer.backward(g);
    if dx.shape() != x.shape() {
        return Err(format!(
            "not run: ∂E/∂X is {} × {} but the input is {} × {} (see the checks above)",
            dx.nrows(),
            dx.ncols(),
            x.nrows(),
            x.ncols()
        ));
    }
    let mut shapes = Vec::new();
    layer.for_each_param(&mut |p, grad| shapes.push((p.shape(), grad.shape())));
    if let Some((p, grad)) = shapes.iter().find(|(p, grad)| p != grad) {
        return Err(format!(
            "not run: a parameter is {} × {} but its gradient is {} × {} (see the checks above)",
            p.0, p.1, grad.0, grad.1
        ));
    }
    let errors = check_layer(layer, x, g);
    if errors.max() < 1e-7 {
        Ok(())
    } else {
        Err(format!(
            "the gradient check disagrees with your backward: relative error {} for ∂E/∂X{} \
             (a right backward is below 1e-7; look at the largest)",
            number(errors.dx),
            errors
                .params
                .iter()
                .zip(names)
                .map(|(e, name)| format!(", {} for {name}", number(*e)))
                .collect::<String>()
        ))
    }
}

/// Checks `Affine::backward(dy) -> dx`, which must also store `grad_w` and
/// `grad_b`. `new(w, b)` makes the learner's layer with `w: n_in × n_out`,
/// `b: 1 × n_out`.
pub fn affine_backward<L: Layer<f64>>(new: impl Fn(DMatrix<f64>, DMatrix<f64>) -> L) -> Report {
    let mut report = Report::new();
    let n = 4;
    let (w, b) = (sample(3, 2, 11), sample(1, 2, 12));
    let x = sample(n, 3, 13);
    let dy = sample(n, 2, 14) / n as f64; // as from a mean loss: it already holds 1/N
    let mut reference = ch5_backprop::Affine::from_parameters(w.clone(), b.clone());
    reference.forward(&x);
    let want_dx = reference.backward(&dy);
    let mut layer = new(w.clone(), b.clone());
    layer.forward(&x);
    let dx = layer.backward(&dy);
    report.check(
        "dX = dY·Wᵀ (N × n_in)",
        compare::matrix("dX", &dx, &want_dx, Some(n), &[]),
    );
    let grads = parameter_gradients(&mut layer);
    let (grad_w, grad_b) = match grads.as_slice() {
        [gw, gb] => (gw.clone(), gb.clone()),
        _ => (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0)),
    };
    report.check(
        "∂E/∂W = Xᵀ·dY (n_in × n_out), stored in grad_w",
        if grad_w == DMatrix::zeros(3, 2) {
            Err("grad_w is all zeros: set self.grad_w in backward (Xᵀ·dY, with the X kept by forward)".into())
        } else {
            compare::matrix(
                "∂E/∂W",
                &grad_w,
                &reference.grad_w,
                Some(n),
                &[(
                    "divide by the batch size N: dY comes from the mean loss, so it already holds the 1/N",
                    &reference.grad_w / n as f64,
                )],
            )
        },
    );
    report.check(
        "∂E/∂b = 1ᵀ·dY, the sum of dY's rows (1 × n_out), stored in grad_b",
        if grad_b.shape() == dy.shape() {
            Err(format!(
                "grad_b is {n} × 2, dY's own shape: b was added to every row, so sum dY's \
                 rows (1ᵀ·dY) to get its 1 × n_out gradient"
            ))
        } else {
            compare::matrix(
                "∂E/∂b",
                &grad_b,
                &reference.grad_b,
                Some(n),
                &[
                    (
                        "take the mean of dY's rows: it is their sum (b reached every row once)",
                        &reference.grad_b / n as f64,
                    ),
                    (
                        "use dY's first row only: sum all its rows",
                        dy.rows(0, 1).into_owned(),
                    ),
                ],
            )
        },
    );
    let mut layer = new(w.clone(), b.clone());
    report.check(
        "a gradient check (numerical ∂E/∂X, ∂E/∂W, ∂E/∂b)",
        gradient_check(&mut layer, &x, &(&dy * n as f64)),
    );
    let mut layer = new(w, b);
    let sizes = [1, 7].map(|n| {
        layer.forward(&DMatrix::from_element(n, 3, 0.5));
        let dx = layer.backward(&DMatrix::from_element(n, 2, 1.0));
        (
            n,
            dx.shape(),
            parameter_gradients(&mut layer).get(1).map(|gb| gb[0]),
        )
    });
    report.check(
        "any batch size (1 and 7)",
        match sizes
            .iter()
            .find(|(n, shape, gb)| *shape != (*n, 3) || *gb != Some(*n as f64))
        {
            None => Ok(()),
            Some((n, shape, gb)) => Err(format!(
                "with a batch of {n}, dX is {} × {} (should be {n} × 3) and grad_b[0] is {} \
                 (should be {n} for dY all ones): is a size written in by hand?",
                shape.0,
                shape.1,
                gb.map_or("missing".into(), number)
            )),
        },
    );
    report
}

/// Checks `Relu::backward(dy) -> dx = dY ⊙ [x > 0]`. `new()` makes the learner's layer.
pub fn relu_backward<L: Layer<f64>>(new: impl Fn() -> L) -> Report {
    let mut report = Report::new();
    let x = rows(2, 3, &[-1.5, 0.5, 0.0, 2.0, -0.25, 3.0]);
    let dy = sample(2, 3, 21);
    let mut reference = ch5_backprop::Relu::new();
    reference.forward(&x);
    let want = reference.backward(&dy);
    let mut layer = new();
    layer.forward(&x);
    let got = layer.backward(&dy);
    let mask = |keep: fn(f64) -> bool| x.map(|v| if keep(v) { 1.0 } else { 0.0 });
    report.check(
        "dX = dY where x > 0, and 0 where x ≤ 0",
        compare::matrix(
            "dX",
            &got,
            &want,
            None,
            &[
                ("pass the gradient on where x < 0 too: ReLU stopped those inputs, so their gradient is 0", dy.clone()),
                ("give the mask [x > 0] alone: multiply it by dY", mask(|v| v > 0.0)),
                ("mask by the sign of dY: mask by the input x of forward", dy.map(|v| v.max(0.0))),
                ("let the gradient through at x = 0: the course's ReLU passes only x > 0", dy.component_mul(&mask(|v| v >= 0.0))),
            ],
        ),
    );
    let x = sample(3, 4, 22);
    report.check(
        "a gradient check (inputs away from 0)",
        gradient_check(&mut new(), &x, &sample(3, 4, 23)),
    );
    let mut layer = new();
    layer.forward(&rows(1, 2, &[1.0, -1.0]));
    layer.forward(&rows(1, 2, &[-1.0, 1.0]));
    let got = layer.backward(&rows(1, 2, &[5.0, 7.0]));
    report.check(
        "backward uses the input of the LAST forward",
        compare::matrix("dX", &got, &rows(1, 2, &[0.0, 7.0]), None, &[]),
    );
    report
}

/// Checks `SoftmaxWithLoss::backward() -> dA = (y − t)/N`. `new()` makes the learner's layer.
pub fn softmax_with_loss_backward<L: Loss<f64>>(new: impl Fn() -> L) -> Report {
    let mut report = Report::new();
    let n = 4;
    let a = sample(n, 3, 31) * 3.0;
    let t = rows(
        4,
        3,
        &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
    );
    let mut reference = ch5_backprop::SoftmaxWithLoss::new();
    reference.forward(&a, &t);
    let want = reference.backward();
    let y = reference.probabilities().clone();
    let mut layer = new();
    layer.forward(&a, &t);
    let got = layer.backward();
    report.check(
        "dA = (y − t)/N for a batch of 4",
        compare::matrix(
            "dA",
            &got,
            &want,
            Some(n),
            &[
                ("forget the 1/N: the loss is the mean over the batch of 4, so each sample's gradient is divided by N = 4", &y - &t),
                ("subtract the other way round: it is y − t", (&t - &y) / n as f64),
                ("return y/N without the target: it is (y − t)/N", &y / n as f64),
            ],
        ),
    );
    let mut layer = new();
    let numerical = gradient_check::numerical_gradient(n, 3, |i, d| {
        let mut nudged = a.clone();
        nudged[i] += d;
        layer.forward(&nudged, &t)
    });
    layer.forward(&a, &t);
    let got = layer.backward();
    report.check(
        "agrees with the numerical gradient of the loss",
        if gradient_check::relative_error(&got, &numerical) < 1e-7 {
            Ok(())
        } else {
            compare::matrix("dA", &got, &numerical, Some(n), &[])
                .and(Err("dA disagrees with the numerical gradient".into()))
        },
    );
    let one = a.rows(0, 1).into_owned();
    let t1 = t.rows(0, 1).into_owned();
    let mut layer = new();
    layer.forward(&one, &t1);
    let got = layer.backward();
    reference.forward(&one, &t1);
    report.check(
        "a batch of one sample: dA = y − t",
        compare::matrix("dA", &got, &reference.backward(), Some(1), &[]),
    );
    report
}

/// Checks `relative_error(analytic, numerical)`:
/// `max_i |a_i − n_i| / max_i max(|a_i|, |n_i|)`, and 0 when they are equal.
pub fn relative_error(relative_error: impl Fn(&DMatrix<f64>, &DMatrix<f64>) -> f64) -> Report {
    let mut report = Report::new();
    let course = gradient_check::relative_error;
    let a = rows(1, 3, &[2.0, -4.0, 1.0]);
    let b = rows(1, 3, &[2.0, -4.1, 1.0]);
    let (got, want) = (relative_error(&a, &b), course(&a, &b));
    report.check(
        "[2, −4, 1] against [2, −4.1, 1]: 0.1 / 4.1",
        if compare::close_number(got, want) {
            Ok(())
        } else if compare::close_number(got, 0.1) {
            Err(
                "you gave 0.1, the absolute difference: divide it by the size of the gradients, \
                 max |a_i| or |n_i| = 4.1, so that the error does not depend on their scale"
                    .into(),
            )
        } else if compare::close_number(got, 0.1 / 4.0) {
            Err("you gave 0.1 / 4: the scale is the largest entry of BOTH gradients, 4.1".into())
        } else {
            Err(format!(
                "you gave {}, it should be 0.1 / 4.1 = {}",
                number(got),
                number(want)
            ))
        },
    );
    let zeros = DMatrix::zeros(2, 2);
    let got = relative_error(&zeros, &zeros);
    report.check(
        "two equal zero gradients: 0, not NaN",
        if got == 0.0 {
            Ok(())
        } else {
            Err(format!(
                "two zero gradients give {}: 0/0 is NaN. When they are equal the error is 0",
                number(got)
            ))
        },
    );
    let a = rows(1, 3, &[1.0, 1e-12, -0.5]);
    let b = rows(1, 3, &[1.0, 2e-12, -0.5]);
    let got = relative_error(&a, &b);
    report.check(
        "a tiny entry's rounding noise is not an error",
        if got < 1e-9 {
            Ok(())
        } else {
            Err(format!(
                "1e-12 against 2e-12 among entries of size 1 gives {}: dividing each \
                 entry by its own size turns noise into a large error. Use one scale for all: \
                 the largest entry of either gradient",
                number(got)
            ))
        },
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fails_with;

    #[test]
    fn nodes_pass_on_the_formulas_and_fail_when_swapped() {
        // The course's nodes live in an example (examples/apple_shopping.rs),
        // which no library can link: these closures are its two backward lines.
        let mul = |x: f64, y: f64, d: f64| (d * y, d * x);
        let add = |_: f64, _: f64, d: f64| (d, d);
        assert!(mul_add_nodes(mul, add).passed());
        let swapped = |x: f64, y: f64, d: f64| (d * x, d * y);
        assert!(fails_with(&mul_add_nodes(swapped, add), "the two swapped"));
        let ones = |_: f64, _: f64, _: f64| (1.0, 1.0);
        assert!(fails_with(&mul_add_nodes(mul, ones), "pass dout on"));
    }

    /// A broken backward: `(x, w, dy) -> [dx, dw, db]`.
    type Backward = fn(&DMatrix<f64>, &DMatrix<f64>, &DMatrix<f64>) -> [DMatrix<f64>; 3];

    /// Stage 3's Affine with its backward changed by `backward(x, w, dy) -> (dx, dw, db)`.
    struct BrokenAffine {
        inner: ch5_backprop::Affine<f64>,
        x: DMatrix<f64>,
        backward: Backward,
    }

    impl Layer<f64> for BrokenAffine {
        fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
            self.x = x.clone();
            self.inner.forward(x)
        }
        fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
            let [dx, dw, db] = (self.backward)(&self.x, &self.inner.w, dy);
            self.inner.grad_w = dw;
            self.inner.grad_b = db;
            dx
        }
        fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<f64>, &DMatrix<f64>)) {
            self.inner.for_each_param(visit)
        }
        fn name(&self) -> String {
            "broken Affine".into()
        }
    }

    fn broken(backward: Backward) -> Report {
        affine_backward(|w, b| BrokenAffine {
            inner: ch5_backprop::Affine::from_parameters(w, b),
            x: DMatrix::zeros(0, 0),
            backward,
        })
    }

    fn sum_rows(dy: &DMatrix<f64>) -> DMatrix<f64> {
        DMatrix::from_element(1, dy.nrows(), 1.0) * dy
    }

    #[test]
    fn affine_passes_on_the_course_and_fails_on_typical_mistakes() {
        assert!(affine_backward(ch5_backprop::Affine::from_parameters).passed());
        let right = |x: &DMatrix<f64>, w: &DMatrix<f64>, dy: &DMatrix<f64>| {
            [dy * w.transpose(), x.transpose() * dy, sum_rows(dy)]
        };
        assert!(broken(right).passed(), "{}", broken(right));

        let extra_n = |x: &DMatrix<f64>, w: &DMatrix<f64>, dy: &DMatrix<f64>| {
            [
                dy * w.transpose(),
                x.transpose() * dy / dy.nrows() as f64,
                sum_rows(dy),
            ]
        };
        let report = broken(extra_n);
        assert!(fails_with(&report, "already holds the 1/N"), "{report}");

        let transposed = |x: &DMatrix<f64>, w: &DMatrix<f64>, dy: &DMatrix<f64>| {
            [dy * w.transpose(), dy.transpose() * x, sum_rows(dy)]
        };
        assert!(fails_with(&broken(transposed), "transposed"));

        let unsummed = |x: &DMatrix<f64>, w: &DMatrix<f64>, dy: &DMatrix<f64>| {
            [dy * w.transpose(), x.transpose() * dy, dy.clone()]
        };
        assert!(fails_with(&broken(unsummed), "sum dY's rows"));

        let mean_b = |x: &DMatrix<f64>, w: &DMatrix<f64>, dy: &DMatrix<f64>| {
            [
                dy * w.transpose(),
                x.transpose() * dy,
                sum_rows(dy) / dy.nrows() as f64,
            ]
        };
        assert!(fails_with(&broken(mean_b), "mean of dY's rows"));

        let flipped_dx = |x: &DMatrix<f64>, w: &DMatrix<f64>, dy: &DMatrix<f64>| {
            [-(dy * w.transpose()), x.transpose() * dy, sum_rows(dy)]
        };
        assert!(fails_with(&broken(flipped_dx), "opposite sign"));
    }

    /// Stage 3's Relu with its backward replaced.
    struct BrokenRelu {
        x: DMatrix<f64>,
        backward: fn(&DMatrix<f64>, &DMatrix<f64>) -> DMatrix<f64>,
    }

    impl Layer<f64> for BrokenRelu {
        fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
            self.x = x.clone();
            x.map(|v| v.max(0.0))
        }
        fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
            (self.backward)(&self.x, dy)
        }
        fn name(&self) -> String {
            "broken ReLU".into()
        }
    }

    #[test]
    fn relu_passes_on_the_course_and_fails_when_negative_gradients_pass() {
        assert!(relu_backward(ch5_backprop::Relu::new).passed());
        let leaky = |_: &DMatrix<f64>, dy: &DMatrix<f64>| dy.clone();
        let report = relu_backward(|| BrokenRelu {
            x: DMatrix::zeros(0, 0),
            backward: leaky,
        });
        assert!(fails_with(&report, "where x < 0 too"), "{report}");
        let by_dy = |_: &DMatrix<f64>, dy: &DMatrix<f64>| dy.map(|v| v.max(0.0));
        let report = relu_backward(|| BrokenRelu {
            x: DMatrix::zeros(0, 0),
            backward: by_dy,
        });
        assert!(fails_with(&report, "sign of dY"), "{report}");
    }

    /// Stage 3's SoftmaxWithLoss with its backward replaced by `backward(y, t)`.
    struct BrokenLoss {
        inner: ch5_backprop::SoftmaxWithLoss<f64>,
        t: DMatrix<f64>,
        backward: fn(&DMatrix<f64>, &DMatrix<f64>) -> DMatrix<f64>,
    }

    impl Loss<f64> for BrokenLoss {
        fn forward(&mut self, a: &DMatrix<f64>, t: &DMatrix<f64>) -> f64 {
            self.t = t.clone();
            self.inner.forward(a, t)
        }
        fn backward(&mut self) -> DMatrix<f64> {
            (self.backward)(self.inner.probabilities(), &self.t)
        }
        fn name(&self) -> String {
            "broken SoftmaxWithLoss".into()
        }
    }

    #[test]
    fn softmax_with_loss_passes_on_the_course_and_fails_without_the_1_over_n() {
        assert!(softmax_with_loss_backward(ch5_backprop::SoftmaxWithLoss::new).passed());
        let no_n = |y: &DMatrix<f64>, t: &DMatrix<f64>| y - t;
        let report = softmax_with_loss_backward(|| BrokenLoss {
            inner: ch5_backprop::SoftmaxWithLoss::new(),
            t: DMatrix::zeros(0, 0),
            backward: no_n,
        });
        assert!(fails_with(&report, "forget the 1/N"), "{report}");
    }

    #[test]
    fn relative_error_passes_on_the_course_and_fails_per_entry() {
        assert!(relative_error(gradient_check::relative_error).passed());
        let per_entry = |a: &DMatrix<f64>, b: &DMatrix<f64>| {
            a.iter()
                .zip(b.iter())
                .map(|(a, b)| {
                    if a == b {
                        0.0
                    } else {
                        (a - b).abs() / a.abs().max(b.abs())
                    }
                })
                .fold(0.0, f64::max)
        };
        let report = relative_error(per_entry);
        assert!(fails_with(&report, "one scale for all"), "{report}");
        let absolute = |a: &DMatrix<f64>, b: &DMatrix<f64>| (a - b).abs().max();
        assert!(fails_with(&relative_error(absolute), "absolute difference"));
    }
}
