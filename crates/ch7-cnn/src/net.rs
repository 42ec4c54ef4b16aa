//! # SimpleConvNet: the book's network
//!
//! Stage 6 of the course (chapter 7, "implementing a CNN"):
//!
//! `conv 30 × 5×5 → ReLU → max pool 2×2 → Affine 100 → ReLU → Affine 10 → softmax with loss`
//!
//! On a 28 × 28 digit: the convolution gives 30 feature maps of 24 × 24,
//! pooling shrinks them to 12 × 12, and those `30·12·12 = 4,320` numbers,
//! already flat in the layout of [`crate::layout`], are the input of stage
//! 4's `Dense` layers. Loss, its gradient and the optimizers are stage 4's
//! too. [`SimpleConvNet::plain_network`] builds the same network from
//! stage 3's plain layers, and the tests check the two agree.

use ch5_backprop::{Affine, Layer, Network, Relu, SoftmaxWithLoss};
use ch6_mlp::Trainable;
use ch6_mlp::engine::dense::{Dense, Kernel};
use ch6_mlp::engine::layers::{relu, relu_backward, scores_gradient, softmax_cross_entropy};
use ch6_mlp::engine::model_file::{ModelError, ModelFile, Tensor};
use ch6_mlp::init::Init;
use mnist::Dataset;
use nalgebra::{DMatrix, RealField};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::conv::Convolution;
use crate::layout::{Shape, ShapeError, Window};
use crate::pool::MaxPooling;

// ANCHOR: architecture
/// The sizes of a SimpleConvNet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Architecture {
    /// One input image, `C × H × W`.
    pub input: Shape,
    /// Number of filters `FN`, each `C × size × size`, moved by `stride` over the image padded by `pad`.
    pub filters: usize,
    pub filter_size: usize,
    pub stride: usize,
    pub pad: usize,
    /// Pooling windows `pool × pool`, stride `pool`.
    pub pool: usize,
    /// Units of the hidden affine layer.
    pub hidden: usize,
    pub classes: usize,
}

impl Architecture {
    /// The book's SimpleConvNet on MNIST.
    pub const SIMPLE: Architecture = Architecture {
        input: Shape::MNIST,
        filters: 30,
        filter_size: 5,
        stride: 1,
        pad: 0,
        pool: 2,
        hidden: 100,
        classes: 10,
    };
    // ANCHOR_END: architecture

    /// The convolution's window.
    pub fn window(&self) -> Window {
        Window {
            height: self.filter_size,
            width: self.filter_size,
            stride: self.stride,
            pad: self.pad,
        }
    }

    /// `conv 30×1×5×5 (stride 1, pad 0) → ReLU → pool 2×2 → Affine 4320→100 → ReLU → Affine 100→10`.
    pub fn describe(&self) -> String {
        let pooled = self.pooled().map_or(0, |s| s.len());
        format!(
            "conv {}×{}×{}×{} (stride {}, pad {}) → ReLU → pool {}×{} → Affine {}→{} → ReLU → Affine {}→{}",
            self.filters,
            self.input.channels,
            self.filter_size,
            self.filter_size,
            self.stride,
            self.pad,
            self.pool,
            self.pool,
            pooled,
            self.hidden,
            self.hidden,
            self.classes
        )
    }

    /// The pooled feature maps, `FN × OH/pool × OW/pool`, or why the sizes do not fit.
    pub fn pooled(&self) -> Result<Shape, ShapeError> {
        let (oh, ow) = self.window().output(self.input)?;
        let maps = Shape::new(self.filters, oh, ow);
        let pool = MaxPooling::<f64>::new(maps, self.pool, self.pool, self.pool)?;
        Ok(pool.output())
    }

    /// Number of trainable numbers.
    pub fn parameter_count(&self) -> Result<usize, ShapeError> {
        let patch = self.input.channels * self.filter_size * self.filter_size;
        let flat = self.pooled()?.len();
        Ok(
            self.filters * (patch + 1)
                + (flat + 1) * self.hidden
                + (self.hidden + 1) * self.classes,
        )
    }
}

/// The network's parameters: the filters `W: (C·FH·FW) × FN` and biases of
/// the convolution, then `(W, b)` of each affine layer.
pub type Parameters<T> = [(DMatrix<T>, DMatrix<T>); 3];

// ANCHOR: simple_conv_net
/// SimpleConvNet with kept buffers, trained on mini-batches.
pub struct SimpleConvNet<T: RealField + Copy> {
    pub architecture: Architecture,
    pub conv: Convolution<T>,
    pub pool: MaxPooling<T>,
    pub hidden: Dense<T>,
    pub output: Dense<T>,
    /// The current mini-batch: `x: N × (C·H·W)`, `t: N × classes` one-hot.
    x: DMatrix<T>,
    t: DMatrix<T>,
    /// Softmax probabilities, then `∂E/∂scores = (y − t)/N`.
    probabilities: DMatrix<T>,
    dscores: DMatrix<T>,
}
// ANCHOR_END: simple_conv_net

impl<T: RealField + Copy> SimpleConvNet<T> {
    /// A fresh network: every weight drawn by `init` from `seed` (the
    /// convolution's fan-in is `C·FH·FW = 25`), biases 0. Large products
    /// may use `threads` threads.
    pub fn new(
        architecture: Architecture,
        init: Init,
        seed: u64,
        threads: usize,
    ) -> Result<SimpleConvNet<T>, ShapeError> {
        let a = architecture;
        let mut rng = StdRng::seed_from_u64(seed);
        let patch = a.input.channels * a.filter_size * a.filter_size;
        let flat = a.pooled()?.len();
        let params = [(patch, a.filters), (flat, a.hidden), (a.hidden, a.classes)].map(
            |(fan_in, fan_out)| {
                (
                    init.weights(fan_in, fan_out, &mut rng),
                    DMatrix::zeros(1, fan_out),
                )
            },
        );
        SimpleConvNet::from_parameters(a, params, Kernel::Engine { threads })
    }

    /// A network with the given parameters (shapes as [`Parameters`] says).
    pub fn from_parameters(
        architecture: Architecture,
        [conv, hidden, output]: Parameters<T>,
        kernel: Kernel,
    ) -> Result<SimpleConvNet<T>, ShapeError> {
        let a = architecture;
        let conv = Convolution::from_parameters(a.input, a.window(), conv.0, conv.1, kernel)?;
        let pool = MaxPooling::new(conv.output(), a.pool, a.pool, a.pool)?;
        assert_eq!(
            hidden.0.shape(),
            (pool.output().len(), a.hidden),
            "W of Affine 1"
        );
        assert_eq!(output.0.shape(), (a.hidden, a.classes), "W of Affine 2");
        Ok(SimpleConvNet {
            architecture: a,
            conv,
            pool,
            hidden: Dense::from_parameters(hidden.0, hidden.1, kernel),
            output: Dense::from_parameters(output.0, output.1, kernel),
            x: DMatrix::zeros(0, a.input.len()),
            t: DMatrix::zeros(0, a.classes),
            probabilities: DMatrix::zeros(0, 0),
            dscores: DMatrix::zeros(0, 0),
        })
    }

    /// Copies of the parameters.
    pub fn parameters(&self) -> Parameters<T> {
        [
            (self.conv.w.clone(), self.conv.b.clone()),
            (self.hidden.w.clone(), self.hidden.b.clone()),
            (self.output.w.clone(), self.output.b.clone()),
        ]
    }

    /// Number of trainable numbers.
    pub fn parameter_count(&self) -> usize {
        self.conv.parameter_count() + self.hidden.parameter_count() + self.output.parameter_count()
    }

    /// Visits every `(parameter, gradient)` pair: filters, their biases, `W1, b1, W2, b2`.
    pub fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        visit(&mut self.conv.w, &self.conv.grad_w);
        visit(&mut self.conv.b, &self.conv.grad_b);
        for layer in [&mut self.hidden, &mut self.output] {
            visit(&mut layer.w, &layer.grad_w);
            visit(&mut layer.b, &layer.grad_b);
        }
    }

    /// The same network in stage 3's plain layers, with copies of these
    /// parameters: `Convolution → ReLU → MaxPooling → Affine → ReLU → Affine
    /// → SoftmaxWithLoss`.
    pub fn plain_network(&self) -> Network<T> {
        let a = self.architecture;
        let [conv, hidden, output] = self.parameters();
        let conv =
            Convolution::from_parameters(a.input, a.window(), conv.0, conv.1, Kernel::Nalgebra)
                .expect("the same sizes as this network");
        let pool = MaxPooling::new(conv.output(), a.pool, a.pool, a.pool).expect("the same sizes");
        let layers: Vec<Box<dyn Layer<T>>> = vec![
            Box::new(conv),
            Box::new(Relu::new()),
            Box::new(pool),
            Box::new(Affine::from_parameters(hidden.0, hidden.1)),
            Box::new(Relu::new()),
            Box::new(Affine::from_parameters(output.0, output.1)),
        ];
        Network::new(layers, Box::new(SoftmaxWithLoss::new()))
    }

    /// Makes `x: N × (C·H·W)` and `t: N × classes` the current batch.
    pub fn set_batch(&mut self, x: DMatrix<T>, t: DMatrix<T>) {
        assert_eq!(
            x.ncols(),
            self.architecture.input.len(),
            "x must be N × (C·H·W)"
        );
        assert_eq!(
            t.shape(),
            (x.nrows(), self.architecture.classes),
            "t must be N × classes"
        );
        (self.x, self.t) = (x, t);
    }

    /// Makes the MNIST images and labels at `indices` of `data` the current batch.
    pub fn load_batch(&mut self, data: &Dataset, indices: &[usize])
    where
        T: From<u8>,
    {
        self.set_batch(data.batch_images(indices), data.batch_one_hot(indices));
    }

    // ANCHOR: forward
    /// The scores `N × classes` of the current batch.
    fn forward(&mut self) -> &DMatrix<T> {
        relu(self.conv.forward(&self.x));
        self.pool.forward(&self.conv.y);
        // Flatten: the pooled N × (30·12·12) batch already is Affine's N × 4320 input.
        relu(self.hidden.forward(&self.pool.y));
        self.output.forward(&self.hidden.y)
    }
    // ANCHOR_END: forward

    /// The mean loss of the current batch.
    pub fn loss(&mut self) -> T {
        self.forward();
        softmax_cross_entropy(&self.output.y, &self.t, &mut self.probabilities)
    }

    // ANCHOR: gradient
    /// One forward and one backward pass over the current batch: afterwards
    /// every layer holds its gradients. Returns the mean loss.
    pub fn gradient(&mut self) -> T {
        let loss = self.loss();
        // ∂E/∂scores = (y − t)/N
        scores_gradient(&self.probabilities, &self.t, &mut self.dscores);
        let d = self.output.backward(&self.hidden.y, &self.dscores);
        relu_backward(d, &self.hidden.y);
        let d = self.hidden.backward(&self.pool.y, &self.output.dx);
        let d = self.pool.backward(d);
        relu_backward(d, &self.conv.y);
        self.conv.backward_params(&self.pool.dx);
        loss
    }
    // ANCHOR_END: gradient

    /// The 30 feature maps (after ReLU) of image `i` of `data`, each `OH × OW`.
    pub fn feature_maps(&mut self, data: &Dataset, i: usize) -> Vec<DMatrix<T>>
    where
        T: From<u8>,
    {
        self.load_batch(data, &[i]);
        self.forward();
        let maps = self.conv.output();
        (0..maps.channels)
            .map(|f| {
                DMatrix::from_fn(maps.height, maps.width, |h, w| {
                    self.conv.y[(0, maps.index(f, h, w))]
                })
            })
            .collect()
    }
}

/// The names of the six tensors of a model file, `(W, b)` of each layer.
const NAMES: [[&str; 2]; 3] = [
    ["conv.weight", "conv.bias"],
    ["affine0.weight", "affine0.bias"],
    ["affine1.weight", "affine1.bias"],
];

/// `1,28,28`: sizes as a model file's metadata writes them.
fn list(values: &[usize]) -> String {
    values
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A number of the network as the f32 a model file holds (exact for f32).
fn f32_of<T: RealField + Copy>(x: T) -> f32 {
    ch5_backprop::train::to_f64(x) as f32
}

impl<T: RealField + Copy + From<u8>> Trainable<T> for SimpleConvNet<T> {
    const FORMAT: &'static str = "ch7-cnn";

    fn load_batch(&mut self, data: &Dataset, indices: &[usize]) {
        SimpleConvNet::load_batch(self, data, indices);
    }

    fn gradient(&mut self) -> T {
        SimpleConvNet::gradient(self)
    }

    fn scores(&mut self) -> &DMatrix<T> {
        self.forward()
    }

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        SimpleConvNet::for_each_param(self, visit);
    }

    /// Test images are scored 500 at a time (the chunk size decides how
    /// the products are cut, so it stays what the course's numbers were made with).
    fn eval_batch(&self) -> usize {
        500
    }

    fn describe(&self) -> String {
        self.architecture.describe()
    }

    fn parameter_count(&self) -> usize {
        SimpleConvNet::parameter_count(self)
    }

    // ANCHOR: model
    /// Tensors `conv.weight` of shape `[FN, C, FH, FW]` (PyTorch's layout
    /// for a convolution's filters: number for number, the column-major
    /// storage of `W: (C·FH·FW) × FN`), `conv.bias` `[FN]`, `affine0.weight`
    /// `[4320, 100]` (the `W` of `Y = X·W + b`, row-major), `affine0.bias`,
    /// `affine1.weight` `[100, 10]`, `affine1.bias`. Metadata: `input =
    /// 1,28,28`, `conv = 30,1,5,5` (the filters' 4-D shape), `stride`,
    /// `pad`, `pool`, `hidden`, `classes`, `activation = relu`.
    fn model(&self) -> (Vec<(&'static str, String)>, Vec<Tensor>) {
        let (a, i, k) = (
            self.architecture,
            self.architecture.input,
            self.architecture.filter_size,
        );
        let [conv, hidden, output] = self
            .parameters()
            .map(|(w, b)| (w.map(f32_of), b.map(f32_of)));
        let filters = Tensor {
            name: NAMES[0][0].into(),
            shape: vec![a.filters, i.channels, k, k],
            values: conv.0.as_slice().to_vec(),
        };
        let tensors = vec![
            filters,
            Tensor::vector(NAMES[0][1], &conv.1),
            Tensor::matrix(NAMES[1][0], &hidden.0),
            Tensor::vector(NAMES[1][1], &hidden.1),
            Tensor::matrix(NAMES[2][0], &output.0),
            Tensor::vector(NAMES[2][1], &output.1),
        ];
        let metadata = vec![
            ("input", list(&[i.channels, i.height, i.width])),
            ("conv", list(&[a.filters, i.channels, k, k])),
            ("stride", a.stride.to_string()),
            ("pad", a.pad.to_string()),
            ("pool", a.pool.to_string()),
            ("hidden", a.hidden.to_string()),
            ("classes", a.classes.to_string()),
            ("activation", "relu".to_string()),
        ];
        (metadata, tensors)
    }
    // ANCHOR_END: model

    fn from_model(file: &ModelFile, threads: usize) -> Result<SimpleConvNet<T>, ModelError> {
        let a = architecture(file)?;
        if a.input != Shape::MNIST || a.classes != mnist::CLASSES {
            let found = format!("{} images into {} classes", a.input, a.classes);
            return Err(file.not_mnist(found, "1×28×28 and 10"));
        }
        let flat = a.pooled().map_err(|e| file.sizes_error(e))?.len();
        let (patch, words) = (
            a.input.channels * a.filter_size * a.filter_size,
            a.describe(),
        );
        let filters = file.tensor(
            NAMES[0][0],
            &[a.filters, a.input.channels, a.filter_size, a.filter_size],
            &words,
        )?;
        let f32_params = [
            (
                // [FN, C, FH, FW] row-major is W's column-major storage.
                DMatrix::from_vec(patch, a.filters, filters),
                file.vector(NAMES[0][1], a.filters, &words)?,
            ),
            (
                file.matrix(NAMES[1][0], flat, a.hidden, &words)?,
                file.vector(NAMES[1][1], a.hidden, &words)?,
            ),
            (
                file.matrix(NAMES[2][0], a.hidden, a.classes, &words)?,
                file.vector(NAMES[2][1], a.classes, &words)?,
            ),
        ];
        let params = f32_params.map(|(w, b)| (w.map(nalgebra::convert), b.map(nalgebra::convert)));
        SimpleConvNet::from_parameters(a, params, Kernel::Engine { threads })
            .map_err(|e| file.sizes_error(e))
    }
}

/// The architecture a model file's metadata describes, checked.
fn architecture(file: &ModelFile) -> Result<Architecture, ModelError> {
    let activation = file.text("activation")?;
    if activation != "relu" {
        return Err(file.invalid(format!(
            "activation {:?} is not supported (only `relu`)",
            Some(activation)
        )));
    }
    let (input, conv) = (
        file.numbers("input", Some(3))?,
        file.numbers("conv", Some(4))?,
    );
    if conv[1] != input[0] || conv[2] != conv[3] {
        return Err(file.invalid(format!(
            "metadata conv `{}` must be filters,channels,size,size with the input's {} channels",
            list(&conv),
            input[0]
        )));
    }
    if input.contains(&0) || conv.contains(&0) {
        return Err(file.invalid("a size of 0 in the metadata"));
    }
    Ok(Architecture {
        input: Shape::new(input[0], input[1], input[2]),
        filters: conv[0],
        filter_size: conv[2],
        stride: file.number("stride")?,
        pad: file.number("pad")?,
        pool: file.number("pool")?,
        hidden: file.number("hidden")?,
        classes: file.number("classes")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::gradient_check::check_network;
    use ch6_mlp::engine::model_file::{self, RawTensors, load, to_bytes};
    use ch6_mlp::engine::step;
    use rand_distr::{Distribution, Normal};
    use safetensors::SafeTensors;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    /// A small SimpleConvNet: 2×8×8 images, 3 filters 3×3 with padding 1, pool 2, hidden 5, 4 classes.
    const SMALL: Architecture = Architecture {
        input: Shape {
            channels: 2,
            height: 8,
            width: 8,
        },
        filters: 3,
        filter_size: 3,
        stride: 1,
        pad: 1,
        pool: 2,
        hidden: 5,
        classes: 4,
    };

    fn batch(n: usize, a: Architecture, seed: u64) -> (DMatrix<f64>, DMatrix<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 1.0).unwrap();
        let x = DMatrix::from_fn(n, a.input.len(), |_, _| normal.sample(&mut rng));
        let labels: Vec<u8> = (0..n).map(|i| (i % a.classes) as u8).collect();
        let mut t = DMatrix::zeros(n, a.classes);
        for (r, &l) in labels.iter().enumerate() {
            t[(r, l as usize)] = 1.0;
        }
        (x, t)
    }

    /// Small nonzero biases, so the biases' gradients are tested away from 0.
    fn with_biases(mut net: SimpleConvNet<f64>) -> SimpleConvNet<f64> {
        net.for_each_param(&mut |p, _| {
            if p.nrows() == 1 {
                p.iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = 0.02 * i as f64 - 0.03);
            }
        });
        net
    }

    #[test]
    fn the_engine_computes_what_stage_3s_plain_layers_compute() {
        let net = SimpleConvNet::<f64>::new(SMALL, Init::He, 3, 1).unwrap();
        let mut net = with_biases(net);
        let mut plain = net.plain_network();
        let (x, t) = batch(6, SMALL, 4);
        net.set_batch(x.clone(), t.clone());
        let loss = net.gradient();
        let plain_loss = plain.gradient(&x, &t);
        assert!((loss - plain_loss).abs() < 1e-12, "{loss} vs {plain_loss}");
        let mut ours = Vec::new();
        net.for_each_param(&mut |_, g| ours.push(g.clone()));
        let mut theirs = Vec::new();
        plain.for_each_param(&mut |_, g| theirs.push(g.clone()));
        assert_eq!(ours.len(), 6);
        for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!((a - b).amax() < 1e-12, "parameter {k}");
        }
    }

    #[test]
    fn every_gradient_of_a_small_conv_net_matches_the_numerical_one_in_f64() {
        // Stage 3's whole-network check on the plain layers (the engine computes the same, above).
        for (a, seed) in [
            (SMALL, 1),
            (
                Architecture {
                    pad: 0,
                    stride: 1,
                    filter_size: 3,
                    input: Shape::new(1, 10, 10),
                    ..SMALL
                },
                2,
            ),
        ] {
            let net = with_biases(SimpleConvNet::<f64>::new(a, Init::He, seed, 1).unwrap());
            let mut plain = net.plain_network();
            let (x, t) = batch(3, a, seed + 10);
            let errors = check_network(&mut plain, &x, &t);
            assert_eq!(errors.len(), 6);
            for (k, e) in errors.iter().enumerate() {
                assert!(
                    *e < 1e-6,
                    "{}: parameter {k}, relative error {e}",
                    a.describe()
                );
            }
        }
    }

    #[test]
    fn the_books_network_has_its_sizes() {
        let a = Architecture::SIMPLE;
        assert_eq!(a.pooled(), Ok(Shape::new(30, 12, 12)));
        // 30·(25 + 1) + (4320 + 1)·100 + (100 + 1)·10
        assert_eq!(a.parameter_count(), Ok(780 + 432_100 + 1_010));
        let net = SimpleConvNet::<f32>::new(a, Init::He, 1, 1).unwrap();
        assert_eq!(net.parameter_count(), 433_890);
        let bad = Architecture {
            filter_size: 29,
            ..a
        };
        assert!(SimpleConvNet::<f32>::new(bad, Init::He, 1, 1).is_err());
        // 24×24 maps do not divide into 5×5 pools.
        let bad = Architecture { pool: 5, ..a };
        assert!(matches!(
            bad.pooled(),
            Err(ShapeError::DoesNotDivide { .. })
        ));
    }

    #[test]
    fn training_lowers_the_loss_on_a_fixed_batch() {
        let a = Architecture {
            hidden: 16,
            ..SMALL
        };
        let mut net = SimpleConvNet::<f32>::new(a, Init::He, 5, 1).unwrap();
        let (x, t) = batch(8, a, 6);
        net.set_batch(x.cast(), t.cast());
        let mut adam = ch6_mlp::OptimizerKind::Adam.build::<f32>(0.01);
        let first = net.gradient();
        step(adam.as_mut(), &mut net);
        let mut last = first;
        for _ in 0..100 {
            last = net.gradient();
            step(adam.as_mut(), &mut net);
        }
        assert!(last < 0.05 * first, "loss {first} → {last}");
    }

    // The model file: `model` and `from_model`, through the engine's `to_bytes` and `load`.

    fn saved_net() -> SimpleConvNet<f32> {
        let mut net = SimpleConvNet::<f32>::new(Architecture::SIMPLE, Init::He, 11, 1).unwrap();
        net.for_each_param(&mut |p, _| {
            if p.nrows() == 1 {
                p.iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = i as f32 * 0.5);
            }
        });
        net
    }

    fn saved(dir: &Path) -> (PathBuf, SimpleConvNet<f32>) {
        let path = dir.join("cnn.safetensors");
        let net = saved_net();
        std::fs::write(&path, to_bytes(&net)).unwrap();
        (path, net)
    }

    fn load_error(path: &Path) -> String {
        match load::<SimpleConvNet<f32>>(path, 1) {
            Ok(_) => panic!("loading {} should fail", path.display()),
            Err(e) => e.to_string(),
        }
    }

    fn rewrite(path: &Path, edit: impl FnOnce(&mut RawTensors, &mut HashMap<String, String>)) {
        model_file::rewrite(path, edit).unwrap();
    }

    #[test]
    fn a_saved_network_loads_back_identical_with_4d_filters() {
        let dir = tempfile::tempdir().unwrap();
        let (path, original) = saved(dir.path());
        let loaded: SimpleConvNet<f32> = load(&path, 1).unwrap();
        assert_eq!(loaded.architecture, Architecture::SIMPLE);
        assert_eq!(loaded.parameters(), original.parameters());
        let bytes = std::fs::read(&path).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let w = file.tensor("conv.weight").unwrap();
        assert_eq!(w.shape(), &[30, 1, 5, 5]);
        // [f, c, i, j] row-major: entry [1, 0, 0, 2] is filter 1's pixel (0, 2).
        let at = |k: usize| f32::from_le_bytes(w.data()[4 * k..4 * k + 4].try_into().unwrap());
        assert_eq!(at(25 + 2), original.conv.filter(1)[0][(0, 2)]);
        let a = file.tensor("affine0.weight").unwrap();
        assert_eq!(a.shape(), &[4320, 100]);
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(header.metadata().as_ref().unwrap()["conv"], "30,1,5,5");
    }

    #[test]
    fn an_mlp_file_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlp.safetensors");
        let mlp = ch6_mlp::Mlp::<f32>::new(&[784, 8, 10], Init::He, 1, 1);
        std::fs::write(&path, to_bytes(&mlp)).unwrap();
        let msg = load_error(&path);
        assert!(
            msg.contains("mlp.safetensors") && msg.contains("MLP (ch6-mlp)"),
            "{msg}"
        );
    }

    #[test]
    fn corrupted_files_wrong_shapes_and_bad_metadata_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert!(load_error(&path).contains("not a valid safetensors file"));
        assert!(load_error(&dir.path().join("none.safetensors")).contains("cannot read"));

        let (path, _) = saved(dir.path());
        rewrite(&path, |_, meta| {
            meta.insert("conv".into(), "20,1,5,5".into());
        });
        let msg = load_error(&path);
        assert!(
            msg.contains("conv.weight")
                && msg.contains("[30, 1, 5, 5]")
                && msg.contains("[20, 1, 5, 5]"),
            "{msg}"
        );

        let (path, _) = saved(dir.path());
        rewrite(&path, |_, meta| {
            meta.insert("stride".into(), "0".into());
        });
        assert!(load_error(&path).contains("stride 0"));

        let (path, _) = saved(dir.path());
        rewrite(&path, |_, meta| {
            meta.insert("input".into(), "1,28".into());
        });
        assert!(load_error(&path).contains("should have 3 numbers"));

        let (path, _) = saved(dir.path());
        rewrite(&path, |tensors, _| {
            tensors.retain(|t| t.0 != "affine1.bias")
        });
        assert!(load_error(&path).contains("`affine1.bias` is missing"));

        let (path, _) = saved(dir.path());
        rewrite(&path, |tensors, _| {
            let w = tensors.iter_mut().find(|t| t.0 == "conv.weight").unwrap();
            w.3[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
        });
        assert!(load_error(&path).contains("NaN"));
    }

    #[test]
    fn metadata_at_the_limits_of_its_numbers_is_refused_before_it_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let huge = u64::MAX.to_string();
        let cases = [
            ("pad", huge.clone()),
            ("stride", huge.clone()),
            ("pool", huge.clone()),
            ("hidden", huge.clone()),
            ("classes", huge.clone()),
            ("conv", format!("30,1,{huge},{huge}")),
            ("conv", format!("{huge},1,5,5")),
            ("input", format!("1,{huge},{huge}")),
            ("pad", "4294967296".into()),
            ("conv", "30,1,4294967296,4294967296".into()),
        ];
        for (key, value) in cases {
            let (path, _) = saved(dir.path());
            rewrite(&path, |_, meta| {
                meta.insert(key.into(), value.clone());
            });
            let msg = load_error(&path);
            assert!(msg.contains("cnn.safetensors"), "{key} = {value}: {msg}");
            assert!(msg.len() < 400, "a short message: {msg}");
        }
    }
}
