//! # The regularised network: Dense → [BatchNorm] → ReLU → [Dropout], stacked
//!
//! Stage 5 of the course (chapter 6). Stage 4's network with the chapter's
//! three additions, each optional: batch normalisation between every affine
//! layer and its ReLU, dropout after every ReLU, and weight decay on the
//! loss. The affine layers are stage 4's engine ([`ch6_mlp::Dense`], the
//! `gemm` crate's products); the new layers are written plainly, as
//! stage 3's are. Any of stage 4's optimizers trains it.
//!
//! [`Config::check`] turns bad settings into a clear [`ConfigError`] before
//! any training.

use ch5_backprop::{Layer as _, Relu};
use ch6_mlp::dense::{Dense, Kernel};
use ch6_mlp::init::Init;
use ch6_mlp::mlp::softmax_cross_entropy;
use ch6_mlp::optim::{Optimizer, OptimizerKind};
use mnist::Dataset;
use nalgebra::{DMatrix, RealField};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};

use crate::batch_norm::BatchNorm;
use crate::dropout::Dropout;

/// Everything that decides a training run besides the seed and the data.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Hidden layer sizes (`[100; 6]`); input 784 and output 10 around them.
    pub hidden: Vec<usize>,
    /// Batch normalisation between each hidden affine layer and its ReLU.
    pub batch_norm: bool,
    /// Dropout ratio after each hidden ReLU, in `[0, 1)`; 0 for none.
    pub dropout: f64,
    /// Weight decay `λ ≥ 0`: the loss gains `λ/2 · Σ‖W‖²`.
    pub weight_decay: f64,
    /// Initial weights (stage 4's schemes)...
    pub init: Init,
    /// ...or, when set, `W ~ N(0, scale²)` in every layer (the book's batch-norm experiment).
    pub weight_scale: Option<f64>,
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub epochs: usize,
}

/// A setting that cannot train, found before training starts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "dropout ratio {0} is outside [0, 1): it is the probability of dropping a unit, and 1 would drop every one"
    )]
    DropoutRatio(f64),
    #[error("weight decay {0} must be a finite number of 0 or more (0 for none)")]
    WeightDecay(f64),
    #[error(
        "batch normalisation needs batches of 2 or more images in training, got a batch size of 1: one image is its own mean, so every normalised value would be 0"
    )]
    BatchNormBatchOfOne,
    #[error("learning rate {0} must be a finite number above 0")]
    LearningRate(f64),
    #[error("initial weight scale {0} must be a finite number above 0")]
    WeightScale(f64),
    #[error("a batch size of {batch} is more than the {images} training images")]
    BatchTooLarge { batch: usize, images: usize },
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

impl Config {
    /// `[784, hidden…, 10]`.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![mnist::IMAGE_SIZE];
        sizes.extend(&self.hidden);
        sizes.push(mnist::CLASSES);
        sizes
    }

    /// Optimizer steps per epoch over `images`: whole batches only, so that
    /// batch normalisation never sees a last batch of one.
    pub fn steps_per_epoch(&self, images: usize) -> usize {
        images / self.batch_size.max(1)
    }

    // ANCHOR: check
    /// Refuses settings that cannot train on `images` training images.
    pub fn check(&self, images: usize) -> Result<(), ConfigError> {
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError::DropoutRatio(self.dropout));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(ConfigError::WeightDecay(self.weight_decay));
        }
        if self.batch_norm && self.batch_size == 1 {
            return Err(ConfigError::BatchNormBatchOfOne);
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(ConfigError::LearningRate(self.learning_rate));
        }
        if let Some(s) = self.weight_scale.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(ConfigError::WeightScale(s));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::Zero("the batch size"));
        }
        if self.epochs == 0 {
            return Err(ConfigError::Zero("the number of epochs"));
        }
        if self.batch_size > images {
            return Err(ConfigError::BatchTooLarge {
                batch: self.batch_size,
                images,
            });
        }
        Ok(())
    }
    // ANCHOR_END: check

    /// The settings in words: `784-100-100-10, BatchNorm, dropout 0.2, …`.
    pub fn describe(&self) -> String {
        let sizes: Vec<String> = self.sizes().iter().map(usize::to_string).collect();
        let mut text = format!("{} ReLU", sizes.join("-"));
        if self.batch_norm {
            text += ", BatchNorm";
        }
        if self.dropout > 0.0 {
            text += &format!(", dropout {}", self.dropout);
        }
        if self.weight_decay > 0.0 {
            text += &format!(", weight decay {}", self.weight_decay);
        }
        match self.weight_scale {
            Some(s) => text += &format!(", weights N(0, {s}²)"),
            None => text += &format!(", {} init", self.init),
        }
        text + &format!(
            ", {} η = {}, batch {}, {} epochs",
            self.optimizer, self.learning_rate, self.batch_size, self.epochs
        )
    }
}

// ANCHOR: layer
/// One layer of the network. An enum, not a trait object, so the network can
/// tell batch norm and dropout whether it is training.
pub enum Layer<T: RealField + Copy> {
    /// Stage 4's `Dense`, with the input of its last forward (`dW = Xᵀ·dY` needs it).
    Dense(Dense<T>, DMatrix<T>),
    BatchNorm(BatchNorm<T>),
    Relu(Relu<T>),
    Dropout(Dropout<T>),
}
// ANCHOR_END: layer

/// The network: its layers in order, then softmax with cross-entropy.
pub struct Network<T: RealField + Copy> {
    pub layers: Vec<Layer<T>>,
    /// `λ` of weight decay.
    pub weight_decay: T,
    /// Softmax probabilities of the last loss, `N × 10`.
    probabilities: DMatrix<T>,
}

impl<T: RealField + Copy> Network<T> {
    // ANCHOR: new
    /// A fresh network of `config` (the settings must have passed
    /// [`Config::check`]): weights drawn from `seed` (as stage 4's `Mlp`
    /// draws them, so a plain network starts alike), biases 0, and each
    /// dropout layer's masks from its own stream of the same seed.
    pub fn new(config: &Config, seed: u64) -> Network<T> {
        let sizes = config.sizes();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut dropout_seeds = StdRng::seed_from_u64(seed ^ 0xD0_D0_D0_D0);
        let mut layers = Vec::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            let (n_in, n_out) = (pair[0], pair[1]);
            let w = match config.weight_scale {
                Some(scale) => {
                    let normal = Normal::new(0.0, scale).expect("a checked, positive scale");
                    DMatrix::from_fn(n_in, n_out, |_, _| {
                        nalgebra::convert(normal.sample(&mut rng))
                    })
                }
                None => config.init.weights(n_in, n_out, &mut rng),
            };
            let dense =
                Dense::from_parameters(w, DMatrix::zeros(1, n_out), Kernel::Gemm { threads: 1 });
            layers.push(Layer::Dense(dense, DMatrix::zeros(0, n_in)));
            if i + 2 < sizes.len() {
                if config.batch_norm {
                    layers.push(Layer::BatchNorm(BatchNorm::new(n_out)));
                }
                layers.push(Layer::Relu(Relu::new()));
                if config.dropout > 0.0 {
                    layers.push(Layer::Dropout(Dropout::new(
                        config.dropout,
                        dropout_seeds.random(),
                    )));
                }
            }
        }
        Network {
            layers,
            weight_decay: nalgebra::convert(config.weight_decay),
            probabilities: DMatrix::zeros(0, 0),
        }
    }
    // ANCHOR_END: new

    // ANCHOR: forward
    /// The scores (logits) `N × 10` of `x: N × 784`. In `training`, batch
    /// norm uses the batch's statistics and dropout drops; otherwise batch
    /// norm uses its running averages and dropout passes everything.
    pub fn forward(&mut self, x: &DMatrix<T>, training: bool) -> DMatrix<T> {
        let mut h = x.clone();
        for layer in &mut self.layers {
            h = match layer {
                Layer::Dense(dense, input) => {
                    let y = dense.forward(&h).clone();
                    *input = h;
                    y
                }
                Layer::BatchNorm(bn) => bn.forward(&h, training),
                Layer::Relu(relu) => relu.forward(&h),
                Layer::Dropout(dropout) => dropout.forward(&h, training),
            };
        }
        h
    }
    // ANCHOR_END: forward

    // ANCHOR: loss
    /// The training loss of a batch `x: N × 784`, `t: N × 10` one-hot:
    /// the mean cross-entropy plus weight decay's `λ/2 · Σ_layers ‖W‖²`
    /// (the squared entries of every weight matrix; biases, `γ` and `β` are
    /// not decayed).
    pub fn loss(&mut self, x: &DMatrix<T>, t: &DMatrix<T>) -> T {
        let scores = self.forward(x, true);
        let cross_entropy = softmax_cross_entropy(&scores, t, &mut self.probabilities);
        cross_entropy + self.weight_penalty()
    }

    /// `λ/2 · Σ ‖W‖²`.
    pub fn weight_penalty(&self) -> T {
        let half: T = nalgebra::convert(0.5);
        let squares = self.dense_layers().map(|d| d.w.norm_squared());
        half * self.weight_decay * squares.fold(T::zero(), |a, b| a + b)
    }
    // ANCHOR_END: loss

    // ANCHOR: gradient
    /// One forward and one backward pass: afterwards every layer holds its
    /// parameters' gradients, each `∂E/∂W` including weight decay's `λW`.
    /// Returns the loss (with its penalty).
    pub fn gradient(&mut self, x: &DMatrix<T>, t: &DMatrix<T>) -> T {
        let loss = self.loss(x, t);
        // ∂E/∂scores = (y − t)/N for softmax with cross-entropy.
        let n: T = nalgebra::convert(x.nrows() as f64);
        let mut d = (&self.probabilities - t) / n;
        for (i, layer) in self.layers.iter_mut().enumerate().rev() {
            d = match layer {
                // The first layer's ∂E/∂X, towards the pixels, is of no use.
                Layer::Dense(dense, input) if i == 0 => {
                    dense.backward_params(input, &d);
                    break;
                }
                Layer::Dense(dense, input) => dense.backward(input, &d).clone(),
                Layer::BatchNorm(bn) => bn.backward(&d),
                Layer::Relu(relu) => relu.backward(&d),
                Layer::Dropout(dropout) => dropout.backward(&d),
            };
        }
        // ∂(λ/2 · ‖W‖²)/∂W = λW.
        let lambda = self.weight_decay;
        for layer in &mut self.layers {
            if let Layer::Dense(dense, _) = layer {
                dense.grad_w += &dense.w * lambda;
            }
        }
        loss
    }
    // ANCHOR_END: gradient

    /// Visits every `(parameter, gradient)` pair in order: each layer's `W`
    /// and `b`, or `γ` and `β`.
    pub fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        for layer in &mut self.layers {
            match layer {
                Layer::Dense(dense, _) => {
                    visit(&mut dense.w, &dense.grad_w);
                    visit(&mut dense.b, &dense.grad_b);
                }
                Layer::BatchNorm(bn) => {
                    visit(&mut bn.gamma, &bn.grad_gamma);
                    visit(&mut bn.beta, &bn.grad_beta);
                }
                Layer::Relu(_) | Layer::Dropout(_) => {}
            }
        }
    }

    /// One update of every parameter by `optimizer` (any of stage 4's), from
    /// the gradients of the last backward; as stage 4's `optim::step`.
    pub fn step(&mut self, optimizer: &mut dyn Optimizer<T>) {
        optimizer.start_step();
        let mut slot = 0;
        self.for_each_param(&mut |param, grad| {
            optimizer.update(slot, param.as_mut_slice(), grad.as_slice());
            slot += 1;
        });
    }

    fn dense_layers(&self) -> impl Iterator<Item = &Dense<T>> {
        self.layers.iter().filter_map(|l| match l {
            Layer::Dense(dense, _) => Some(dense),
            _ => None,
        })
    }

    /// Number of trainable numbers.
    pub fn parameter_count(&self) -> usize {
        let bn = self.layers.iter().map(|l| match l {
            Layer::BatchNorm(bn) => bn.parameter_count(),
            _ => 0,
        });
        self.dense_layers()
            .map(Dense::parameter_count)
            .sum::<usize>()
            + bn.sum::<usize>()
    }
}

impl<T: RealField + Copy + From<u8>> Network<T> {
    /// The predicted digits of `data`, at inference, 1,000 images at a time.
    pub fn predictions(&mut self, data: &Dataset) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len());
        for (x, _) in data.chunks::<T>(1000) {
            out.extend(mnist::predictions(&self.forward(&x, false)));
        }
        out
    }

    /// The fraction of `data` classified right, at inference.
    pub fn accuracy(&mut self, data: &Dataset) -> f64 {
        mnist::fraction_correct(&self.predictions(data), data.labels())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::gradient_check::{numerical_gradient, relative_errors};

    fn config(batch_norm: bool, dropout: f64, weight_decay: f64) -> Config {
        Config {
            hidden: vec![6, 5],
            batch_norm,
            dropout,
            weight_decay,
            init: Init::He,
            weight_scale: None,
            optimizer: OptimizerKind::Sgd,
            learning_rate: 0.01,
            batch_size: 4,
            epochs: 1,
        }
    }

    /// A small batch: 4 made-up images of 784 pixels in [0, 1], one-hot labels.
    fn batch() -> (DMatrix<f64>, DMatrix<f64>) {
        let mut rng = StdRng::seed_from_u64(11);
        let x = DMatrix::from_fn(4, 784, |_, _| rng.random::<f64>());
        (x, mnist::one_hot(&[3, 1, 4, 1]))
    }

    /// Every parameter gradient of the network on the batch, by backprop and
    /// numerically (each loss evaluation from a fresh copy with the same
    /// seed, so dropout draws the same mask), as relative errors.
    fn check(config: &Config) -> Vec<f64> {
        let (x, t) = batch();
        let mut net = Network::<f64>::new(config, 3);
        net.gradient(&x, &t);
        let mut analytic = Vec::new();
        net.for_each_param(&mut |_, g| analytic.push(g.clone()));
        let loss_nudged = |k: usize, i: usize, d: f64| {
            let mut fresh = Network::<f64>::new(config, 3);
            let mut index = 0;
            fresh.for_each_param(&mut |p, _| {
                if index == k {
                    p[i] += d;
                }
                index += 1;
            });
            fresh.loss(&x, &t)
        };
        let numerical: Vec<_> = analytic
            .iter()
            .enumerate()
            .map(|(k, g)| numerical_gradient(g.nrows(), g.ncols(), |i, d| loss_nudged(k, i, d)))
            .collect();
        let pairs: Vec<_> = analytic.iter().zip(&numerical).collect();
        relative_errors(&pairs)
    }

    #[test]
    fn weight_decay_gradient_matches_the_numerical_one_in_f64() {
        // λ large enough that λW is a good part of each weight's gradient.
        let errors = check(&config(false, 0.0, 0.5));
        assert_eq!(errors.len(), 6, "W and b of three layers");
        assert!(errors.iter().all(|&e| e < 1e-7), "{errors:?}");
    }

    #[test]
    fn the_whole_network_with_batch_norm_dropout_and_decay_matches_in_f64() {
        let errors = check(&config(true, 0.3, 0.1));
        assert_eq!(errors.len(), 10, "W, b, γ, β, W, b, γ, β, W, b");
        assert!(errors.iter().all(|&e| e < 1e-6), "{errors:?}");
    }

    #[test]
    fn the_reported_loss_includes_the_penalty() {
        let (x, t) = batch();
        let mut plain = Network::<f64>::new(&config(false, 0.0, 0.0), 3);
        let mut decayed = Network::<f64>::new(&config(false, 0.0, 0.2), 3);
        let squares: f64 = plain.dense_layers().map(|d| d.w.norm_squared()).sum();
        let gap = decayed.loss(&x, &t) - plain.loss(&x, &t);
        assert!(
            (gap - 0.1 * squares).abs() < 1e-12,
            "{gap} vs {}",
            0.1 * squares
        );
        assert!(gap > 0.0);
    }

    #[test]
    fn every_stage_4_optimizer_lowers_the_decayed_loss() {
        let (x, t) = batch();
        for kind in OptimizerKind::ALL {
            let config = config(true, 0.0, 0.01);
            let mut net = Network::<f64>::new(&config, 3);
            let mut optimizer = kind.build::<f64>(0.01);
            let first = net.gradient(&x, &t);
            for _ in 0..30 {
                net.gradient(&x, &t);
                net.step(optimizer.as_mut());
            }
            let last = net.loss(&x, &t);
            assert!(last < first, "{kind}: {first} → {last}");
        }
    }

    #[test]
    fn bad_settings_are_refused_before_training() {
        let good = config(true, 0.5, 0.1);
        assert_eq!(good.check(100), Ok(()));
        for (bad, expected) in [
            (
                Config {
                    dropout: 1.0,
                    ..good.clone()
                },
                ConfigError::DropoutRatio(1.0),
            ),
            (
                Config {
                    dropout: -0.1,
                    ..good.clone()
                },
                ConfigError::DropoutRatio(-0.1),
            ),
            (
                Config {
                    weight_decay: -1e-3,
                    ..good.clone()
                },
                ConfigError::WeightDecay(-1e-3),
            ),
            (
                Config {
                    batch_size: 1,
                    ..good.clone()
                },
                ConfigError::BatchNormBatchOfOne,
            ),
            (
                Config {
                    learning_rate: 0.0,
                    ..good.clone()
                },
                ConfigError::LearningRate(0.0),
            ),
            (
                Config {
                    weight_scale: Some(-1.0),
                    ..good.clone()
                },
                ConfigError::WeightScale(-1.0),
            ),
            (
                Config {
                    batch_size: 200,
                    ..good.clone()
                },
                ConfigError::BatchTooLarge {
                    batch: 200,
                    images: 100,
                },
            ),
        ] {
            assert_eq!(bad.check(100), Err(expected.clone()), "{bad:?}");
        }
        // A batch of one is fine without batch normalisation.
        let plain = Config {
            batch_norm: false,
            batch_size: 1,
            ..good
        };
        assert_eq!(plain.check(100), Ok(()));
        assert!(
            ConfigError::DropoutRatio(1.0)
                .to_string()
                .contains("[0, 1)")
        );
    }
}
