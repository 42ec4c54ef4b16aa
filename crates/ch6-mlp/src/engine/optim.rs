//! # Optimizers: five ways to step down a gradient
//!
//! Stage 4 of the course (chapter 6, "updating parameters"). Backprop gives
//! `g = ∂E/∂W` for every parameter; an optimizer decides how far to move
//! each number of `W` along it. Plain SGD moves every number by `η·g`. The
//! others keep a little memory per number: a velocity (Momentum), the sum of
//! past squared gradients (AdaGrad), a running mean of them (RMSprop), or
//! both running means (Adam), and scale the step with it.
//!
//! Each optimizer is one small type with one update rule, applied to each
//! parameter matrix in turn; `slot` numbers the matrices (`W1, b1, W2, …`)
//! so an optimizer can keep its memory for each one. The formulas below are
//! entry by entry (`⊙`, `√` and `/` too); `η` is the learning rate.
//!
//! Two of the engine's devices are here, and neither changes a number:
//! each rule's loop runs at the CPU's full vector width ([`vectorized`]),
//! and [`ThreadSplit`] shares the numbers of a large matrix among threads,
//! one optimizer each.

use nalgebra::RealField;

use crate::engine::simd::vectorized;

// ANCHOR: optimizer
/// One update rule.
pub trait Optimizer<T: RealField + Copy> {
    /// Called once per training step, before the updates (Adam counts steps).
    fn start_step(&mut self) {}

    /// Updates parameter matrix number `slot` (its numbers in `param`) from
    /// its gradient `grad` (same length).
    fn update(&mut self, slot: usize, param: &mut [T], grad: &[T]);

    /// Sets the learning rate `η` (a schedule's decay changes it between epochs).
    fn set_learning_rate(&mut self, eta: f64);
}
// ANCHOR_END: optimizer

/// The memory an optimizer keeps for parameter `slot`: `len` numbers, zeros
/// at first. Allocated on the first step only.
pub fn memory<T: RealField + Copy>(
    memories: &mut Vec<Vec<T>>,
    slot: usize,
    len: usize,
) -> &mut [T] {
    while memories.len() <= slot {
        memories.push(Vec::new());
    }
    if memories[slot].len() != len {
        memories[slot] = vec![T::zero(); len];
    }
    &mut memories[slot]
}

// ANCHOR: thread_split
/// One optimizer per thread, each owning its share of every large parameter
/// matrix: with two threads the first updates (and remembers) the first half
/// of `W1`'s numbers, the second the other half, at the same time. The
/// rules work entry by entry, so the numbers are exactly those of one
/// optimizer over the whole matrix. Matrices smaller than [`SPLIT_MIN`]
/// stay whole, with the first.
pub struct ThreadSplit<T> {
    parts: Vec<Box<dyn Optimizer<T> + Send>>,
}

/// Matrices with fewer numbers than this are updated on one thread: handing
/// work to another thread costs more than updating a bias vector.
pub const SPLIT_MIN: usize = 16_384;

impl<T: RealField + Copy> ThreadSplit<T> {
    /// `threads` optimizers made by `make`.
    pub fn new(threads: usize, make: impl Fn() -> Box<dyn Optimizer<T> + Send>) -> ThreadSplit<T> {
        let parts = (0..threads.max(1)).map(|_| make()).collect();
        ThreadSplit { parts }
    }
}

impl<T: RealField + Copy> Optimizer<T> for ThreadSplit<T> {
    fn set_learning_rate(&mut self, eta: f64) {
        for part in &mut self.parts {
            part.set_learning_rate(eta);
        }
    }

    fn start_step(&mut self) {
        for part in &mut self.parts {
            part.start_step();
        }
    }

    fn update(&mut self, slot: usize, param: &mut [T], grad: &[T]) {
        if self.parts.len() == 1 || param.len() < SPLIT_MIN {
            return self.parts[0].update(slot, param, grad);
        }
        let share = param.len().div_ceil(self.parts.len());
        let shares = param.chunks_mut(share).zip(grad.chunks(share));
        rayon::scope(|scope| {
            for (part, (param, grad)) in self.parts.iter_mut().zip(shares) {
                scope.spawn(move |_| part.update(slot, param, grad));
            }
        });
    }
}
// ANCHOR_END: thread_split

fn constant<T: RealField + Copy>(x: f64) -> T {
    nalgebra::convert(x)
}

// ANCHOR: sgd
/// Stochastic gradient descent: `W ← W − η·g`.
pub struct Sgd<T> {
    pub learning_rate: T,
}

impl<T: RealField + Copy> Optimizer<T> for Sgd<T> {
    fn set_learning_rate(&mut self, eta: f64) {
        self.learning_rate = constant(eta);
    }

    fn update(&mut self, _slot: usize, param: &mut [T], grad: &[T]) {
        let eta = self.learning_rate;
        vectorized(|| {
            for (p, &g) in param.iter_mut().zip(grad) {
                *p -= eta * g;
            }
        });
    }
}
// ANCHOR_END: sgd

// ANCHOR: momentum
/// Momentum: a ball rolling downhill keeps part of its speed.
/// `v ← α·v − η·g`, then `W ← W + v`, with `α = 0.9` and `v = 0` at first.
/// Along a steady slope the step grows towards `η·g/(1 − α)`, ten times SGD's;
/// across a zigzagging valley successive gradients cancel in `v`.
pub struct Momentum<T> {
    pub learning_rate: T,
    pub momentum: T,
    velocity: Vec<Vec<T>>,
}

impl<T: RealField + Copy> Momentum<T> {
    pub fn new(learning_rate: T) -> Momentum<T> {
        Momentum {
            learning_rate,
            momentum: constant(0.9),
            velocity: Vec::new(),
        }
    }
}

impl<T: RealField + Copy> Optimizer<T> for Momentum<T> {
    fn set_learning_rate(&mut self, eta: f64) {
        self.learning_rate = constant(eta);
    }

    fn update(&mut self, slot: usize, param: &mut [T], grad: &[T]) {
        let (eta, alpha) = (self.learning_rate, self.momentum);
        let v = memory(&mut self.velocity, slot, param.len());
        vectorized(|| {
            for ((p, &g), v) in param.iter_mut().zip(grad).zip(v.iter_mut()) {
                *v = alpha * *v - eta * g;
                *p += *v;
            }
        });
    }
}
// ANCHOR_END: momentum

// ANCHOR: adagrad
/// AdaGrad: each number gets its own learning rate, smaller the more it has
/// already moved. `s ← s + g⊙g`, then `W ← W − η·g / (√s + ε)`, with `s = 0`
/// at first and `ε = 10⁻⁷` against dividing by 0. `s` only grows, so
/// learning slows down for good.
pub struct AdaGrad<T> {
    pub learning_rate: T,
    pub epsilon: T,
    sum_of_squares: Vec<Vec<T>>,
}

impl<T: RealField + Copy> AdaGrad<T> {
    pub fn new(learning_rate: T) -> AdaGrad<T> {
        AdaGrad {
            learning_rate,
            epsilon: constant(1e-7),
            sum_of_squares: Vec::new(),
        }
    }
}

impl<T: RealField + Copy> Optimizer<T> for AdaGrad<T> {
    fn set_learning_rate(&mut self, eta: f64) {
        self.learning_rate = constant(eta);
    }

    fn update(&mut self, slot: usize, param: &mut [T], grad: &[T]) {
        let (eta, eps) = (self.learning_rate, self.epsilon);
        let s = memory(&mut self.sum_of_squares, slot, param.len());
        vectorized(|| {
            for ((p, &g), s) in param.iter_mut().zip(grad).zip(s.iter_mut()) {
                *s += g * g;
                *p -= eta * g / (s.sqrt() + eps);
            }
        });
    }
}
// ANCHOR_END: adagrad

// ANCHOR: rmsprop
/// RMSprop: AdaGrad with a fading memory, so learning never stops.
/// `s ← ρ·s + (1 − ρ)·g⊙g`, then `W ← W − η·g / √(s + ε)`, with `ρ = 0.9`,
/// `ε = 10⁻⁷` and `s = 0` at first: Keras's formula and defaults. (The book
/// writes `√s + ε`; with ε inside the root a number whose gradients are
/// tiny, `g² ≪ ε`, takes steps of `η·g/√ε` rather than of about `η`.)
pub struct RmsProp<T> {
    pub learning_rate: T,
    pub rho: T,
    pub epsilon: T,
    mean_square: Vec<Vec<T>>,
}

impl<T: RealField + Copy> RmsProp<T> {
    pub fn new(learning_rate: T) -> RmsProp<T> {
        RmsProp {
            learning_rate,
            rho: constant(0.9),
            epsilon: constant(1e-7),
            mean_square: Vec::new(),
        }
    }
}

impl<T: RealField + Copy> Optimizer<T> for RmsProp<T> {
    fn set_learning_rate(&mut self, eta: f64) {
        self.learning_rate = constant(eta);
    }

    fn update(&mut self, slot: usize, param: &mut [T], grad: &[T]) {
        let (eta, rho, eps) = (self.learning_rate, self.rho, self.epsilon);
        let s = memory(&mut self.mean_square, slot, param.len());
        vectorized(|| {
            for ((p, &g), s) in param.iter_mut().zip(grad).zip(s.iter_mut()) {
                *s = rho * *s + (T::one() - rho) * g * g;
                *p -= eta * g / (*s + eps).sqrt();
            }
        });
    }
}
// ANCHOR_END: rmsprop

// ANCHOR: adam
/// Adam: Momentum and RMSprop together, with both running means corrected
/// for starting at 0. At step `t = 1, 2, …`:
/// `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g⊙g`,
/// `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`, then `W ← W − η·m̂ / (√v̂ + ε)`,
/// with `β₁ = 0.9`, `β₂ = 0.999`, `ε = 10⁻⁸` (the paper's values).
/// While the gradient keeps its sign, each step moves a number by about `η`.
pub struct Adam<T> {
    pub learning_rate: T,
    pub beta1: T,
    pub beta2: T,
    pub epsilon: T,
    t: i32,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
}

impl<T: RealField + Copy> Adam<T> {
    pub fn new(learning_rate: T) -> Adam<T> {
        Adam {
            learning_rate,
            beta1: constant(0.9),
            beta2: constant(0.999),
            epsilon: constant(1e-8),
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
}

impl<T: RealField + Copy> Optimizer<T> for Adam<T> {
    fn set_learning_rate(&mut self, eta: f64) {
        self.learning_rate = constant(eta);
    }

    fn start_step(&mut self) {
        self.t += 1;
    }

    fn update(&mut self, slot: usize, param: &mut [T], grad: &[T]) {
        let (eta, b1, b2, eps) = (self.learning_rate, self.beta1, self.beta2, self.epsilon);
        // The bias corrections 1/(1 − βᵗ), once per matrix rather than per
        // number: m̂ = m·m_correction, v̂ = v·v_correction.
        let m_correction = T::one() / (T::one() - b1.powi(self.t));
        let v_correction = T::one() / (T::one() - b2.powi(self.t));
        let m = memory(&mut self.m, slot, param.len());
        let v = memory(&mut self.v, slot, param.len());
        vectorized(|| {
            let params = param.iter_mut().zip(grad);
            for ((p, &g), (m, v)) in params.zip(m.iter_mut().zip(v.iter_mut())) {
                *m = b1 * *m + (T::one() - b1) * g;
                *v = b2 * *v + (T::one() - b2) * g * g;
                *p -= eta * (*m * m_correction) / ((*v * v_correction).sqrt() + eps);
            }
        });
    }
}
// ANCHOR_END: adam

/// The five optimizers, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    Sgd,
    Momentum,
    Adagrad,
    Rmsprop,
    Adam,
}

impl OptimizerKind {
    pub const ALL: [OptimizerKind; 5] = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Adagrad,
        OptimizerKind::Rmsprop,
        OptimizerKind::Adam,
    ];

    /// The name on the command line and in files: `sgd`, `rmsprop`, ….
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Adagrad => "adagrad",
            OptimizerKind::Rmsprop => "rmsprop",
            OptimizerKind::Adam => "adam",
        }
    }

    /// A fresh optimizer of this kind with learning rate `eta`, its updates
    /// of large matrices shared among `threads` threads ([`ThreadSplit`]).
    pub fn build_for_threads<T: RealField + Copy>(
        self,
        eta: f64,
        threads: usize,
    ) -> Box<dyn Optimizer<T> + Send> {
        if threads <= 1 {
            self.build(eta)
        } else {
            Box::new(ThreadSplit::new(threads, || self.build(eta)))
        }
    }

    /// A fresh optimizer of this kind with learning rate `eta`.
    pub fn build<T: RealField + Copy>(self, eta: f64) -> Box<dyn Optimizer<T> + Send> {
        let eta = constant(eta);
        match self {
            OptimizerKind::Sgd => Box::new(Sgd { learning_rate: eta }),
            OptimizerKind::Momentum => Box::new(Momentum::new(eta)),
            OptimizerKind::Adagrad => Box::new(AdaGrad::new(eta)),
            OptimizerKind::Rmsprop => Box::new(RmsProp::new(eta)),
            OptimizerKind::Adam => Box::new(Adam::new(eta)),
        }
    }
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "SGD",
            OptimizerKind::Momentum => "Momentum",
            OptimizerKind::Adagrad => "AdaGrad",
            OptimizerKind::Rmsprop => "RMSprop",
            OptimizerKind::Adam => "Adam",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps with the same gradient from `W = [1, −2]`, `g = [0.5, −1]`, `η = 0.1`.
    fn two_steps(kind: OptimizerKind) -> [[f64; 2]; 2] {
        let mut optimizer = kind.build::<f64>(0.1);
        let mut w = [1.0, -2.0];
        let g = [0.5, -1.0];
        let mut after = [[0.0; 2]; 2];
        for a in &mut after {
            optimizer.start_step();
            optimizer.update(0, &mut w, &g);
            *a = w;
        }
        after
    }

    fn close(a: [[f64; 2]; 2], b: [[f64; 2]; 2]) -> bool {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() < 1e-6)
    }

    #[test]
    fn sgd_moves_by_eta_times_g() {
        assert!(close(
            two_steps(OptimizerKind::Sgd),
            [[0.95, -1.9], [0.9, -1.8]]
        ));
    }

    #[test]
    fn momentum_builds_up_speed() {
        // v₁ = −0.1·g, v₂ = 0.9·v₁ − 0.1·g = −0.19·g
        let expected = [[0.95, -1.9], [1.0 - 0.095 - 0.05, -2.0 + 0.19 + 0.1]];
        assert!(close(two_steps(OptimizerKind::Momentum), expected));
    }

    #[test]
    fn adagrad_divides_by_the_root_of_summed_squares() {
        // s₁ = g², step η·sign(g); s₂ = 2g², step η·sign(g)/√2.
        let s = 0.1 / 2f64.sqrt();
        let expected = [[0.9, -1.9], [0.9 - s, -1.9 + s]];
        assert!(close(two_steps(OptimizerKind::Adagrad), expected));
    }

    #[test]
    fn rmsprop_divides_by_the_root_of_a_running_mean() {
        // s₁ = 0.1·g², step η·sign(g)/√0.1; s₂ = 0.19·g², step η·sign(g)/√0.19.
        let (s1, s2) = (0.1 / 0.1f64.sqrt(), 0.1 / 0.19f64.sqrt());
        let expected = [[1.0 - s1, -2.0 + s1], [1.0 - s1 - s2, -2.0 + s1 + s2]];
        assert!(close(two_steps(OptimizerKind::Rmsprop), expected));
    }

    #[test]
    fn rmsprop_keeps_epsilon_inside_the_root_as_keras_does() {
        // g = 10⁻⁴: s = 0.1·g² = 10⁻⁹, so the step is η·g/√(10⁻⁹ + 10⁻⁷) ≈ 0.315·η.
        // With ε outside the root it would be η·g/(√10⁻⁹ + ε) ≈ 3.15·η.
        let mut optimizer = OptimizerKind::Rmsprop.build::<f64>(0.1);
        let mut w = [0.0];
        optimizer.start_step();
        optimizer.update(0, &mut w, &[1e-4]);
        let expected = -0.1 * 1e-4 / (1e-9f64 + 1e-7).sqrt();
        assert!((w[0] - expected).abs() < 1e-12, "{} vs {expected}", w[0]);
    }

    #[test]
    fn adam_steps_by_eta_while_the_gradient_is_steady() {
        // With bias correction m̂ = g and v̂ = g² at every step: W moves by η·sign(g).
        assert!(close(
            two_steps(OptimizerKind::Adam),
            [[0.9, -1.9], [0.8, -1.8]]
        ));
    }

    #[test]
    fn slots_keep_separate_memories() {
        // A second parameter must not see the first one's velocity.
        let mut optimizer = OptimizerKind::Momentum.build::<f64>(0.1);
        let (mut a, mut b) = ([0.0], [0.0]);
        optimizer.start_step();
        optimizer.update(0, &mut a, &[1.0]);
        optimizer.update(1, &mut b, &[-1.0]);
        assert_eq!((a[0], b[0]), (-0.1, 0.1));
    }

    #[test]
    fn split_over_threads_every_optimizer_computes_the_same_numbers() {
        // One large matrix (split) and one small (kept whole), five steps
        // with changing gradients: the same bits as one optimizer.
        let sizes = [SPLIT_MIN * 2 + 3, 10];
        for kind in OptimizerKind::ALL {
            let mut one = kind.build::<f32>(0.01);
            let mut split = kind.build_for_threads::<f32>(0.01, 3);
            let mut w: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.5; n]).collect();
            let mut w_split = w.clone();
            for step in 0..5 {
                one.start_step();
                split.start_step();
                for (slot, &n) in sizes.iter().enumerate() {
                    let g: Vec<f32> = (0..n)
                        .map(|i| ((i * 31 + step * 7) % 17) as f32 * 0.01 - 0.08)
                        .collect();
                    one.update(slot, &mut w[slot], &g);
                    split.update(slot, &mut w_split[slot], &g);
                }
            }
            assert!(w == w_split, "{kind}: the split optimizer differs");
            assert!(w[0][0] != 0.5, "{kind}: nothing moved");
        }
    }

    #[test]
    fn every_optimizer_finds_the_bottom_of_a_bowl() {
        // E = ½ Σ wᵢ², so g = w; the minimum is w = 0.
        for kind in OptimizerKind::ALL {
            let eta = match kind {
                OptimizerKind::Adagrad => 0.5,
                OptimizerKind::Sgd | OptimizerKind::Momentum => 0.05,
                // steps of about η each: small, so they settle close to 0
                OptimizerKind::Rmsprop | OptimizerKind::Adam => 0.01,
            };
            let mut optimizer = kind.build::<f32>(eta);
            let mut w = [3.0_f32, -2.0, 0.5];
            for _ in 0..2000 {
                let g = w;
                optimizer.start_step();
                optimizer.update(0, &mut w, &g);
            }
            assert!(w.iter().all(|v| v.abs() < 0.05), "{kind}: {w:?}");
        }
    }
}
