//! # Stage 4's exercises: Momentum, Adam, He initialisation
//!
//! The checks for `crates/exercises/src/stage4/` (chapter "Stage 4:
//! mini-batches, initialisation, optimizers"). An optimizer is checked
//! through stage 4's own [`Optimizer`] trait: a few steps on two parameter
//! matrices, compared with stage 4's `Momentum` and `Adam`, and with the
//! answers of the usual mistakes, which the check computes and names.

use ch6_mlp::Optimizer;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::Report;
use crate::compare::{self, number, sample};

/// The parameters both optimizer checks start from: two matrices (slots 0 and 1) of 3 numbers.
fn start() -> [Vec<f64>; 2] {
    [vec![0.5, -0.3, 0.8], vec![1.0, -1.0, 0.2]]
}

/// The gradient of slot `slot` at step `step`: fixed numbers of both signs and several sizes.
fn gradient(slot: usize, step: usize) -> Vec<f64> {
    let g = sample(2, 3, 40 + step as u64);
    (0..3).map(|i| g[(slot, i)] * (1.0 + step as f64)).collect()
}

/// Runs `steps` steps of `optimizer` from [`start`]; the parameters after, as a 2 × 3 matrix.
fn run(optimizer: &mut dyn Optimizer<f64>, steps: usize) -> DMatrix<f64> {
    let mut params = start();
    for step in 0..steps {
        optimizer.start_step();
        for (slot, p) in params.iter_mut().enumerate() {
            optimizer.update(slot, p, &gradient(slot, step));
        }
    }
    DMatrix::from_fn(2, 3, |slot, i| params[slot][i])
}

/// An update rule written as a closure `rule(step, slot, param, grad)`, for
/// the mistakes a check recognises (`step` counts from 1).
struct Rule<F: FnMut(usize, usize, &mut [f64], &[f64])> {
    step: usize,
    rule: F,
}

impl<F: FnMut(usize, usize, &mut [f64], &[f64])> Optimizer<f64> for Rule<F> {
    fn start_step(&mut self) {
        self.step += 1;
    }
    fn update(&mut self, slot: usize, param: &mut [f64], grad: &[f64]) {
        (self.rule)(self.step, slot, param, grad)
    }
    /// A mistake's η lives in its closure, and no check decays it.
    fn set_learning_rate(&mut self, _eta: f64) {}
}

fn rule(f: impl FnMut(usize, usize, &mut [f64], &[f64])) -> impl Optimizer<f64> {
    Rule { step: 0, rule: f }
}

/// Momentum's rule with a choice of `alpha` and of one velocity per slot or one for all.
fn momentum_like(eta: f64, alpha: f64, shared: bool, steps: usize) -> DMatrix<f64> {
    let mut v = [vec![0.0; 3], vec![0.0; 3]];
    run(
        &mut rule(move |_, slot, p, g| {
            let v = &mut v[if shared { 0 } else { slot }];
            for i in 0..p.len() {
                v[i] = alpha * v[i] - eta * g[i];
                p[i] += v[i];
            }
        }),
        steps,
    )
}

/// Checks Momentum: `v ← α·v − η·g`, `W ← W + v`, `α = 0.9`, `v = 0` at
/// first, one `v` per parameter matrix. `new(η)` makes the learner's optimizer.
pub fn momentum<O: Optimizer<f64>>(new: impl Fn(f64) -> O) -> Report {
    let mut report = Report::new();
    let eta = 0.1;
    let reference = |steps| run(&mut ch6_mlp::engine::optim::Momentum::new(eta), steps);
    let up = {
        let mut p = DMatrix::from_fn(2, 3, |s, i| start()[s][i]);
        p += DMatrix::from_fn(2, 3, |s, i| eta * gradient(s, 0)[i]);
        p
    };
    report.check(
        "the first step: v = −η·g, so W moves like SGD's W − η·g",
        compare::matrix(
            "W after one step",
            &run(&mut new(eta), 1),
            &reference(1),
            None,
            &[("move uphill: v ← α·v − η·g and then W ← W + v (or v ← α·v + η·g and W ← W − v)", up),
                ("keep one velocity for all parameter matrices: each slot (W1, b1, …) needs its own", momentum_like(eta, 0.9, true, 1)),
            ],
        ),
    );
    report.check(
        "three steps: the velocity carries on",
        compare::matrix(
            "W after three steps",
            &run(&mut new(eta), 3),
            &reference(3),
            None,
            &[
                ("forget the velocity: that is plain SGD; keep v from step to step", momentum_like(eta, 0.0, false, 3)),
                ("leave out α: v ← α·v − η·g with α = 0.9 (self.momentum)", momentum_like(eta, 1.0, false, 3)),
                ("keep one velocity for all parameter matrices: each slot (W1, b1, …) needs its own", momentum_like(eta, 0.9, true, 3)),
            ],
        ),
    );
    report.check(
        "another learning rate (η = 0.01): η comes from the field",
        compare::matrix(
            "W after three steps",
            &run(&mut new(0.01), 3),
            &run(&mut ch6_mlp::engine::optim::Momentum::new(0.01), 3),
            None,
            &[],
        ),
    );
    report
}

/// Adam's rule with choices: bias correction or not, ε inside the root, `t`
/// counted per update call instead of per step.
fn adam_like(
    eta: f64,
    corrected: bool,
    eps_inside: bool,
    t_per_update: bool,
    steps: usize,
) -> DMatrix<f64> {
    let (b1, b2, eps) = (0.9_f64, 0.999_f64, 1e-8);
    let mut m = [vec![0.0; 3], vec![0.0; 3]];
    let mut v = [vec![0.0; 3], vec![0.0; 3]];
    let mut calls = 0;
    run(
        &mut rule(move |step, slot, p, g| {
            calls += 1;
            let t = if t_per_update { calls } else { step } as i32;
            let (mc, vc) = if corrected {
                (1.0 / (1.0 - b1.powi(t)), 1.0 / (1.0 - b2.powi(t)))
            } else {
                (1.0, 1.0)
            };
            for i in 0..p.len() {
                m[slot][i] = b1 * m[slot][i] + (1.0 - b1) * g[i];
                v[slot][i] = b2 * v[slot][i] + (1.0 - b2) * g[i] * g[i];
                let denominator = if eps_inside {
                    (v[slot][i] * vc + eps).sqrt()
                } else {
                    (v[slot][i] * vc).sqrt() + eps
                };
                p[i] -= eta * m[slot][i] * mc / denominator;
            }
        }),
        steps,
    )
}

/// Checks Adam: at step `t = 1, 2, …`, `m ← β₁·m + (1 − β₁)·g`,
/// `v ← β₂·v + (1 − β₂)·g⊙g`, `W ← W − η·m̂ / (√v̂ + ε)` with
/// `m̂ = m/(1 − β₁ᵗ)`, `v̂ = v/(1 − β₂ᵗ)`. `new(η)` makes the learner's optimizer.
pub fn adam<O: Optimizer<f64>>(new: impl Fn(f64) -> O) -> Report {
    let mut report = Report::new();
    let eta = 0.01;
    let reference = |steps| run(&mut ch6_mlp::engine::optim::Adam::new(eta), steps);
    let got = run(&mut new(eta), 1);
    report.check(
        "the first step: each number moves by about η, against its gradient",
        if got.iter().any(|v| v.is_nan()) {
            Err(
                "NaN after the first step: is t counted in start_step? With t = 0, \
                 1 − β₁ᵗ = 0 and the bias correction divides by 0 (t is 1 at the first step)"
                    .into(),
            )
        } else {
            compare::matrix(
                "W after one step",
                &got,
                &reference(1),
                None,
                &[(
                    "leave out the bias corrections m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ): \
                     the first step is then about 3.16·η instead of η",
                    adam_like(eta, false, false, false, 1),
                )],
            )
        },
    );
    report.check(
        "five steps: m, v and t carry on",
        compare::matrix(
            "W after five steps",
            &run(&mut new(eta), 5),
            &reference(5),
            None,
            &[
                (
                    "count t once per parameter matrix (in update): t counts steps, in start_step",
                    adam_like(eta, true, false, true, 5),
                ),
                (
                    "leave out the bias corrections m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)",
                    adam_like(eta, false, false, false, 5),
                ),
            ],
        ),
    );
    report.check(
        "another learning rate (η = 0.001): η comes from the field",
        compare::matrix(
            "W after five steps",
            &run(&mut new(0.001), 5),
            &run(&mut ch6_mlp::engine::optim::Adam::new(0.001), 5),
            None,
            &[],
        ),
    );
    report
}

/// Mean, standard deviation and the fraction of entries within one standard deviation.
fn statistics(w: &DMatrix<f64>) -> (f64, f64, f64) {
    let n = w.len() as f64;
    let mean = w.sum() / n;
    let std = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let within = w.iter().filter(|v| (*v - mean).abs() < std).count() as f64 / n;
    (mean, std, within)
}

/// Checks He initialisation `he(fan_in, fan_out, rng) -> W: fan_in × fan_out`,
/// `W ~ N(0, 2/fan_in)`, drawn from the `rng` given.
pub fn he_init(he: impl Fn(usize, usize, &mut StdRng) -> DMatrix<f64>) -> Report {
    let mut report = Report::new();
    let w = he(400, 300, &mut StdRng::seed_from_u64(1));
    report.check(
        "W: fan_in × fan_out (400 × 300)",
        if w.shape() == (400, 300) {
            Ok(())
        } else {
            Err(format!(
                "W is {} × {}, it should be fan_in × fan_out = 400 × 300 (x·W needs W's rows to match x's columns)",
                w.nrows(),
                w.ncols()
            ))
        },
    );
    let spread = |fan_in: usize, fan_out: usize| -> Result<(), String> {
        let w = he(fan_in, fan_out, &mut StdRng::seed_from_u64(2));
        let (_, std, _) = statistics(&w);
        let want = (2.0 / fan_in as f64).sqrt();
        if (std / want - 1.0).abs() < 0.03 {
            return Ok(());
        }
        let (i, o) = (fan_in as f64, fan_out as f64);
        let known = [
            (
                "σ = √(2 / (fan_in + fan_out)), Xavier's: He's is √(2 / fan_in)",
                (2.0 / (i + o)).sqrt(),
            ),
            (
                "σ = √(1 / fan_in): He doubles that variance, since ReLU zeroes half its inputs",
                (1.0 / i).sqrt(),
            ),
            (
                "σ = 2 / fan_in: that is the variance; σ is its square root",
                2.0 / i,
            ),
            (
                "σ = √(2 / fan_out): it is the number of INPUTS, fan_in, that sets the spread",
                (2.0 / o).sqrt(),
            ),
            (
                "σ = 0.01, the book's fixed std: He's depends on the layer's size",
                0.01,
            ),
        ];
        let guess = known.iter().find(|(_, s)| (std / s - 1.0).abs() < 0.03);
        Err(match guess {
            Some((mistake, _)) => format!(
                "for {fan_in} × {fan_out} the weights' std is {}, it should be √(2/{fan_in}) = {}: you used {mistake}",
                number(std),
                number(want)
            ),
            None => format!(
                "for {fan_in} × {fan_out} the weights' std is {}, it should be √(2/{fan_in}) = {}",
                number(std),
                number(want)
            ),
        })
    };
    report.check(
        "standard deviation √(2 / fan_in), for 400 × 300 and for 50 × 2000",
        spread(400, 300).and_then(|()| spread(50, 2000)),
    );
    let (mean, std, within) = statistics(&w);
    report.check(
        "centred at 0",
        if mean.abs() < 0.002 {
            Ok(())
        } else {
            Err(format!(
                "the mean of the weights is {}: they must be centred at 0",
                number(mean)
            ))
        },
    );
    report.check(
        "normally distributed (68% within one σ)",
        if (within - 0.6827).abs() < 0.01 {
            Ok(())
        } else if (within - 0.5774).abs() < 0.01 {
            Err(format!(
                "{:.1}% of the weights are within one σ of 0, as for a uniform draw (57.7%): He's draws from \
                 a normal distribution, Normal::new(0.0, σ), where 68.3% are",
                100.0 * within
            ))
        } else {
            Err(format!(
                "{:.1}% of the weights are within one σ = {} of 0; for a normal distribution it is 68.3%",
                100.0 * within,
                number(std)
            ))
        },
    );
    let again = he(400, 300, &mut StdRng::seed_from_u64(1));
    let other = he(400, 300, &mut StdRng::seed_from_u64(3));
    report.check(
        "drawn from the rng given: the same seed gives the same weights",
        if again != w {
            Err("two calls with generators of the same seed gave different weights: draw from the \
                 rng argument, not from a generator of your own (a run must be repeatable from its --seed)"
                .into())
        } else if other == w {
            Err("generators of different seeds gave the same weights: draw every entry from the rng argument".into())
        } else {
            Ok(())
        },
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch6_mlp::Init;

    use crate::fails_with;

    #[test]
    fn momentum_passes_on_the_course_and_fails_on_sgd_and_a_shared_velocity() {
        assert!(momentum(ch6_mlp::engine::optim::Momentum::new).passed());
        let sgd = |eta| ch6_mlp::engine::optim::Sgd { learning_rate: eta };
        assert!(fails_with(&momentum(sgd), "plain SGD"), "{}", momentum(sgd));
        let report = momentum(|eta| {
            let mut v = [0.0; 3];
            rule(move |_, _, p: &mut [f64], g: &[f64]| {
                for i in 0..p.len() {
                    v[i] = 0.9 * v[i] - eta * g[i];
                    p[i] += v[i];
                }
            })
        });
        assert!(fails_with(&report, "needs its own"), "{report}");
        let uphill = |eta: f64| {
            rule(move |_, _, p: &mut [f64], g: &[f64]| {
                for i in 0..p.len() {
                    p[i] += eta * g[i];
                }
            })
        };
        assert!(fails_with(&momentum(uphill), "move uphill"));
    }

    #[test]
    fn adam_passes_on_the_course_and_fails_without_bias_correction() {
        assert!(adam(ch6_mlp::engine::optim::Adam::new).passed());
        let report = adam(adam_like_rule);
        assert!(fails_with(&report, "bias corrections"), "{report}");
        // t never counted: 1 − βᵗ = 0 at t = 0.
        let never = |eta: f64| {
            let mut adam = ch6_mlp::engine::optim::Adam::new(eta);
            rule(move |_, slot, p: &mut [f64], g: &[f64]| adam.update(slot, p, g))
        };
        assert!(fails_with(&adam(never), "is t counted in start_step"));
    }

    /// Adam without the bias corrections, as an optimizer.
    fn adam_like_rule(eta: f64) -> impl Optimizer<f64> {
        let (mut m, mut v) = ([vec![0.0; 3], vec![0.0; 3]], [vec![0.0; 3], vec![0.0; 3]]);
        rule(move |_, slot, p: &mut [f64], g: &[f64]| {
            for i in 0..p.len() {
                m[slot][i] = 0.9 * m[slot][i] + 0.1 * g[i];
                v[slot][i] = 0.999 * v[slot][i] + 0.001 * g[i] * g[i];
                p[i] -= eta * m[slot][i] / (v[slot][i].sqrt() + 1e-8);
            }
        })
    }

    #[test]
    fn he_passes_on_the_course_and_fails_on_xavier_and_uniform() {
        let course = |i, o, rng: &mut StdRng| Init::He.weights::<f64>(i, o, rng);
        assert!(he_init(course).passed(), "{}", he_init(course));
        let xavier = |i, o, rng: &mut StdRng| Init::Xavier.weights::<f64>(i, o, rng);
        assert!(fails_with(&he_init(xavier), "Xavier's"));
        let uniform = |i: usize, o, rng: &mut StdRng| {
            use rand::RngExt;
            let a = (6.0 / i as f64).sqrt();
            DMatrix::from_fn(i, o, |_, _| rng.random_range(-a..a))
        };
        let report = he_init(uniform);
        assert!(fails_with(&report, "uniform draw"), "{report}");
        let own_rng = |i, o, _: &mut StdRng| Init::He.weights::<f64>(i, o, &mut rand::rng());
        assert!(fails_with(&he_init(own_rng), "draw from the rng argument"));
    }
}
