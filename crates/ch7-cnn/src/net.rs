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
use ch6_mlp::dense::{Dense, Kernel, resize_buffer};
use ch6_mlp::init::Init;
use ch6_mlp::mlp::{relu, relu_backward, softmax_cross_entropy};
use ch6_mlp::optim::Optimizer;
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
        SimpleConvNet::from_parameters(a, params, Kernel::Gemm { threads })
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
        let (n, k) = self.probabilities.shape();
        resize_buffer(&mut self.dscores, n, k);
        let batch: T = nalgebra::convert(n as f64);
        let pairs = self.probabilities.iter().zip(self.t.iter());
        for (d, (&y, &t)) in self.dscores.iter_mut().zip(pairs) {
            *d = (y - t) / batch;
        }
        let d = self.output.backward(&self.hidden.y, &self.dscores);
        relu_backward(d, &self.hidden.y);
        let d = self.hidden.backward(&self.pool.y, &self.output.dx);
        let d = self.pool.backward(d);
        relu_backward(d, &self.conv.y);
        self.conv.backward_params(&self.pool.dx);
        loss
    }
    // ANCHOR_END: gradient

    /// One training step on the images at `indices`: forward, backward, and
    /// one update of every parameter by `optimizer`. Returns the batch's loss.
    pub fn train_step(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        optimizer: &mut dyn Optimizer<T>,
    ) -> T
    where
        T: From<u8>,
    {
        self.load_batch(data, indices);
        self.learn(optimizer)
    }

    /// One training step on the current batch: forward, backward, one update.
    pub fn learn(&mut self, optimizer: &mut dyn Optimizer<T>) -> T {
        let loss = self.gradient();
        step(optimizer, self);
        loss
    }

    /// The predicted digit of every image of `data`, in chunks of 500.
    pub fn predictions(&mut self, data: &Dataset) -> Vec<u8>
    where
        T: From<u8>,
    {
        let mut out = Vec::with_capacity(data.len());
        for start in (0..data.len()).step_by(500) {
            let chunk: Vec<usize> = (start..(start + 500).min(data.len())).collect();
            self.load_batch(data, &chunk);
            out.extend(mnist::predictions(self.forward()));
        }
        out
    }

    /// The fraction of `data` classified right.
    pub fn accuracy(&mut self, data: &Dataset) -> f64
    where
        T: From<u8>,
    {
        mnist::fraction_correct(&self.predictions(data), data.labels())
    }

    /// The softmax probabilities of the classes for image `i` of `data`.
    pub fn probabilities(&mut self, data: &Dataset, i: usize) -> Vec<f64>
    where
        T: From<u8>,
    {
        self.load_batch(data, &[i]);
        let scores = self.forward().map(ch5_backprop::train::to_f64);
        ch5_backprop::softmax(&scores).iter().copied().collect()
    }

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

// ANCHOR: step
/// One update of every parameter of `net` by `optimizer`, from the gradients
/// of the last backward pass (stage 4's `optim::step`, for this network).
pub fn step<T: RealField + Copy>(optimizer: &mut dyn Optimizer<T>, net: &mut SimpleConvNet<T>) {
    optimizer.start_step();
    let mut slot = 0;
    net.for_each_param(&mut |param, grad| {
        optimizer.update(slot, param.as_mut_slice(), grad.as_slice());
        slot += 1;
    });
}
// ANCHOR_END: step

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::gradient_check::check_network;
    use rand_distr::{Distribution, Normal};

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
        let mut adam = ch6_mlp::optim::OptimizerKind::Adam.build::<f32>(0.01);
        let first = net.gradient();
        step(adam.as_mut(), &mut net);
        let mut last = first;
        for _ in 0..100 {
            last = net.gradient();
            step(adam.as_mut(), &mut net);
        }
        assert!(last < 0.05 * first, "loss {first} → {last}");
    }
}
