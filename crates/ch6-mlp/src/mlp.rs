//! # The multi-layer perceptron, fed whole mini-batches
//!
//! Stage 4 of the course (chapter 6). The network is stage 3's
//! [`Network`]: `Dense → ReLU → … → Dense → SoftmaxWithLoss`, the ReLU and
//! the loss (softmax and cross-entropy from the logits, by log-sum-exp) taken
//! as they are, the affine layers swapped for [`Dense`], which computes the
//! same thing on a faster matrix product. [`Mlp`] adds what training on
//! MNIST needs around it: the layer sizes, and input and target buffers that
//! a mini-batch is copied into, so that a training step allocates nothing.

use ch5_backprop::{Layer, Network, Relu, SoftmaxWithLoss};
use mnist::{CLASSES, Dataset, IMAGE_SIZE};
use nalgebra::{DMatrix, RealField};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::dense::Dense;
use crate::init::Init;
use crate::optim::{self, Optimizer};

// ANCHOR: mlp
/// A ReLU network of `sizes` (`[784, 100, 200, 10]`: two hidden layers),
/// trained with softmax cross-entropy.
pub struct Mlp<T: RealField + Copy> {
    /// Units per layer, input first, classes last.
    pub sizes: Vec<usize>,
    /// `Dense, ReLU, Dense, ReLU, …, Dense` and `SoftmaxWithLoss`.
    pub network: Network<T>,
    /// The current mini-batch: `x: batch × 784` (pixels / 255), `t: batch × 10` one-hot.
    x: DMatrix<T>,
    t: DMatrix<T>,
    /// `pixel[p] = p / 255`, so a batch is filled by lookup.
    pixel: [T; 256],
}
// ANCHOR_END: mlp

impl<T: RealField + Copy> Mlp<T> {
    /// A fresh network: weights drawn by `init` from `seed`, biases 0. Its
    /// products may use `threads` threads when they are large.
    pub fn new(sizes: &[usize], init: Init, seed: u64, threads: usize) -> Mlp<T> {
        let mut rng = StdRng::seed_from_u64(seed);
        let params = sizes
            .windows(2)
            .map(|pair| {
                (
                    init.weights(pair[0], pair[1], &mut rng),
                    DMatrix::zeros(1, pair[1]),
                )
            })
            .collect();
        Mlp::from_parameters(sizes, params, threads)
    }

    /// A network with the given weights and biases, `(W, b)` per layer
    /// (`W: n_in × n_out`, `b: 1 × n_out`, sizes following `sizes`).
    pub fn from_parameters(
        sizes: &[usize],
        params: Vec<(DMatrix<T>, DMatrix<T>)>,
        threads: usize,
    ) -> Mlp<T> {
        assert!(
            sizes.len() >= 2,
            "a network needs an input and an output size"
        );
        assert_eq!(params.len(), sizes.len() - 1, "one (W, b) per layer");
        let last = params.len() - 1;
        let mut layers: Vec<Box<dyn Layer<T>>> = Vec::new();
        for (i, (w, b)) in params.into_iter().enumerate() {
            assert_eq!(w.shape(), (sizes[i], sizes[i + 1]), "W of layer {i}");
            let mut dense = Dense::from_parameters(w, b);
            dense.threads = threads;
            layers.push(Box::new(dense));
            // ReLU between layers; the last layer's output is the logits.
            if i < last {
                layers.push(Box::new(Relu::new()));
            }
        }
        Mlp {
            sizes: sizes.to_vec(),
            network: Network::new(layers, Box::new(SoftmaxWithLoss::new())),
            x: DMatrix::zeros(0, sizes[0]),
            t: DMatrix::zeros(0, sizes[sizes.len() - 1]),
            pixel: std::array::from_fn(|p| nalgebra::convert(p as f64 / 255.0)),
        }
    }

    /// `784-100-200-10 ReLU`.
    pub fn describe(&self) -> String {
        let sizes: Vec<String> = self.sizes.iter().map(usize::to_string).collect();
        format!("{} ReLU", sizes.join("-"))
    }

    /// Number of trainable numbers.
    pub fn parameter_count(&self) -> usize {
        self.network.parameter_count()
    }

    /// Copies of `(W, b)` for each layer.
    pub fn parameters(&mut self) -> Vec<(DMatrix<T>, DMatrix<T>)> {
        let mut flat = Vec::new();
        self.network
            .for_each_param(&mut |p, _| flat.push(p.clone()));
        let mut pairs = Vec::new();
        let mut it = flat.into_iter();
        while let (Some(w), Some(b)) = (it.next(), it.next()) {
            pairs.push((w, b));
        }
        pairs
    }

    // ANCHOR: load_batch
    /// Copies the images and labels at `indices` of `data` into the batch
    /// buffers `x: batch × 784` and `t: batch × 10` (allocating only when the
    /// batch size changes).
    pub fn load_batch(&mut self, data: &Dataset, indices: &[usize]) {
        let n = indices.len();
        if self.x.nrows() != n {
            self.x = DMatrix::zeros(n, IMAGE_SIZE);
            self.t = DMatrix::zeros(n, CLASSES);
        }
        // Column-major: entry (row r, pixel c) lives at c·n + r. Eight images at
        // a time, so each pixel column is written in runs of eight neighbours
        // rather than one number per cache line.
        // (Fixed-size arrays let the compiler drop the bounds checks.)
        let x = self.x.as_mut_slice();
        for (block, rows) in indices.chunks(8).enumerate() {
            let images: [&[u8; IMAGE_SIZE]; 8] = std::array::from_fn(|k| {
                let image = data.image(rows[k.min(rows.len() - 1)]);
                image.try_into().expect("784 pixels per image")
            });
            let r0 = 8 * block;
            for c in 0..IMAGE_SIZE {
                let run = &mut x[c * n + r0..c * n + r0 + rows.len()];
                for (v, image) in run.iter_mut().zip(&images) {
                    *v = self.pixel[image[c] as usize];
                }
            }
        }
        self.t.fill(T::zero());
        for (r, &i) in indices.iter().enumerate() {
            self.t[(r, data.labels()[i] as usize)] = T::one();
        }
    }
    // ANCHOR_END: load_batch

    // ANCHOR: train_step
    /// One training step on the images at `indices`: forward, loss, backward,
    /// and one update by `optimizer`. Returns the batch's mean loss.
    pub fn train_step(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        optimizer: &mut dyn Optimizer<T>,
    ) -> T {
        self.load_batch(data, indices);
        let loss = self.network.gradient(&self.x, &self.t);
        optim::step(optimizer, &mut self.network);
        loss
    }
    // ANCHOR_END: train_step

    /// The predicted digit of every image of `data`, in chunks of 1,000.
    pub fn predictions(&mut self, data: &Dataset) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len());
        for start in (0..data.len()).step_by(1000) {
            let chunk: Vec<usize> = (start..(start + 1000).min(data.len())).collect();
            self.load_batch(data, &chunk);
            let y = self.network.predict(&self.x);
            out.extend((0..y.nrows()).map(|n| ch5_backprop::network::argmax_row(y, n) as u8));
        }
        out
    }

    /// The fraction of `data` classified right.
    pub fn accuracy(&mut self, data: &Dataset) -> f64 {
        let predicted = self.predictions(data);
        let right = predicted
            .iter()
            .zip(data.labels())
            .filter(|(p, l)| p == l)
            .count();
        right as f64 / data.len().max(1) as f64
    }

    /// The softmax probabilities of the 10 digits for image `i` of `data`.
    pub fn probabilities(&mut self, data: &Dataset, i: usize) -> Vec<f64> {
        self.load_batch(data, &[i]);
        let logits: Vec<f64> = self
            .network
            .predict(&self.x)
            .iter()
            .map(|&z| to_f64(z))
            .collect();
        softmax(&logits)
    }
}

// ANCHOR: softmax
/// `softmax(z)_i = exp(z_i − m) / Σ_j exp(z_j − m)` with `m = max z`:
/// subtracting the maximum changes nothing mathematically and keeps `exp` from overflowing.
pub fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f64> = z.iter().map(|&v| (v - m).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}
// ANCHOR_END: softmax

/// A scalar of the network as an `f64`, for reporting.
pub fn to_f64<T: RealField + Copy>(x: T) -> f64 {
    nalgebra::try_convert::<T, f64>(x).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::gradient_check::check_network;
    use rand_distr::{Distribution, Normal};

    /// `n` made-up images with pixels 0–255 and labels 0–9.
    fn made_up(n: usize, seed: u64) -> Dataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(128.0, 60.0).unwrap();
        let pixels = (0..n * IMAGE_SIZE)
            .map(|_| normal.sample(&mut rng).clamp(0.0, 255.0) as u8)
            .collect();
        let labels = (0..n).map(|i| (i * 7 % 10) as u8).collect();
        Dataset::from_parts(pixels, labels)
    }

    #[test]
    fn every_gradient_of_a_small_mlp_matches_the_numerical_one_in_f64() {
        // The very code that trains in f32, run in f64 and checked against
        // central differences: W1, b1, W2, b2, W3, b3 of 784-6-5-10.
        let data = made_up(4, 1);
        for init in [Init::Xavier, Init::XavierUniform, Init::He] {
            let mut mlp = Mlp::<f64>::new(&[784, 6, 5, 10], init, 3, 1);
            // Non-zero biases, so their gradients are tested away from 0 too.
            mlp.network.for_each_param(&mut |p, _| {
                if p.nrows() == 1 {
                    p.iter_mut()
                        .enumerate()
                        .for_each(|(i, b)| *b = 0.01 * i as f64);
                }
            });
            mlp.load_batch(&data, &[0, 1, 2, 3]);
            let (x, t) = (mlp.x.clone(), mlp.t.clone());
            let errors = check_network(&mut mlp.network, &x, &t);
            assert_eq!(errors.len(), 6);
            for (k, e) in errors.iter().enumerate() {
                assert!(*e < 1e-6, "{init}: parameter {k} relative error {e}");
            }
        }
    }

    #[test]
    fn batches_hold_scaled_pixels_and_one_hot_labels() {
        let data = made_up(5, 2);
        let mut mlp = Mlp::<f32>::new(&[784, 3, 10], Init::He, 1, 1);
        mlp.load_batch(&data, &[4, 0]);
        assert_eq!(mlp.x.shape(), (2, 784));
        assert_eq!(mlp.x[(0, 10)], data.image(4)[10] as f32 / 255.0);
        assert_eq!(mlp.x[(1, 783)], data.image(0)[783] as f32 / 255.0);
        assert_eq!(mlp.t.row(0).sum(), 1.0);
        assert_eq!(mlp.t[(0, data.labels()[4] as usize)], 1.0);
    }

    #[test]
    fn f32_and_f64_networks_from_one_seed_agree() {
        let data = made_up(8, 3);
        let mut a = Mlp::<f32>::new(&[784, 20, 10], Init::He, 5, 1);
        let mut b = Mlp::<f64>::new(&[784, 20, 10], Init::He, 5, 1);
        let mut oa = crate::optim::OptimizerKind::Adam.build::<f32>(0.01);
        let mut ob = crate::optim::OptimizerKind::Adam.build::<f64>(0.01);
        let batch: Vec<usize> = (0..8).collect();
        for _ in 0..5 {
            let (la, lb) = (
                a.train_step(&data, &batch, oa.as_mut()),
                b.train_step(&data, &batch, ob.as_mut()),
            );
            assert!(
                (la as f64 - lb).abs() < 1e-4 * lb.abs().max(1.0),
                "{la} vs {lb}"
            );
        }
        let (pa, pb) = (a.probabilities(&data, 0), b.probabilities(&data, 0));
        assert!((pa.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        for (x, y) in pa.iter().zip(&pb) {
            assert!((x - y).abs() < 1e-3);
        }
    }

    #[test]
    fn training_lowers_the_loss_on_a_fixed_batch() {
        let data = made_up(16, 4);
        let mut mlp = Mlp::<f32>::new(&[784, 32, 10], Init::He, 9, 1);
        let mut sgd = crate::optim::OptimizerKind::Sgd.build::<f32>(0.1);
        let batch: Vec<usize> = (0..16).collect();
        let first = mlp.train_step(&data, &batch, sgd.as_mut());
        let mut last = first;
        for _ in 0..50 {
            last = mlp.train_step(&data, &batch, sgd.as_mut());
        }
        assert!(last < 0.1 * first, "loss {first} → {last}");
        assert_eq!(mlp.accuracy(&data), 1.0, "16 images can be learnt by heart");
    }

    #[test]
    fn softmax_of_huge_logits_stays_finite() {
        let p = softmax(&[1000.0, 1000.0, -1000.0]);
        assert_eq!(p, vec![0.5, 0.5, 0.0]);
    }
}
