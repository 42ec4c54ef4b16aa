//! # The regularised network: Dense → [BatchNorm] → ReLU → [Dropout], stacked
//!
//! Stage 5 of the course (chapter 6). Stage 4's network with the chapter's
//! three additions, each optional: batch normalisation between every affine
//! layer and its ReLU, dropout after every ReLU, and weight decay on the
//! loss. The affine layers are stage 4's engine ([`ch6_mlp::Dense`], the
//! `gemm` crate's products); the new layers are written plainly, as
//! stage 3's are. Any of stage 4's optimizers trains it.
//!
//! [`RegularizedNet`] implements stage 4's [`Trainable`], so the engine's
//! one training loop trains it, its evaluation measures it and its model
//! file saves it (every `Dense`'s `W` and `b`, every batch norm's `γ`, `β`
//! and running averages). [`Config::check`] turns bad settings into a clear
//! [`ConfigError`] before any training.

use ch5_backprop::train::to_f64;
use ch5_backprop::{Layer as _, Relu};
use ch6_mlp::engine::Trainable;
use ch6_mlp::engine::dense::{Dense, Kernel};
use ch6_mlp::engine::layers::{scores_gradient, softmax_cross_entropy};
use ch6_mlp::engine::model_file::{ModelError, ModelFile, Tensor};
use ch6_mlp::engine::optim::OptimizerKind;
use ch6_mlp::engine::train::Schedule;
use ch6_mlp::init::Init;
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

    /// How long and in what pieces stage 4's loop trains this network:
    /// `epochs` of batches of `batch_size`, whole batches only (`drop_last`),
    /// so that batch normalisation never sees a last batch of one; the
    /// run's `seed` gives each epoch's shuffle.
    pub fn schedule(&self, seed: u64) -> Schedule {
        Schedule {
            epochs: self.epochs,
            batch_size: self.batch_size,
            drop_last: true,
            last_epoch_steps: None,
            learning_rate: self.learning_rate,
            decay_epochs: 0,
            seed,
        }
    }

    /// Optimizer steps per epoch over `images` (at least `batch_size` of
    /// them): `images / batch_size`, whole batches.
    pub fn steps_per_epoch(&self, images: usize) -> usize {
        self.schedule(0).steps_per_epoch(images)
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

    /// A network in words: `784-256-256-10 ReLU, BatchNorm, dropout 0.2`.
    pub fn architecture(sizes: &[usize], batch_norm: bool, dropout: f64) -> String {
        let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
        let mut text = format!("{} ReLU", sizes.join("-"));
        if batch_norm {
            text += ", BatchNorm";
        }
        if dropout > 0.0 {
            text += &format!(", dropout {dropout}");
        }
        text
    }

    /// The settings in words: `784-100-100-10, BatchNorm, dropout 0.2, …`.
    pub fn describe(&self) -> String {
        let mut text = Config::architecture(&self.sizes(), self.batch_norm, self.dropout);
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

// ANCHOR: block
/// One block of the network. An enum, not a trait object, so the network can
/// tell batch norm and dropout whether it is training.
pub enum Block<T: RealField + Copy> {
    /// Stage 4's `Dense`, with the input of its last forward (`dW = Xᵀ·dY` needs it).
    Dense(Dense<T>, DMatrix<T>),
    BatchNorm(BatchNorm<T>),
    Relu(Relu<T>),
    Dropout(Dropout<T>),
}
// ANCHOR_END: block

/// The regularised network: its blocks in order, then softmax with
/// cross-entropy; and the current batch it trains on or scores.
pub struct RegularizedNet<T: RealField + Copy> {
    pub blocks: Vec<Block<T>>,
    /// `λ` of weight decay.
    pub weight_decay: T,
    /// The current batch: images `x: N × 784` (pixels / 255) and one-hot labels `t: N × 10`.
    x: DMatrix<T>,
    t: DMatrix<T>,
    /// Softmax probabilities of the last loss, `N × 10`, and `∂E/∂scores = (y − t)/N`.
    probabilities: DMatrix<T>,
    dscores: DMatrix<T>,
    /// The scores of the last inference forward, `N × 10`.
    scores: DMatrix<T>,
}

impl<T: RealField + Copy> RegularizedNet<T> {
    // ANCHOR: new
    /// A fresh network of `config` (the settings must have passed
    /// [`Config::check`]): weights drawn from `seed` (as stage 4's `Mlp`
    /// draws them, so a plain network starts alike), biases 0, and each
    /// dropout layer's masks from its own stream of the same seed.
    pub fn new(config: &Config, seed: u64) -> RegularizedNet<T> {
        let sizes = config.sizes();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut dropout_seeds = StdRng::seed_from_u64(seed ^ 0xD0_D0_D0_D0);
        let mut blocks = Vec::new();
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
                Dense::from_parameters(w, DMatrix::zeros(1, n_out), Kernel::Engine { threads: 1 });
            blocks.push(Block::Dense(dense, DMatrix::zeros(0, n_in)));
            if i + 2 < sizes.len() {
                if config.batch_norm {
                    blocks.push(Block::BatchNorm(BatchNorm::new(n_out)));
                }
                blocks.push(Block::Relu(Relu::new()));
                if config.dropout > 0.0 {
                    blocks.push(Block::Dropout(Dropout::new(
                        config.dropout,
                        dropout_seeds.random(),
                    )));
                }
            }
        }
        RegularizedNet {
            blocks,
            weight_decay: nalgebra::convert(config.weight_decay),
            x: DMatrix::zeros(0, sizes[0]),
            t: DMatrix::zeros(0, mnist::CLASSES),
            probabilities: DMatrix::zeros(0, 0),
            dscores: DMatrix::zeros(0, 0),
            scores: DMatrix::zeros(0, 0),
        }
    }
    // ANCHOR_END: new

    /// Makes `x: N × 784` and `t: N × 10` (one-hot) the current batch.
    pub fn set_batch(&mut self, x: DMatrix<T>, t: DMatrix<T>) {
        assert_eq!(x.nrows(), t.nrows(), "one label per image");
        (self.x, self.t) = (x, t);
    }

    // ANCHOR: forward
    /// The scores (logits) `N × 10` of the current batch `x: N × 784`. In
    /// `training`, batch norm uses the batch's statistics and dropout drops;
    /// otherwise batch norm uses its running averages and dropout passes
    /// everything.
    pub fn forward(&mut self, training: bool) -> DMatrix<T> {
        let mut h = self.x.clone();
        for block in &mut self.blocks {
            h = match block {
                Block::Dense(dense, input) => {
                    let y = dense.forward(&h).clone();
                    *input = h;
                    y
                }
                Block::BatchNorm(bn) => bn.forward(&h, training),
                Block::Relu(relu) => relu.forward(&h),
                Block::Dropout(dropout) => dropout.forward(&h, training),
            };
        }
        h
    }
    // ANCHOR_END: forward

    // ANCHOR: loss
    /// The training loss of the current batch `x: N × 784`, `t: N × 10`:
    /// the mean cross-entropy plus weight decay's `λ/2 · Σ_layers ‖W‖²`
    /// (the squared entries of every weight matrix; biases, `γ` and `β` are
    /// not decayed).
    pub fn loss(&mut self) -> T {
        let scores = self.forward(true);
        let cross_entropy = softmax_cross_entropy(&scores, &self.t, &mut self.probabilities);
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
    /// One forward and one backward pass over the current batch: afterwards
    /// every block holds its parameters' gradients, each `∂E/∂W` including
    /// weight decay's `λW`. Returns the loss (with its penalty).
    pub fn gradient(&mut self) -> T {
        let loss = self.loss();
        // ∂E/∂scores = (y − t)/N for softmax with cross-entropy.
        scores_gradient(&self.probabilities, &self.t, &mut self.dscores);
        let mut d = self.dscores.clone();
        for (i, block) in self.blocks.iter_mut().enumerate().rev() {
            d = match block {
                // The first layer's ∂E/∂X, towards the pixels, is of no use.
                Block::Dense(dense, input) if i == 0 => {
                    dense.backward_params(input, &d);
                    break;
                }
                Block::Dense(dense, input) => dense.backward(input, &d).clone(),
                Block::BatchNorm(bn) => bn.backward(&d),
                Block::Relu(relu) => relu.backward(&d),
                Block::Dropout(dropout) => dropout.backward(&d),
            };
        }
        // ∂(λ/2 · ‖W‖²)/∂W = λW.
        let lambda = self.weight_decay;
        for block in &mut self.blocks {
            if let Block::Dense(dense, _) = block {
                dense.grad_w += &dense.w * lambda;
            }
        }
        loss
    }
    // ANCHOR_END: gradient

    /// Visits every `(parameter, gradient)` pair in order: each layer's `W`
    /// and `b`, or `γ` and `β`.
    pub fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        for block in &mut self.blocks {
            match block {
                Block::Dense(dense, _) => {
                    visit(&mut dense.w, &dense.grad_w);
                    visit(&mut dense.b, &dense.grad_b);
                }
                Block::BatchNorm(bn) => {
                    visit(&mut bn.gamma, &bn.grad_gamma);
                    visit(&mut bn.beta, &bn.grad_beta);
                }
                Block::Relu(_) | Block::Dropout(_) => {}
            }
        }
    }

    /// The affine layers, in order.
    pub fn dense_layers(&self) -> impl Iterator<Item = &Dense<T>> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Dense(dense, _) => Some(dense),
            _ => None,
        })
    }

    /// The batch-norm layers, in order.
    pub fn batch_norms(&self) -> impl Iterator<Item = &BatchNorm<T>> {
        self.blocks.iter().filter_map(|b| match b {
            Block::BatchNorm(bn) => Some(bn),
            _ => None,
        })
    }

    /// The dropout ratio of its dropout layers (0 without any).
    pub fn dropout(&self) -> f64 {
        let ratios = self.blocks.iter().filter_map(|b| match b {
            Block::Dropout(dropout) => Some(dropout.ratio),
            _ => None,
        });
        ratios.last().unwrap_or(0.0)
    }

    /// Units per layer, `[784, hidden…, 10]`.
    pub fn sizes(&self) -> Vec<usize> {
        let mut dense = self.dense_layers();
        let first = dense.next().expect("a network has a layer");
        let mut sizes = vec![first.w.nrows(), first.w.ncols()];
        sizes.extend(dense.map(|d| d.w.ncols()));
        sizes
    }

    /// The network in words: `784-256-256-10 ReLU, BatchNorm, dropout 0.2`.
    pub fn describe(&self) -> String {
        let batch_norm = self.batch_norms().next().is_some();
        Config::architecture(&self.sizes(), batch_norm, self.dropout())
    }

    /// Number of trainable numbers.
    pub fn parameter_count(&self) -> usize {
        let dense: usize = self.dense_layers().map(Dense::parameter_count).sum();
        dense
            + self
                .batch_norms()
                .map(BatchNorm::parameter_count)
                .sum::<usize>()
    }
}

impl<T: RealField + Copy + From<u8>> Trainable<T> for RegularizedNet<T> {
    const FORMAT: &'static str = "ch6-regularization";

    /// `x`: the images at `indices`, pixels / 255; `t`: their labels one-hot.
    fn load_batch(&mut self, data: &Dataset, indices: &[usize]) {
        self.set_batch(data.batch_images(indices), data.batch_one_hot(indices));
    }

    fn gradient(&mut self) -> T {
        RegularizedNet::gradient(self)
    }

    /// `forward` at inference.
    fn scores(&mut self) -> &DMatrix<T> {
        self.scores = self.forward(false);
        &self.scores
    }

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        RegularizedNet::for_each_param(self, visit);
    }

    /// A data set is scored 1,000 images at a time.
    fn eval_batch(&self) -> usize {
        1000
    }

    fn describe(&self) -> String {
        RegularizedNet::describe(self)
    }

    fn parameter_count(&self) -> usize {
        RegularizedNet::parameter_count(self)
    }

    // ANCHOR: model
    /// Tensors `dense{k}.weight` (`n_in × n_out`, row-major), `dense{k}.bias`,
    /// and for each hidden layer with batch norm `batch_norm{k}.weight` (`γ`),
    /// `.bias` (`β`), `.running_mean` and `.running_var` (all `[n_out]`);
    /// metadata `sizes`, `batch_norm`, `batch_norm_epsilon`, `dropout` and
    /// `weight_decay`. Dropout needs nothing at inference (inverted dropout):
    /// its ratio is kept to describe the network.
    fn model(&self) -> (Vec<(&'static str, String)>, Vec<Tensor>) {
        let f32s = |m: &DMatrix<T>| m.map(|v| to_f64(v) as f32);
        let mut tensors = Vec::new();
        for (k, dense) in self.dense_layers().enumerate() {
            tensors.push(Tensor::matrix(format!("dense{k}.weight"), &f32s(&dense.w)));
            tensors.push(Tensor::vector(format!("dense{k}.bias"), &f32s(&dense.b)));
        }
        for (k, bn) in self.batch_norms().enumerate() {
            tensors.push(Tensor::vector(
                format!("batch_norm{k}.weight"),
                &f32s(&bn.gamma),
            ));
            tensors.push(Tensor::vector(
                format!("batch_norm{k}.bias"),
                &f32s(&bn.beta),
            ));
            let mean = f32s(&bn.running_mean);
            tensors.push(Tensor::vector(format!("batch_norm{k}.running_mean"), &mean));
            let var = f32s(&bn.running_var);
            tensors.push(Tensor::vector(format!("batch_norm{k}.running_var"), &var));
        }
        let sizes: Vec<String> = self.sizes().iter().map(usize::to_string).collect();
        let epsilon = self
            .batch_norms()
            .next()
            .map_or(1e-7, |bn| to_f64(bn.epsilon));
        let metadata = vec![
            ("sizes", sizes.join(",")),
            (
                "batch_norm",
                self.batch_norms().next().is_some().to_string(),
            ),
            ("batch_norm_epsilon", epsilon.to_string()),
            ("dropout", self.dropout().to_string()),
            ("weight_decay", to_f64(self.weight_decay).to_string()),
        ];
        (metadata, tensors)
    }
    // ANCHOR_END: model

    /// The architecture from the metadata, each number checked, then every
    /// tensor read into it.
    fn from_model(file: &ModelFile, threads: usize) -> Result<RegularizedNet<T>, ModelError> {
        let sizes = file.numbers("sizes", None)?;
        if sizes.len() < 2 || sizes.contains(&0) {
            let text = file.text("sizes")?;
            return Err(file.invalid(format!(
                "metadata sizes `{text}` needs at least two sizes, none of them 0"
            )));
        }
        let (inputs, outputs) = (sizes[0], sizes[sizes.len() - 1]);
        if inputs != mnist::IMAGE_SIZE || outputs != mnist::CLASSES {
            let found = format!("{inputs} inputs and gives {outputs} classes");
            return Err(file.not_mnist(found, "784 and 10"));
        }
        let batch_norm = match file.text("batch_norm")? {
            "true" => true,
            "false" => false,
            other => {
                return Err(file.invalid(format!(
                    "metadata batch_norm `{other}` is neither `true` nor `false`"
                )));
            }
        };
        let real = |key: &str, ok: &dyn Fn(f64) -> bool, range: &str| {
            let text = file.text(key)?;
            match text.parse::<f64>() {
                Ok(v) if ok(v) => Ok(v),
                _ => Err(file.invalid(format!("metadata {key} `{text}` is not {range}"))),
            }
        };
        let dropout = real("dropout", &|r| (0.0..1.0).contains(&r), "a ratio in [0, 1)")?;
        let weight_decay = real(
            "weight_decay",
            &|l| l.is_finite() && l >= 0.0,
            "a finite number of 0 or more",
        )?;
        let epsilon = real(
            "batch_norm_epsilon",
            &|e| e.is_finite() && e > 0.0,
            "a finite number above 0",
        )?;
        let hidden = sizes[1..sizes.len() - 1].to_vec();
        let architecture = Config::architecture(&sizes, batch_norm, dropout);
        // The affine layers' tensors first: their shapes, checked against
        // the file, bound the sizes before any network is built.
        let mut dense = Vec::new();
        for (k, pair) in sizes.windows(2).enumerate() {
            let (n_in, n_out) = (pair[0], pair[1]);
            let w = file.matrix(&format!("dense{k}.weight"), n_in, n_out, &architecture)?;
            let b = file.vector(&format!("dense{k}.bias"), n_out, &architecture)?;
            let (w, b) = (w.map(nalgebra::convert), b.map(nalgebra::convert));
            dense.push(Dense::from_parameters(w, b, Kernel::Engine { threads }));
        }
        // Only the architecture of this configuration matters: every number
        // of the network is read from the file.
        let config = Config {
            hidden,
            batch_norm,
            dropout,
            weight_decay,
            init: Init::He,
            weight_scale: None,
            optimizer: OptimizerKind::Sgd,
            learning_rate: 0.01,
            batch_size: 2,
            epochs: 1,
        };
        let mut net = RegularizedNet::new(&config, 0);
        let (mut dense, mut k) = (dense.into_iter(), 0);
        for block in &mut net.blocks {
            match block {
                Block::Dense(layer, _) => *layer = dense.next().expect("one per pair of sizes"),
                Block::BatchNorm(bn) => {
                    let n = bn.gamma.ncols();
                    let read = |name: &str| {
                        let v = file.vector(&format!("batch_norm{k}.{name}"), n, &architecture)?;
                        Ok::<_, ModelError>(v.map(nalgebra::convert))
                    };
                    (bn.gamma, bn.beta) = (read("weight")?, read("bias")?);
                    (bn.running_mean, bn.running_var) =
                        (read("running_mean")?, read("running_var")?);
                    if bn.running_var.iter().any(|&v| v < T::zero()) {
                        return Err(file.invalid(format!(
                            "tensor batch_norm{k}.running_var holds a negative variance"
                        )));
                    }
                    bn.epsilon = nalgebra::convert(epsilon);
                    k += 1;
                }
                Block::Relu(_) | Block::Dropout(_) => {}
            }
        }
        Ok(net)
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

    /// A fresh network of `config` from seed 3, the small batch its current one.
    fn network(config: &Config) -> RegularizedNet<f64> {
        let (x, t) = batch();
        let mut net = RegularizedNet::<f64>::new(config, 3);
        net.set_batch(x, t);
        net
    }

    /// Every parameter gradient of the network on the batch, by backprop and
    /// numerically (each loss evaluation from a fresh copy with the same
    /// seed, so dropout draws the same mask), as relative errors.
    fn check(config: &Config) -> Vec<f64> {
        let mut net = network(config);
        net.gradient();
        let mut analytic = Vec::new();
        net.for_each_param(&mut |_, g| analytic.push(g.clone()));
        let loss_nudged = |k: usize, i: usize, d: f64| {
            let mut fresh = network(config);
            let mut index = 0;
            fresh.for_each_param(&mut |p, _| {
                if index == k {
                    p[i] += d;
                }
                index += 1;
            });
            fresh.loss()
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
        let mut plain = network(&config(false, 0.0, 0.0));
        let mut decayed = network(&config(false, 0.0, 0.2));
        let squares: f64 = plain.dense_layers().map(|d| d.w.norm_squared()).sum();
        let gap = decayed.loss() - plain.loss();
        assert!(
            (gap - 0.1 * squares).abs() < 1e-12,
            "{gap} vs {}",
            0.1 * squares
        );
        assert!(gap > 0.0);
    }

    #[test]
    fn every_stage_4_optimizer_lowers_the_decayed_loss() {
        for kind in OptimizerKind::ALL {
            let mut net = network(&config(true, 0.0, 0.01));
            let mut optimizer = kind.build::<f64>(0.01);
            let first = net.gradient();
            for _ in 0..30 {
                net.gradient();
                ch6_mlp::engine::step(optimizer.as_mut(), &mut net);
            }
            let last = net.loss();
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
