//! # Stage 5's exercises: weight decay, dropout, batch-norm backward
//!
//! The checks for `crates/exercises/src/stage5/` (chapter "Stage 5: batch
//! normalisation, weight decay, dropout, and honest search"), in the
//! chapter's order. Each compares the learner's code with stage 5's own
//! (`ch6_regularization`): weight decay with what its `RegularizedNet` adds to the
//! loss and to `∂E/∂W`, dropout with its `Dropout` drawing from the same
//! seed, batch norm with its `BatchNorm` and with a numerical gradient
//! (stage 3's gradient check), and names the usual mistakes, which the check
//! computes.

use ch5_backprop::Layer;
use ch6_regularization::network::{self, RegularizedNet};
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::Report;
use crate::compare::{self, close_number, number, sample};
use crate::stage3::gradient_check_named;

/// A small stage 5 network (784 → 6 → 5 → 10, He weights, no batch norm,
/// no dropout) with weight decay `lambda`, from seed 3.
fn small_network(lambda: f64) -> RegularizedNet<f64> {
    let config = network::Config {
        hidden: vec![6, 5],
        batch_norm: false,
        dropout: 0.0,
        weight_decay: lambda,
        init: ch6_mlp::Init::He,
        weight_scale: None,
        optimizer: ch6_mlp::engine::optim::OptimizerKind::Sgd,
        learning_rate: 0.01,
        batch_size: 4,
        epochs: 1,
    };
    RegularizedNet::new(&config, 3)
}

/// Each dense layer's `(W, ∂E/∂W)` of `net`, in order.
fn weights_and_gradients(net: &RegularizedNet<f64>) -> Vec<(DMatrix<f64>, DMatrix<f64>)> {
    net.dense_layers()
        .map(|dense| (dense.w.clone(), dense.grad_w.clone()))
        .collect()
}

/// Checks weight decay: `penalty(weights, λ) = λ/2 · Σ_layers ‖W‖²` (every
/// weight matrix's squared entries), and `add_gradient(grad_w, w, λ)`, which
/// adds its gradient `λ·W` to a layer's `∂E/∂W`. Compared with what stage 5's
/// `RegularizedNet` adds to its loss and gradients.
pub fn weight_decay(
    penalty: impl Fn(&[DMatrix<f64>], f64) -> f64,
    add_gradient: impl Fn(&mut DMatrix<f64>, &DMatrix<f64>, f64),
) -> Report {
    let mut report = Report::new();
    let lambda = 0.1;
    let decayed = small_network(lambda);
    let weights: Vec<DMatrix<f64>> = weights_and_gradients(&decayed)
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    let want = decayed.weight_penalty();
    let got = penalty(&weights, lambda);
    let squares: f64 = weights.iter().map(|w| w.norm_squared()).sum();
    report.check(
        "the penalty λ/2 · Σ‖W‖² of a 784 → 6 → 5 → 10 network, λ = 0.1",
        if close_number(got, want) {
            Ok(())
        } else {
            let norms: f64 = weights.iter().map(|w| w.norm()).sum();
            let absolute: f64 = weights.iter().map(|w| w.abs().sum()).sum();
            let one: f64 = weights[0].norm_squared();
            let known = [
                (
                    lambda * squares,
                    "left out the 1/2: λ/2 makes the gradient exactly λ·W",
                ),
                (squares / 2.0, "left out λ"),
                (
                    lambda / 2.0 * norms,
                    "summed the norms ‖W‖, not their squares ‖W‖² = Σ w²",
                ),
                (
                    lambda / 2.0 * absolute,
                    "summed |w| (that is L1 decay): the course's is the squares, Σ w²",
                ),
                (
                    lambda / 2.0 * one,
                    "decayed the first layer only: every W counts",
                ),
            ];
            Err(match known.iter().find(|(v, _)| close_number(got, *v)) {
                Some((_, mistake)) => {
                    format!(
                        "your penalty is {}, it should be {}: you {mistake}",
                        number(got),
                        number(want)
                    )
                }
                None => format!(
                    "your penalty is {}, it should be λ/2 · Σ‖W‖² = {}",
                    number(got),
                    number(want)
                ),
            })
        },
    );

    // The same batch through the network with and without decay: the
    // difference of the gradients is decay's own term.
    let mut rng = StdRng::seed_from_u64(11);
    let x = DMatrix::from_fn(4, 784, |_, _| rng.random::<f64>());
    let t = mnist::one_hot(&[3, 1, 4, 1]);
    let (mut plain, mut decayed) = (small_network(0.0), decayed);
    plain.set_batch(x.clone(), t.clone());
    decayed.set_batch(x, t);
    plain.gradient();
    decayed.gradient();
    let mut result = Ok(());
    for (i, ((w, g0), (_, want))) in weights_and_gradients(&plain)
        .into_iter()
        .zip(weights_and_gradients(&decayed))
        .enumerate()
    {
        let mut got = g0.clone();
        add_gradient(&mut got, &w, lambda);
        let what = format!("∂E/∂W of layer {}", i + 1);
        result = compare::matrix(
            &what,
            &got,
            &want,
            None,
            &[
                ("replace ∂E/∂W by λ·W: add λ·W to the loss's gradient (+=)", &w * lambda),
                ("add λ·W²: the derivative of λ/2 · w² is λ·w", &g0 + w.map(|v| lambda * v * v)),
                ("add λ·sign(W): that is L1 decay's; the course's is λ·W", &g0 + w.map(|v| lambda * v.signum())),
                ("subtract λ·W: the penalty is added to the loss, so its gradient is added too", &g0 - &w * lambda),
                ("add λ/2·W: the 2 of the square's derivative cancels the 1/2, ∂(λ/2 · w²)/∂w = λ·w", &g0 + &w * (lambda / 2.0)),
                ("leave out λ", &g0 + &w),
            ],
        )
        .map_err(|e| format!("{e}\n(∂(λ/2 · Σ w²)/∂w = λ·w, added to the gradient of the cross-entropy)"));
        if result.is_err() {
            break;
        }
    }
    report.check(
        "∂E/∂W gains λ·W in every layer (compared with stage 5's RegularizedNet::gradient)",
        result,
    );

    // Your gradient must be the derivative of your penalty.
    let w = sample(3, 4, 51);
    let h = 1e-5;
    let numerical = DMatrix::from_fn(3, 4, |r, c| {
        let nudged = |d: f64| {
            let mut v = w.clone();
            v[(r, c)] += d;
            penalty(std::slice::from_ref(&v), 0.3)
        };
        (nudged(h) - nudged(-h)) / (2.0 * h)
    });
    let mut got = DMatrix::zeros(3, 4);
    add_gradient(&mut got, &w, 0.3);
    report.check(
        "your gradient term is the derivative of your penalty (numerically, λ = 0.3)",
        compare::matrix("your λ·W", &got, &numerical, None, &[]).map_err(|e| {
            format!(
                "{e}\n(compared with the central difference of YOUR penalty: your two functions \
                     disagree; where the checks above passed one of them, the other is wrong)"
            )
        }),
    );
    report
}

/// The interface of a dropout layer, as stage 5's [`ch6_regularization::Dropout`] has it.
pub trait DropoutLayer {
    /// Training forward (a fresh mask) or inference (the identity).
    fn forward(&mut self, x: &DMatrix<f64>, training: bool) -> DMatrix<f64>;
    /// `dX` through the mask of the last training forward.
    fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64>;
}

impl DropoutLayer for ch6_regularization::Dropout<f64> {
    fn forward(&mut self, x: &DMatrix<f64>, training: bool) -> DMatrix<f64> {
        ch6_regularization::Dropout::forward(self, x, training)
    }
    fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
        ch6_regularization::Dropout::backward(self, dy)
    }
}

/// `rows × cols` uniform numbers `u ~ U[0, 1)` drawn from `rng` in the order
/// stage 5's `Dropout` draws its mask (`DMatrix::from_fn`, column by column),
/// so that a learner's layer of the same seed drops the same units.
pub fn uniform(rng: &mut StdRng, rows: usize, cols: usize) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| rng.random::<f64>())
}

/// Checks inverted dropout: in training `y = x ⊙ m`, `m = [u ≥ ratio] / (1 −
/// ratio)` with `u` from [`uniform`] on the layer's `StdRng::seed_from_u64(seed)`,
/// fresh each forward; `dX = dY ⊙ m`; at inference `y = x`. `new(ratio, seed)`
/// makes the learner's layer.
pub fn dropout<L: DropoutLayer>(new: impl Fn(f64, u64) -> L) -> Report {
    let mut report = Report::new();
    let (ratio, seed) = (0.4, 7);
    let x = sample(4, 5, 52);
    let dy = sample(4, 5, 53);
    let mut reference = ch6_regularization::Dropout::<f64>::new(ratio, seed);
    let want = reference.forward(&x, true);
    let want_dx = reference.backward(&dy);
    let mut rng = StdRng::seed_from_u64(seed);
    let u = uniform(&mut rng, 4, 5);
    let u_next = uniform(&mut rng, 4, 5);
    let kept = u.map(|u| if u >= ratio { 1.0 } else { 0.0 });
    let inverted = u.map(|u| if u < ratio { 1.0 } else { 0.0 });
    let mut layer = new(ratio, seed);
    let got = layer.forward(&x, true);
    report.check(
        "training: y = x ⊙ m, m = [u ≥ ratio] / (1 − ratio) (ratio 0.4, 4 × 5)",
        compare::matrix(
            "y",
            &got,
            &want,
            None,
            &[
                (
                    "keep the kept units unscaled (the book's Dropout): the course's is inverted dropout, \
                     the kept units are scaled by 1/(1 − ratio) so inference needs no change",
                    x.component_mul(&kept),
                ),
                (
                    "drop where u ≥ ratio: drop where u < ratio, so that a unit is dropped with probability ratio",
                    x.component_mul(&inverted) / (1.0 - ratio),
                ),
                ("scale by 1 − ratio: inverted dropout DIVIDES by it", x.component_mul(&kept) * (1.0 - ratio)),
                ("scale by 1/ratio: the kept fraction is 1 − ratio, divide by that", x.component_mul(&kept) / ratio),
                ("drop nothing in training", x.clone()),
            ],
        )
        .map_err(|e| {
            format!("{e}\n(draw u with uniform(&mut self.rng, rows, cols) once per training forward, as the stub says)")
        }),
    );
    let got = layer.backward(&dy);
    report.check(
        "backward: dX = dY ⊙ m, the same mask",
        compare::matrix(
            "dX",
            &got,
            &want_dx,
            None,
            &[
                (
                    "forget the scale in backward: y = x ⊙ m, so ∂y/∂x = m, 1/(1 − ratio) included",
                    dy.component_mul(&kept),
                ),
                (
                    "let every gradient through: a dropped unit did not reach y, its gradient is 0",
                    dy.clone(),
                ),
                (
                    "draw a fresh mask in backward: keep the mask of forward",
                    dy.component_mul(&u_next.map(|u| if u >= ratio { 1.0 } else { 0.0 }))
                        / (1.0 - ratio),
                ),
                (
                    "multiply the mask by x: backward gets dY, not x",
                    want.clone(),
                ),
            ],
        ),
    );
    let got = layer.forward(&x, false);
    report.check(
        "inference: y = x, every unit, unscaled",
        compare::matrix(
            "y at inference",
            &got,
            &x,
            None,
            &[
                (
                    "scale by 1 − ratio at inference (the book's convention): with inverted dropout inference is x itself",
                    &x * (1.0 - ratio),
                ),
                (
                    "drop units at inference too: only training drops",
                    ch6_regularization::Dropout::<f64>::new(ratio, seed).forward(&x, true),
                ),
            ],
        ),
    );
    let mut layer = new(ratio, seed);
    let mut reference = ch6_regularization::Dropout::<f64>::new(ratio, seed);
    let first = layer.forward(&x, true);
    let got = layer.forward(&x, true);
    reference.forward(&x, true);
    let want = reference.forward(&x, true);
    report.check(
        "each training forward draws a fresh mask (the second forward drops other units)",
        compare::matrix(
            "y of the second forward",
            &got,
            &want,
            None,
            &[(
                "keep one mask for every forward: each step drops a different set of units",
                first,
            )],
        ),
    );
    let mut layer = new(0.0, seed);
    report.check(
        "ratio 0 drops nothing: y = x",
        compare::matrix("y with ratio 0", &layer.forward(&x, true), &x, None, &[]),
    );
    report
}

/// A mistake in batch norm's backward, for [`batch_norm_like`].
#[derive(Clone, Copy, PartialEq)]
enum Slip {
    None,
    NoMeanTerm,
    NoVarianceTerm,
    MeanOverNSquared,
    VarianceOverNSquared,
    VarianceForStd,
    VarianceInDirectShare,
    NoHalf,
    NoGamma,
}

/// Batch norm's training backward of `x` with `gamma` and `dy`, as stage 5's
/// but with `slip`: `(dX, ∂E/∂γ, ∂E/∂β)`.
fn batch_norm_like(
    x: &DMatrix<f64>,
    gamma: &DMatrix<f64>,
    dy: &DMatrix<f64>,
    slip: Slip,
) -> (DMatrix<f64>, DMatrix<f64>, DMatrix<f64>) {
    let eps = 1e-7;
    let n = x.nrows() as f64;
    let one = DMatrix::from_element(x.nrows(), 1, 1.0);
    let mu = one.transpose() * x / n;
    let xc = x - &one * &mu;
    let var = one.transpose() * xc.component_mul(&xc) / n;
    let std = var.map(|v| (v + eps).sqrt());
    let xn = xc.component_div(&(&one * &std));
    let grad_beta = one.transpose() * dy;
    let grad_gamma = one.transpose() * xn.component_mul(dy);
    let dxn = if slip == Slip::NoGamma {
        dy.clone()
    } else {
        dy.component_mul(&(&one * gamma))
    };
    let s = if slip == Slip::VarianceForStd {
        var.map(|v| v + eps)
    } else {
        std.clone()
    };
    let direct = if slip == Slip::VarianceInDirectShare {
        var.map(|v| v + eps)
    } else {
        s.clone()
    };
    let mut dxc = dxn.component_div(&(&one * &direct));
    let dstd = -(one.transpose() * dxn.component_mul(&xc)).component_div(&s.map(|s| s * s));
    let dvar = if slip == Slip::NoHalf {
        dstd.component_div(&s)
    } else {
        dstd.component_div(&(&s * 2.0))
    };
    let per = match slip {
        Slip::VarianceOverNSquared => 2.0 / (n * n),
        _ => 2.0 / n,
    };
    if slip != Slip::NoVarianceTerm {
        dxc += xc.component_mul(&(&one * dvar)) * per;
    }
    let dmu = one.transpose() * &dxc;
    let dx = match slip {
        Slip::NoMeanTerm => dxc,
        Slip::MeanOverNSquared => &dxc - &one * dmu / (n * n),
        _ => &dxc - &one * dmu / n,
    };
    (dx, grad_gamma, grad_beta)
}

/// A layer's `∂E/∂X` and parameter gradients (in the order of
/// `for_each_param`) after one forward of `x` and a backward of `dy`.
pub(crate) fn run_layer<L: Layer<f64>>(
    layer: &mut L,
    x: &DMatrix<f64>,
    dy: &DMatrix<f64>,
) -> (DMatrix<f64>, Vec<DMatrix<f64>>) {
    layer.forward(x);
    let dx = layer.backward(dy);
    let mut grads = Vec::new();
    layer.for_each_param(&mut |_, g| grads.push(g.clone()));
    (dx, grads)
}

/// Checks batch normalisation's backward (training): from `dy: N × D`,
/// `∂E/∂β = Σ_n dy`, `∂E/∂γ = Σ_n x̂ ⊙ dy`, and `∂E/∂X` through `x̂`, `σ²` and
/// `μ`. `new(gamma, beta)` makes the learner's layer, whose `for_each_param`
/// visits `(γ, ∂E/∂γ)` then `(β, ∂E/∂β)`; its forward is the training forward.
pub fn batch_norm_backward<L: Layer<f64>>(new: impl Fn(DMatrix<f64>, DMatrix<f64>) -> L) -> Report {
    let mut report = Report::new();
    let (n, d) = (4, 3);
    let gamma = sample(1, d, 61).map(|v| 1.0 + 0.5 * v);
    let beta = sample(1, d, 62);
    let x = sample(n, d, 63) * 2.0 + DMatrix::from_element(n, d, 3.0);
    let dy = sample(n, d, 64);
    let mut reference = ch6_regularization::BatchNorm::<f64>::new(d);
    reference.gamma = gamma.clone();
    reference.beta = beta.clone();
    let (want_dx, want) = run_layer(&mut reference, &x, &dy);
    let (got_dx, got) = run_layer(&mut new(gamma.clone(), beta.clone()), &x, &dy);
    let like = |slip| batch_norm_like(&x, &gamma, &dy, slip);
    let (_, want_gamma, want_beta) = like(Slip::None);
    debug_assert!(compare::close(&want_gamma, &want[0]) && compare::close(&want_beta, &want[1]));
    report.check(
        "∂E/∂γ = Σ_rows x̂ ⊙ dY and ∂E/∂β = Σ_rows dY (1 × D)",
        if got.len() != 2 {
            Err(format!(
                "for_each_param visited {} parameters; it should visit γ then β (the stub does)",
                got.len()
            ))
        } else {
            let xc = &x - DMatrix::from_element(n, 1, 1.0) * (DMatrix::from_element(1, n, 1.0) * &x / n as f64);
            compare::matrix(
                "∂E/∂β",
                &got[1],
                &want[1],
                Some(n),
                &[("gave β the gradient of γ: ∂E/∂β = Σ_rows dY (β is added to every row)", want[0].clone())],
            )
            .and_then(|()| {
                compare::matrix(
                    "∂E/∂γ",
                    &got[0],
                    &want[0],
                    Some(n),
                    &[
                        ("gave γ the gradient of β: ∂E/∂γ = Σ_rows x̂ ⊙ dY, since y = γ ⊙ x̂ + β", want[1].clone()),
                        (
                            "multiplied dY by x, not x̂: γ multiplies the NORMALISED x̂ = (x − μ)/√(σ² + ε)",
                            DMatrix::from_element(1, n, 1.0) * x.component_mul(&dy),
                        ),
                        (
                            "multiplied dY by x − μ, not x̂: divide by √(σ² + ε) too",
                            DMatrix::from_element(1, n, 1.0) * xc.component_mul(&dy),
                        ),
                    ],
                )
            })
            .map_err(|e| format!("{e}\n(γ and β reached every row of y, so their gradients sum over the rows)"))
        },
    );
    let sums = DMatrix::from_element(1, n, 1.0) * &got_dx;
    let mean_hint = if got_dx.shape() == (n, d) && sums.amax() > 1e-6 * got_dx.amax().max(1.0) {
        "\n(each column of a right ∂E/∂X sums to 0: adding a constant to a unit's inputs changes \
         nothing after normalisation. Yours do not; is μ's path missing?)"
    } else {
        ""
    };
    report.check(
        "∂E/∂X (4 × 3), through x̂, σ² and μ, compared with stage 5's BatchNorm",
        compare::matrix(
            "∂E/∂X",
            &got_dx,
            &want_dx,
            Some(n),
            &[
                (
                    "forget the mean term: xc = x − μ and μ depends on every x, so subtract the mean \
                     over the rows of ∂E/∂xc (−(1/N) Σ_n ∂E/∂xc)",
                    like(Slip::NoMeanTerm).0,
                ),
                (
                    "forget the variance's path: σ² depends on every xc too, adding (2/N)·xc ⊙ ∂E/∂σ²",
                    like(Slip::NoVarianceTerm).0,
                ),
                (
                    "divide by N twice in the mean term: ∂E/∂x = ∂E/∂xc − (1/N) Σ_n ∂E/∂xc, one 1/N",
                    like(Slip::MeanOverNSquared).0,
                ),
                (
                    "divide by N twice in the variance's term: ∂σ²/∂xc = (2/N)·xc, one 1/N",
                    like(Slip::VarianceOverNSquared).0,
                ),
                (
                    "use the variance σ² + ε where its square root belongs: x̂ = xc / √(σ² + ε), \
                     so divide by std = √(σ² + ε) (self.std)",
                    like(Slip::VarianceForStd).0,
                ),
                (
                    "divide ∂E/∂x̂ by σ² + ε for xc's direct share: x̂ = xc / std, so it is ∂E/∂x̂ / std, \
                     std = √(σ² + ε) (self.std)",
                    like(Slip::VarianceInDirectShare).0,
                ),
                (
                    "forget the 1/2 of the square root: ∂√v/∂v = 1/(2√v)",
                    like(Slip::NoHalf).0,
                ),
                ("forget γ: ∂E/∂x̂ = dY ⊙ γ, since y = γ ⊙ x̂ + β", like(Slip::NoGamma).0),
            ],
        )
        .map_err(|e| format!("{e}{mean_hint}")),
    );
    let mut rng = StdRng::seed_from_u64(65);
    let (n, d) = (6, 4);
    let x = DMatrix::from_fn(n, d, |_, _| 3.0 + 2.0 * rng.random::<f64>());
    let gamma = sample(1, d, 66).map(|v| 1.0 + 0.5 * v);
    report.check(
        "a gradient check on a batch of 6 × 4 (∂E/∂X, ∂E/∂γ, ∂E/∂β against numerical gradients)",
        gradient_check_named(
            &mut new(gamma, sample(1, d, 67)),
            &x,
            &sample(n, d, 68),
            &["∂E/∂γ", "∂E/∂β"],
        ),
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fails_with;

    #[test]
    fn weight_decay_passes_on_the_course_and_fails_without_the_half() {
        let course = |ws: &[DMatrix<f64>], l: f64| {
            0.5 * l * ws.iter().map(|w| w.norm_squared()).sum::<f64>()
        };
        let add = |g: &mut DMatrix<f64>, w: &DMatrix<f64>, l: f64| *g += w * l;
        let report = weight_decay(course, add);
        assert!(report.passed(), "{report}");
        let no_half =
            |ws: &[DMatrix<f64>], l: f64| l * ws.iter().map(|w| w.norm_squared()).sum::<f64>();
        assert!(fails_with(&weight_decay(no_half, add), "left out the 1/2"));
        let replace = |g: &mut DMatrix<f64>, w: &DMatrix<f64>, l: f64| *g = w * l;
        let report = weight_decay(course, replace);
        assert!(
            fails_with(&report, "add λ·W to the loss's gradient"),
            "{report}"
        );
        let half = |g: &mut DMatrix<f64>, w: &DMatrix<f64>, l: f64| *g += w * (l / 2.0);
        let report = weight_decay(course, half);
        assert!(fails_with(&report, "add λ/2·W"), "{report}");
        // The last check ties the two together: a consistent pair with the same mistake
        // still fails the course's numbers, an inconsistent pair fails the last check.
        assert!(report.checks[2].failure.is_some(), "{report}");
    }

    #[test]
    fn dropout_passes_on_the_course_and_fails_on_the_books_convention() {
        assert!(
            dropout(ch6_regularization::Dropout::new).passed(),
            "{}",
            dropout(ch6_regularization::Dropout::new)
        );
        // The book's: unscaled in training, × (1 − ratio) at inference.
        struct Book(f64, StdRng, DMatrix<f64>);
        impl DropoutLayer for Book {
            fn forward(&mut self, x: &DMatrix<f64>, training: bool) -> DMatrix<f64> {
                if !training {
                    return x * (1.0 - self.0);
                }
                let u = uniform(&mut self.1, x.nrows(), x.ncols());
                self.2 = u.map(|u| if u >= self.0 { 1.0 } else { 0.0 });
                x.component_mul(&self.2)
            }
            fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
                dy.component_mul(&self.2)
            }
        }
        let book = |r, s| Book(r, StdRng::seed_from_u64(s), DMatrix::zeros(0, 0));
        let report = dropout(book);
        assert!(fails_with(&report, "inverted dropout"), "{report}");
        // Right forward, backward forgetting the scale.
        struct Unscaled(ch6_regularization::Dropout<f64>, DMatrix<f64>);
        impl DropoutLayer for Unscaled {
            fn forward(&mut self, x: &DMatrix<f64>, training: bool) -> DMatrix<f64> {
                let y = self.0.forward(x, training);
                self.1 = y.zip_map(x, |y, x| if y == 0.0 && x != 0.0 { 0.0 } else { 1.0 });
                y
            }
            fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
                dy.component_mul(&self.1)
            }
        }
        let report =
            dropout(|r, s| Unscaled(ch6_regularization::Dropout::new(r, s), DMatrix::zeros(0, 0)));
        assert!(report.checks[0].failure.is_none(), "{report}");
        assert!(
            fails_with(&report, "forget the scale in backward"),
            "{report}"
        );
    }

    /// Stage 5's batch norm with a mistake in its backward, as a layer.
    struct Slipped(ch6_regularization::BatchNorm<f64>, Slip, DMatrix<f64>);

    impl Layer<f64> for Slipped {
        fn name(&self) -> String {
            "broken".into()
        }
        fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
            self.2 = x.clone();
            ch6_regularization::BatchNorm::forward(&mut self.0, x, true)
        }
        fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
            let (dx, grad_gamma, grad_beta) = batch_norm_like(&self.2, &self.0.gamma, dy, self.1);
            (self.0.grad_gamma, self.0.grad_beta) = (grad_gamma, grad_beta);
            dx
        }
        fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<f64>, &DMatrix<f64>)) {
            visit(&mut self.0.gamma, &self.0.grad_gamma);
            visit(&mut self.0.beta, &self.0.grad_beta);
        }
    }

    fn slipped(slip: Slip) -> impl Fn(DMatrix<f64>, DMatrix<f64>) -> Slipped {
        move |gamma, beta| {
            let mut bn = ch6_regularization::BatchNorm::new(gamma.ncols());
            (bn.gamma, bn.beta) = (gamma, beta);
            Slipped(bn, slip, DMatrix::zeros(0, 0))
        }
    }

    #[test]
    fn batch_norm_passes_on_the_course_and_names_each_mistake() {
        let course = |gamma: DMatrix<f64>, beta| {
            let mut bn = ch6_regularization::BatchNorm::new(gamma.ncols());
            (bn.gamma, bn.beta) = (gamma, beta);
            bn
        };
        let report = batch_norm_backward(course);
        assert!(report.passed(), "{report}");
        assert!(batch_norm_backward(slipped(Slip::None)).passed());
        for (slip, words) in [
            (Slip::NoMeanTerm, "forget the mean term"),
            (Slip::NoVarianceTerm, "forget the variance's path"),
            (Slip::MeanOverNSquared, "divide by N twice in the mean term"),
            (
                Slip::VarianceOverNSquared,
                "divide by N twice in the variance",
            ),
            (
                Slip::VarianceForStd,
                "use the variance σ² + ε where its square root belongs",
            ),
            (Slip::VarianceInDirectShare, "divide ∂E/∂x̂ by σ² + ε"),
            (Slip::NoHalf, "forget the 1/2"),
            (Slip::NoGamma, "forget γ"),
        ] {
            let report = batch_norm_backward(slipped(slip));
            assert!(fails_with(&report, words), "{words}: {report}");
            // The numerical gradient check catches it too, knowing no formula.
            assert!(report.checks[2].failure.is_some(), "{words}: {report}");
        }
        let report = batch_norm_backward(slipped(Slip::NoMeanTerm));
        assert!(
            report
                .first_failure()
                .is_some_and(|h| h.contains("sums to 0")),
            "{report}"
        );
    }

    #[test]
    fn batch_norm_names_swapped_parameter_gradients() {
        struct Swapped(ch6_regularization::BatchNorm<f64>);
        impl Layer<f64> for Swapped {
            fn name(&self) -> String {
                "broken".into()
            }
            fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
                ch6_regularization::BatchNorm::forward(&mut self.0, x, true)
            }
            fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
                let dx = ch6_regularization::BatchNorm::backward(&mut self.0, dy);
                std::mem::swap(&mut self.0.grad_gamma, &mut self.0.grad_beta);
                dx
            }
            fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<f64>, &DMatrix<f64>)) {
                visit(&mut self.0.gamma, &self.0.grad_gamma);
                visit(&mut self.0.beta, &self.0.grad_beta);
            }
        }
        let report = batch_norm_backward(|gamma: DMatrix<f64>, beta| {
            let mut bn = ch6_regularization::BatchNorm::new(gamma.ncols());
            (bn.gamma, bn.beta) = (gamma, beta);
            Swapped(bn)
        });
        assert!(fails_with(&report, "gave β the gradient of γ"), "{report}");
    }
}
